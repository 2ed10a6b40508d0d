using Harness.Experiments.Models;
using Harness.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Core.Memory;

/// <summary>
/// Parameters with a model's shapes, dtypes and roles on the <c>meta</c> device: tensors with no storage, so the
/// catalog's closed-form state formulas (which read only shape, dtype, size and role) size a 7B model in
/// milliseconds without allocating it. Create them inside a dispose scope.
/// </summary>
public static class ShapeParameters
{
    /// <summary>The device whose tensors have shapes but no storage.</summary>
    public static Device Meta { get; } = new(DeviceType.META);

    /// <summary>One storage-less parameter per shape, in order.</summary>
    public static IReadOnlyList<NamedParameter> Create(IReadOnlyList<ParameterShape> shapes, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(shapes);
        return shapes.Select(s => new NamedParameter(s.Name, new Parameter(empty([.. s.Shape], dtype, Meta)), s.Role)).ToList();
    }
}
