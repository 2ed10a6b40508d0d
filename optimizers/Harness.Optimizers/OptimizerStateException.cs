namespace Harness.Optimizers;

/// <summary>A state dict that does not fit the optimizer it is loaded into (kind, parameter names or shapes).</summary>
public sealed class OptimizerStateException(string message) : Exception(message);
