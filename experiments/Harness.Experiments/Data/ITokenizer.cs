namespace Harness.Experiments.Data;

/// <summary>Text to token ids and back.</summary>
public interface ITokenizer
{
    /// <summary>The name used in configs (<c>byte</c>, <c>gpt2</c>).</summary>
    string Name { get; }

    /// <summary>Number of distinct ids; every id is in [0, VocabSize).</summary>
    int VocabSize { get; }

    /// <summary>The id that separates documents (GPT-2's <c>&lt;|endoftext|&gt;</c>); null when the tokenizer has none.</summary>
    int? EndOfText { get; }

    int[] Encode(string text);

    string Decode(IEnumerable<int> ids);
}
