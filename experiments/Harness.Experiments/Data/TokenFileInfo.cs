namespace Harness.Experiments.Data;

/// <summary>What a token file records about itself: the tokenizer, its vocabulary size and a hash of the source it was built from.</summary>
public sealed record TokenFileInfo(string Tokenizer, int VocabSize, string SourceHash);
