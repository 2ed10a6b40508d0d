using System.Globalization;
using Harness.Optimizers;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Harness.Core.Traces;

/// <summary>
/// The one allowance the golden check makes, for optimizers implementing <see cref="ISvdSignChoice"/>: a
/// parameter over tolerance passes only if negating some singular vector pairs of the SVDs our code took
/// (another exact SVD of the same gradient, which another LAPACK build may return) reproduces the reference
/// at every checkpoint within the same tolerance. Nothing else is varied, so a real algorithm error (a wrong
/// hyperparameter, refresh step, side or moment rule) stays a failure.
/// </summary>
/// <remarks>
/// Checkpoint by checkpoint from the parameter's first failure: the signs of the SVDs taken since the
/// previous checkpoint are the only unknowns (earlier ones are pinned by the checkpoints that passed); all
/// 2^bits patterns are replayed (bits = SVDs × basis size, at most <see cref="MaxBits"/>) and the best one
/// must be within tolerance. Each parameter is replayed alone, which is exact for per-parameter optimizers.
/// </remarks>
internal static class SvdSignSearch
{
    /// <summary>The most sign bits searched in one checkpoint window (2^16 short replays).</summary>
    public const int MaxBits = 16;

    /// <summary>The diagnostic name for a parameter: <c>svd_signs/&lt;parameter&gt;</c>.</summary>
    public static string DiagnosticName(string parameter) => "svd_signs/" + parameter;

    public static IEnumerable<TraceDiagnostic> Explain(IReadOnlyList<TraceError> errors, double tolerance, GoldenOptimizer entry,
        OptimizerDescriptor descriptor, OptimizerOptions options, IReadOnlyList<NamedParameter> parameters, IReadOnlyList<Tensor> initial,
        Func<int, string, Tensor> gradient, Func<int, string, Tensor> reference)
    {
        var checkpoints = entry.Checkpoints.Order().ToList();
        foreach (var name in errors.Where(e => !e.Within(tolerance)).Select(e => e.Parameter).Distinct().ToList())
        {
            var index = parameters.Select(p => p.Name).ToList().IndexOf(name);
            var ownErrors = errors.Where(e => e.Parameter == name).ToDictionary(e => e.Step, e => e.Error);
            var firstFail = checkpoints.First(k => !(ownErrors[k] <= tolerance));
            var flips = new Dictionary<long, ulong>();
            var previous = checkpoints.LastOrDefault(k => k < firstFail);
            string? problem = null;
            var best = new List<string>();
            foreach (var k in checkpoints.Where(k => k >= firstFail))
            {
                var current = Replay(flips, k);
                if (current <= tolerance)
                {
                    best.Add(string.Create(CultureInfo.InvariantCulture, $"step {k} {current:0.0e0}"));
                    previous = k;
                    continue;
                }
                using var probe = descriptor.Create([parameters[index]], options);
                var choice = (ISvdSignChoice)probe;
                var steps = choice.SvdSteps(name, previous, k);
                var size = choice.BasisSize(name);
                var bits = steps.Count * size;
                if (bits == 0 || bits > MaxBits)
                {
                    problem = bits == 0 ? $"no SVD between steps {previous} and {k}: not a sign choice" : $"{bits} sign bits before step {k}, more than {MaxBits}";
                    break;
                }
                var (mask, error) = Enumerable.Range(0, 1 << bits)
                    .Select(m => ((ulong)m, Replay(m == 0 ? flips : With(flips, steps, size, (ulong)m), k)))
                    .MinBy(r => r.Item2);
                if (!(error <= tolerance))
                {
                    problem = string.Create(CultureInfo.InvariantCulture, $"at step {k} the best of {1 << bits} sign patterns still errs {error:0.00e0}");
                    break;
                }
                flips = With(flips, steps, size, mask);
                best.Add(string.Create(CultureInfo.InvariantCulture, $"step {k} {error:0.0e0}"));
                previous = k;
            }
            var worst = ownErrors.Values.Max();
            var negated = string.Join("; ", flips.Where(f => f.Value != 0).Select(f =>
                $"SVD at step {f.Key}: v{string.Join(", v", Enumerable.Range(0, 64).Where(i => (f.Value >> i & 1) == 1).Select(i => i + 1))}"));
            yield return new TraceDiagnostic(DiagnosticName(name), problem is null, problem is null
                ? string.Create(CultureInfo.InvariantCulture, $"over tolerance as computed (worst {worst:0.00e0}) only by SVD sign choice: negating {negated} reproduces the reference ({string.Join(", ", best)})")
                : string.Create(CultureInfo.InvariantCulture, $"over tolerance (worst {worst:0.00e0}) and not explained by SVD signs: {problem}"));

            double Replay(Dictionary<long, ulong> trial, int steps)
            {
                using var scope = NewDisposeScope();
                var p = new NamedParameter(name, new Parameter(initial[index].clone(), requires_grad: true), parameters[index].Role);
                using var optimizer = descriptor.Create([p], options);
                foreach (var (step, m) in trial) ((ISvdSignChoice)optimizer).FlipSingularVectors(name, step, m);
                for (var t = 0; t < steps; t++)
                {
                    p.Value.grad = gradient(t, name);
                    optimizer.Step(entry.LearningRate);
                }
                var pRef = reference(steps, name).to(ScalarType.Float64);
                var moved = (pRef - initial[index].to(ScalarType.Float64)).norm().item<double>();
                var diff = (p.Value.detach().to(ScalarType.Float64) - pRef).norm().item<double>();
                return moved > 0 ? diff / moved : diff;
            }
        }
    }

    // Bit j·size + i of the window mask negates vector i+1 of the window's j-th SVD.
    private static Dictionary<long, ulong> With(Dictionary<long, ulong> flips, IReadOnlyList<long> steps, int size, ulong mask)
    {
        var result = new Dictionary<long, ulong>(flips);
        for (var j = 0; j < steps.Count; j++)
            result[steps[j]] = result.GetValueOrDefault(steps[j]) ^ (mask >> (j * size) & ((1UL << size) - 1));
        return result;
    }
}
