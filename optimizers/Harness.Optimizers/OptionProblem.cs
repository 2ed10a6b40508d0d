namespace Harness.Optimizers;

/// <summary>One invalid option: the YAML key at fault (e.g. <c>betas[1]</c>) and what is wrong with it.</summary>
public sealed record OptionProblem(string Key, string Message);
