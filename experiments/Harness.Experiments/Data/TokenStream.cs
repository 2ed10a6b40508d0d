namespace Harness.Experiments.Data;

/// <summary>
/// The tokens of a corpus, split by position: training is the head, validation the tail, and the tail is
/// a whole number of windows (a window is seq_len + 1 tokens: inputs plus the shifted target). Keeping
/// the split by position, not by sampled window, means no validation token is ever trained on.
/// The tokens live either in an array or in a memory-mapped <see cref="TokenFile"/> (which the stream then owns).
/// A token file that records a validation start (a corpus held out by document, e.g. <c>prose-docs</c>) is split
/// there instead: training is everything before it, validation the whole windows at the end of the held-out
/// documents, and <c>val_fraction</c> does not apply.
/// </summary>
public sealed class TokenStream : IDisposable
{
    private readonly int[]? tokens;
    private readonly TokenFile? file;

    /// <param name="tokens">Token ids, each in [0, <paramref name="vocabSize"/>).</param>
    /// <param name="vocabSize">The tokenizer's vocabulary size.</param>
    /// <param name="valFraction">Fraction of the tokens held out at the end (rounded down to whole windows).</param>
    /// <param name="window">Tokens per training example (seq_len + 1).</param>
    /// <exception cref="ArgumentException">A split is too short for one window.</exception>
    public TokenStream(int[] tokens, int vocabSize, double valFraction, int window)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        (TrainLength, ValidationLength) = SplitLengths(tokens.Length, vocabSize, valFraction, window);
        this.tokens = tokens;
        Count = tokens.Length;
        VocabSize = vocabSize;
        Window = window;
    }

    /// <summary>Splits a memory-mapped token file; the stream owns and disposes it.</summary>
    /// <exception cref="ArgumentException">A split is too short for one window, or the file exceeds 2^31 tokens.</exception>
    public TokenStream(TokenFile file, int vocabSize, double valFraction, int window)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (file.Count > int.MaxValue)
            throw new ArgumentException($"{file.FilePath}: {file.Count} tokens is more than this harness indexes (2^31 - 1)", nameof(file));
        (TrainLength, ValidationLength) = file.Info?.ValidationStart is { } start
            ? SplitAtDocuments((int)file.Count, start, vocabSize, window)
            : SplitLengths((int)file.Count, vocabSize, valFraction, window);
        this.file = file;
        Count = (int)file.Count;
        VocabSize = vocabSize;
        Window = window;
    }

    /// <summary>Train [0, start); validation the last whole windows of [start, count). A gap between them is never read.</summary>
    private static (int Train, int Validation) SplitAtDocuments(int count, int start, int vocabSize, int window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 2);
        var validation = (count - start) / window * window;
        if (validation < window)
            throw new ArgumentException($"the held-out documents ({count - start} tokens) are shorter than one window of {window} tokens (seq_len + 1)", nameof(window));
        if (start < window)
            throw new ArgumentException($"the training documents ({start} tokens) are shorter than one window of {window} tokens (seq_len + 1)", nameof(window));
        return (start, validation);
    }

    private static (int Train, int Validation) SplitLengths(int count, int vocabSize, double valFraction, int window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 2);
        if (!(valFraction > 0 && valFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(valFraction), $"must be in (0, 1) (got {valFraction:R})");
        long validationWindows = (long)Math.Floor(count * valFraction / window);
        if (validationWindows < 1)
            throw new ArgumentException(
                $"the validation split ({valFraction:R} of {count} tokens = {count * valFraction:F0}) is shorter than one window of " +
                $"{window} tokens (seq_len + 1); raise val_fraction, lower seq_len or use a longer corpus", nameof(valFraction));
        var validation = checked((int)(validationWindows * window));
        var train = count - validation;
        if (train < window)
            throw new ArgumentException(
                $"the training split ({train} tokens) is shorter than one window of {window} tokens (seq_len + 1)", nameof(valFraction));
        return (train, validation);
    }

    /// <summary>Tokenizes <paramref name="text"/> and splits it.</summary>
    public static TokenStream Encode(string text, ITokenizer tokenizer, double valFraction, int window)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return new TokenStream(tokenizer.Encode(text), tokenizer.VocabSize, valFraction, window);
    }

    public int VocabSize { get; }

    /// <summary>Tokens per example: seq_len + 1.</summary>
    public int Window { get; }

    public int Count { get; }

    /// <summary>The token file behind the stream, if any.</summary>
    public TokenFile? File => file;

    /// <summary>Training tokens are [0, TrainLength).</summary>
    public int TrainLength { get; }

    /// <summary>Validation tokens are [ValidationStart, Count): right after training, or at the end of held-out documents.</summary>
    public int ValidationStart => Count - ValidationLength;

    public int ValidationLength { get; }

    /// <summary>Every token, for array-backed streams (a mapped file is read window by window with <see cref="CopyWindow"/>).</summary>
    public ReadOnlySpan<int> All => Array();

    public ReadOnlySpan<int> Train => Array().AsSpan(0, TrainLength);

    public ReadOnlySpan<int> Validation => Array().AsSpan(ValidationStart, ValidationLength);

    private int[] Array() => tokens
        ?? throw new InvalidOperationException($"the tokens of {file!.FilePath} are memory-mapped; read them with CopyWindow");

    /// <summary>Copies the tokens [start, start + destination.Length) as int64 ids.</summary>
    public void CopyWindow(long start, Span<long> destination)
    {
        if (tokens is not null)
        {
            var source = tokens.AsSpan(checked((int)start), destination.Length);
            for (var i = 0; i < source.Length; i++) destination[i] = source[i];
            return;
        }
        Span<ushort> buffer = destination.Length <= 4096 ? stackalloc ushort[destination.Length] : new ushort[destination.Length];
        file!.CopyTo(start, buffer);
        for (var i = 0; i < buffer.Length; i++) destination[i] = buffer[i];
    }

    public void Dispose() => file?.Dispose();
}
