namespace Harness.Experiments.Data;

/// <summary>A built-in text corpus: where it comes from and under what terms, and the resource that holds it.</summary>
public sealed record CorpusInfo(string Name, string Description, string Licence, string Source, string ResourceName);
