namespace Harness.Experiments.Data.Preparation;

/// <summary>One document of a prepared corpus: the source it came from (e.g. <c>sotu</c>), its name there (a file name, a title) and its text.</summary>
public sealed record SourceDocument(string Source, string Name, string Text);
