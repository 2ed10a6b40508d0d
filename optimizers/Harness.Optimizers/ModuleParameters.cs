using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>
/// The <see cref="NamedParameter"/>s of any TorchSharp <see cref="nn.Module"/>, with roles by module type and shape,
/// so a plain training loop can use any optimizer here:
/// <code>
/// var optimizer = new GaLore.GaLore(ModuleParameters.From(model), new GaLore.GaLoreOptions { Rank = 64 });
/// </code>
/// Rules, in order: the <c>roleOf</c> override where it answers; an <c>nn.Embedding</c>'s table is
/// <see cref="ParamRole.Embedding"/>; a 2-D weight of an <c>nn.Linear</c> with as many rows as an embedding of the
/// model has entries (a language model's head) is <see cref="ParamRole.OutputHead"/>; any other 2-D parameter is a
/// <see cref="ParamRole.Matrix"/> (what the low-rank methods project); every other one (biases, norm gains, scalars,
/// and conv kernels, which no method here projects) is a <see cref="ParamRole.Vector"/>, updated element-wise.
/// Only trainable parameters are listed, each once (a head tied to its embedding keeps the embedding's name and role).
/// </summary>
public static class ModuleParameters
{
    /// <summary>
    /// Every trainable parameter of <paramref name="module"/> in <c>named_parameters()</c> order with its role;
    /// <paramref name="roleOf"/> (full name, parameter) may decide any of them, returning null to keep the rule.
    /// Call it again after moving the module to another device or dtype: moving replaces the parameter objects.
    /// </summary>
    public static IReadOnlyList<NamedParameter> From(nn.Module module, Func<string, Parameter, ParamRole?>? roleOf = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        var owners = module.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        var vocabularies = owners.Values.OfType<Embedding>().Select(e => e.weight!.shape[0]).ToHashSet();
        var seen = new HashSet<IntPtr>();
        var result = new List<NamedParameter>();
        foreach (var (name, parameter) in module.named_parameters())
        {
            if (!parameter.requires_grad || !seen.Add(parameter.Handle)) continue;
            var dot = name.LastIndexOf('.');
            var owner = owners.GetValueOrDefault(dot < 0 ? "" : name[..dot]);
            var role = roleOf?.Invoke(name, parameter) ?? (owner, parameter.dim()) switch
            {
                (Embedding, _) => ParamRole.Embedding,
                (Linear, 2) when vocabularies.Contains(parameter.shape[0]) => ParamRole.OutputHead,
                (_, 2) => ParamRole.Matrix,
                _ => ParamRole.Vector,
            };
            result.Add(new NamedParameter(name, parameter, role));
        }
        return result;
    }
}
