namespace Harness.Experiments.Data;

/// <summary>
/// The tokens of a corpus, split by position: training is the head, validation the tail, and the tail is
/// a whole number of windows (a window is seq_len + 1 tokens: inputs plus the shifted target). Keeping
/// the split by position, not by sampled window, means no validation token is ever trained on.
/// </summary>
public sealed class TokenStream
{
    private readonly int[] tokens;

    /// <param name="tokens">Token ids, each in [0, <paramref name="vocabSize"/>).</param>
    /// <param name="vocabSize">The tokenizer's vocabulary size.</param>
    /// <param name="valFraction">Fraction of the tokens held out at the end (rounded down to whole windows).</param>
    /// <param name="window">Tokens per training example (seq_len + 1).</param>
    /// <exception cref="ArgumentException">A split is too short for one window.</exception>
    public TokenStream(int[] tokens, int vocabSize, double valFraction, int window)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 2);
        if (!(valFraction > 0 && valFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(valFraction), $"must be in (0, 1) (got {valFraction:R})");
        long validationWindows = (long)Math.Floor(tokens.Length * valFraction / window);
        if (validationWindows < 1)
            throw new ArgumentException(
                $"the validation split ({valFraction:R} of {tokens.Length} tokens = {tokens.Length * valFraction:F0}) is shorter than one window of " +
                $"{window} tokens (seq_len + 1); raise val_fraction, lower seq_len or use a longer corpus", nameof(valFraction));
        ValidationLength = checked((int)(validationWindows * window));
        TrainLength = tokens.Length - ValidationLength;
        if (TrainLength < window)
            throw new ArgumentException(
                $"the training split ({TrainLength} tokens) is shorter than one window of {window} tokens (seq_len + 1)", nameof(valFraction));
        this.tokens = tokens;
        VocabSize = vocabSize;
        Window = window;
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

    public int Count => tokens.Length;

    /// <summary>Training tokens are [0, TrainLength).</summary>
    public int TrainLength { get; }

    /// <summary>Validation tokens are [ValidationStart, Count).</summary>
    public int ValidationStart => TrainLength;

    public int ValidationLength { get; }

    public ReadOnlySpan<int> All => tokens;

    public ReadOnlySpan<int> Train => tokens.AsSpan(0, TrainLength);

    public ReadOnlySpan<int> Validation => tokens.AsSpan(TrainLength, ValidationLength);
}
