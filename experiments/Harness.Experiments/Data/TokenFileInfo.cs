namespace Harness.Experiments.Data;

/// <summary>
/// What a token file records about itself: the tokenizer, its vocabulary size, a hash of the source it was built
/// from, and, for corpora held out by document, where the validation documents begin (null: split by val_fraction).
/// </summary>
public sealed record TokenFileInfo(string Tokenizer, int VocabSize, string SourceHash, int? ValidationStart = null);
