using Harness.Experiments.Data;
using Harness.Optimizers;

namespace Harness.Experiments.Workloads;

/// <summary>
/// The embedding rows of a language model: <c>workload.vocab_size</c> when set (the papers' 32,000 or 32,100, so
/// a model has the paper's exact shape whatever tokenizer trains it), else the tokenizer's vocabulary. The data
/// pipeline never changes with it; ids at or above the tokenizer's vocabulary simply never occur.
/// </summary>
public static class ModelVocabulary
{
    /// <summary>The problems of a <c>vocab_size</c> setting that are known from the config alone (built-in tokenizers).</summary>
    public static IEnumerable<OptionProblem> Validate(int? vocabSize, TextDataSpec data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (vocabSize is not { } v) yield break;
        if (v < 1) yield return new("vocab_size", $"must be >= 1 (got {v})");
        else if (TokenizerCatalog.KnownVocabSize(data.Tokenizer) is { } ids && v < ids)
            yield return new("vocab_size", Uncovered(v, data.Tokenizer, ids));
    }

    /// <summary>The rows for training on <paramref name="tokenizerIds"/> ids; a <see cref="DataException"/> when vocab_size leaves ids out.</summary>
    public static int ForTraining(int? vocabSize, string tokenizer, int tokenizerIds) =>
        vocabSize is { } v && v < tokenizerIds ? throw new DataException(tokenizer, Uncovered(v, tokenizer, tokenizerIds)) : vocabSize ?? tokenizerIds;

    /// <summary>The rows for planning from the config alone: vocab_size, else a built-in tokenizer's vocabulary.</summary>
    /// <exception cref="ArgumentException">Neither is known (a tokenizer read from a file).</exception>
    public static int ForPlanning(int? vocabSize, TextDataSpec data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return vocabSize ?? TokenizerCatalog.KnownVocabSize(data.Tokenizer)
            ?? throw new ArgumentException($"the vocabulary of tokenizer '{data.Tokenizer}' is known only from its file; set workload.vocab_size");
    }

    private static string Uncovered(int vocabSize, string tokenizer, int ids) =>
        $"vocab_size {vocabSize} does not cover tokenizer '{tokenizer}' ({ids} ids); it must be at least {ids}";
}
