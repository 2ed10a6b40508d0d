using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>The gradient of rows [RowStart, RowStart + Gradient.shape[0]) of a parameter (dimension 0).</summary>
public readonly record struct GradientSlab(long RowStart, Tensor Gradient);
