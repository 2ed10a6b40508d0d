using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>A layer that multiplies in its own compute dtype under <c>training.dtype: mixed</c> (see <see cref="MixedPrecision"/>).</summary>
internal interface IComputeDType
{
    /// <summary>The matmul dtype (bf16 under mixed); null: the weight's dtype.</summary>
    ScalarType? ComputeDType { get; set; }
}
