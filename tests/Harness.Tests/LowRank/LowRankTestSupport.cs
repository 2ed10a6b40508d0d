using Harness.Core.Traces;
using Harness.Optimizers;
using Harness.Tests.Golden;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.LowRank;

/// <summary>Parameters shaped like the golden tiny LLaMA, and a checkpoint round-trip driver.</summary>
internal static class LowRankTestSupport
{
    /// <summary>The golden case's tiny LLaMA (d 48, ff 128, 2 layers): its low-rank targets are Matrix-role.</summary>
    public static List<NamedParameter> TinyLlama(ulong seed)
    {
        var manifest = GoldenManifest.Load(GoldenPaths.CaseAManifest);
        var lowRank = manifest.LowRankTargets.ToHashSet(StringComparer.Ordinal);
        var gen = new Generator(seed);
        return manifest.Params.Select(p => new NamedParameter(p.Name,
            new Parameter(randn(p.Shape.ToArray(), generator: gen), requires_grad: true),
            lowRank.Contains(p.Name) ? ParamRole.Matrix : p.Name.Contains("embed") ? ParamRole.Embedding : ParamRole.Vector)).ToList();
    }

    public static void Feed(IOptimizer optimizer, IReadOnlyList<NamedParameter> ps, IReadOnlyList<Tensor> grads, double lr)
    {
        for (var i = 0; i < ps.Count; i++) ps[i].Value.grad = grads[i];
        optimizer.Step(lr);
    }

    /// <summary>One step of two optimizers on twin parameter lists with the same fresh random gradients.</summary>
    public static void StepBoth(IOptimizer a, IReadOnlyList<NamedParameter> pa, IOptimizer b, IReadOnlyList<NamedParameter> pb, Generator gen, double lr)
    {
        foreach (var (x, y) in pa.Zip(pb))
        {
            var grad = randn(x.Value.shape, generator: gen);
            x.Value.grad = grad.clone();
            y.Value.grad = grad;
        }
        a.Step(lr);
        b.Step(lr);
    }

    /// <summary>
    /// Runs <paramref name="total"/> steps uninterrupted and, in a second optimizer restored from a state
    /// dict saved after <paramref name="saveAt"/> steps, the same tail; returns the largest parameter difference.
    /// </summary>
    public static double RoundTripDifference(OptimizerDescriptor d, OptimizerOptions options, int saveAt, int total)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(11);
        var shapes = new long[][] { [12, 6], [6, 20], [9, 9], [5] };
        var roles = new[] { ParamRole.Matrix, ParamRole.Matrix, ParamRole.Matrix, ParamRole.Vector };
        var grads = Enumerable.Range(0, total).Select(_ => shapes.Select(s => randn(s, generator: gen)).ToList()).ToList();
        var original = shapes.Select((s, i) => new NamedParameter($"p{i}", new Parameter(randn(s, generator: gen), requires_grad: true), roles[i])).ToList();
        using var first = d.Create(original, options);
        for (var t = 0; t < saveAt; t++) Feed(first, original, grads[t], options.Lr);

        var saved = first.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var restored = original.Select(p => new NamedParameter(p.Name, new Parameter(p.Value.detach().clone(), requires_grad: true), p.Role)).ToList();
        using var second = d.Create(restored, options);
        second.LoadStateDict(saved);
        for (var t = saveAt; t < total; t++)
        {
            Feed(first, original, grads[t], options.Lr);
            Feed(second, restored, grads[t], options.Lr);
        }
        return original.Zip(restored).Max(pair => (pair.First.Value - pair.Second.Value).abs().max().item<float>());
    }
}
