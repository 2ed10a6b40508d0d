using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>Pairs every parameter of a model with the role its owning module declares (structure, never name patterns).</summary>
internal static class ParameterRoles
{
    /// <summary>
    /// Every parameter in <c>named_parameters()</c> order. Call it again after moving a model: moving
    /// replaces the parameter objects.
    /// </summary>
    public static IReadOnlyList<NamedParameter> Collect(nn.Module model)
    {
        var owners = model.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        var result = new List<NamedParameter>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var dot = name.LastIndexOf('.');
            var ownerName = dot < 0 ? "" : name[..dot];
            var local = name[(dot + 1)..];
            var owner = owners.GetValueOrDefault(ownerName);
            var role = owner switch
            {
                IHasParamRoles many => many.RoleOf(local),
                IHasParamRole one => one.Role,
                _ => throw new InvalidOperationException($"parameter '{name}' belongs to a module without a role"),
            };
            result.Add(new NamedParameter(name, parameter, role)
            {
                FullPrecisionState = owner is IFullPrecisionState { FullPrecisionState: true },
                Quantized = owner is IQuantizedWeightOwner { Quantized: { } q } && local == "weight" ? q : null,
            });
        }
        return result;
    }
}
