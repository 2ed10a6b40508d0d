using Harness.Optimizers;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Harness.Core.Traces;

/// <summary>
/// Replays a golden trace through our optimizer, teacher-forced: start from the recorded <c>p0</c>, feed
/// the recorded gradient <c>g.t</c> at step <c>t</c> with the manifest's constant learning rate, and at
/// each checkpoint compare every parameter with the reference's <c>p.k</c>. No model is involved, so a
/// difference can only come from the optimizer.
/// </summary>
public sealed class TraceChecker
{
    /// <summary>The manifest key of the Q-GaLore projector case, which checks projector outputs, not parameters.</summary>
    public const string QGaloreProjectorKey = "qgalore_projector";

    private readonly IReadOnlyList<OptimizerDescriptor> _catalog;

    /// <param name="catalog">The optimizers to check; <see cref="OptimizerCatalog.All"/> when null.</param>
    public TraceChecker(IReadOnlyList<OptimizerDescriptor>? catalog = null) => _catalog = catalog ?? OptimizerCatalog.All;

    /// <summary>
    /// The agreed bound per kind (see <c>shared/golden/README.md</c>): exact-arithmetic methods must agree
    /// to float32 rounding; SVD-based and codebook methods may differ in last bits at bin edges; 4-bit
    /// projection may round a group differently. A kind not listed is held to the strictest bound.
    /// </summary>
    public static double ToleranceFor(string kind) => kind switch
    {
        "galore" or "subtrackpp" or "gefen" => 1e-3,
        QGaloreProjectorKey => 1e-2,
        _ => 1e-5,
    };

    /// <summary>Checks every key of the manifest (each optimizer, then the projector case if present).</summary>
    public IReadOnlyList<TraceReport> CheckAll(string manifestPath)
    {
        var manifest = GoldenManifest.Load(manifestPath);
        var keys = manifest.Optimizers.Keys.ToList();
        if (manifest.QGaloreProjector is not null) keys.Add(QGaloreProjectorKey);
        return keys.Select(k => Check(manifestPath, manifest, k)).ToList();
    }

    /// <summary>Checks one optimizer key of the manifest.</summary>
    /// <exception cref="TraceFormatException">A file is missing, corrupt or inconsistent with the manifest, or
    /// the hyperparameters do not bind to the options record (each unknown key is named).</exception>
    public TraceReport Check(string manifestPath, string optimizerKey) =>
        Check(manifestPath, GoldenManifest.Load(manifestPath), optimizerKey);

    private TraceReport Check(string manifestPath, GoldenManifest manifest, string key)
    {
        if (key == QGaloreProjectorKey && manifest.QGaloreProjector is { } projectorCase)
            return QGaloreProjectorCheck.Run(manifestPath, manifest, projectorCase, ToleranceFor(QGaloreProjectorKey));
        if (!manifest.Optimizers.TryGetValue(key, out var entry))
            throw new TraceFormatException(manifestPath, $"has no optimizer '{key}' (keys: {string.Join(", ", manifest.Optimizers.Keys)})");

        var tolerance = ToleranceFor(entry.Kind);
        var descriptor = _catalog.FirstOrDefault(d => d.Kind == entry.Kind);
        if (descriptor is null)
            return new TraceReport(key, entry.Kind, TraceStatus.NotImplemented, tolerance, [],
                $"kind '{entry.Kind}' is not in the optimizer catalog yet");

        var options = HyperparameterBinder.Bind(descriptor, entry.Hyperparameters, out var problems);
        if (problems.Count > 0)
            throw new TraceFormatException(manifestPath,
                $"optimizer '{key}' (kind {entry.Kind}): hyperparameters do not bind to {descriptor.OptionsType.Name}: "
                + string.Join("; ", problems.Select(p => $"{p.Key} {p.Message}")));

        var diagnostics = new List<TraceDiagnostic>();
        var errors = Replay(manifestPath, manifest, key, entry, descriptor, options, diagnostics);
        // A parameter over tolerance passes only with a passed svd_signs diagnostic (see SvdSignSearch).
        var explained = diagnostics.Where(d => d.Passed).Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var status = errors.All(e => e.Within(tolerance) || explained.Contains(SvdSignSearch.DiagnosticName(e.Parameter)))
            && diagnostics.All(d => d.Passed) ? TraceStatus.Passed : TraceStatus.Failed;
        return new TraceReport(key, entry.Kind, status, tolerance, errors, Diagnostics: diagnostics);
    }

    /// <summary>The largest absolute difference allowed between a derived tensor and the reference's (e.g. a codebook).</summary>
    public const double DiagnosticTensorTolerance = 1e-6;

    private static List<TraceError> Replay(string manifestPath, GoldenManifest manifest, string key,
        GoldenOptimizer entry, OptimizerDescriptor descriptor, OptimizerOptions options, List<TraceDiagnostic> diagnostics)
    {
        // One scope for the whole replay: the loaded files, the parameters and every temporary go with it.
        using var scope = NewDisposeScope();
        var gradientsPath = manifest.FileNextTo(manifestPath, "gradients");
        var referencePath = manifest.FileNextTo(manifestPath, key);
        var gradients = SafeTensorsFile.Read(gradientsPath);
        var reference = SafeTensorsFile.Read(referencePath);

        var lowRank = manifest.LowRankTargets.ToHashSet(StringComparer.Ordinal);
        var parameters = new List<NamedParameter>(manifest.Params.Count);
        var initial = new List<Tensor>(manifest.Params.Count);
        foreach (var p in manifest.Params)
        {
            var p0 = Require(gradients, gradientsPath, $"p0.{p.Name}", p.Shape);
            initial.Add(p0);
            parameters.Add(new NamedParameter(p.Name, new Parameter(p0.clone(), requires_grad: true), RoleOf(p.Name, lowRank)));
        }

        var checkpoints = entry.Checkpoints.ToHashSet();
        var lastStep = entry.Checkpoints.Max();
        var errors = new List<TraceError>();
        using var optimizer = descriptor.Create(parameters, options);
        for (var t = 0; t < lastStep; t++)
        {
            for (var i = 0; i < parameters.Count; i++)
                parameters[i].Value.grad = Require(gradients, gradientsPath, $"g.{t}.{parameters[i].Name}", manifest.Params[i].Shape);
            optimizer.Step(entry.LearningRate);
            if (!checkpoints.Contains(t + 1)) continue;

            for (var i = 0; i < parameters.Count; i++)
            {
                using var stepScope = NewDisposeScope();
                var name = parameters[i].Name;
                var pRef = Require(reference, referencePath, $"p.{t + 1}.{name}", manifest.Params[i].Shape).to(ScalarType.Float64);
                var ours = parameters[i].Value.detach().to(ScalarType.Float64);
                var diff = (ours - pRef).norm().item<double>();
                var moved = (pRef - initial[i].to(ScalarType.Float64)).norm().item<double>();
                var relative = moved > 0;
                var error = double.IsFinite(diff) ? (relative ? diff / moved : diff) : double.NaN;
                errors.Add(new TraceError(t + 1, name, error, moved, relative));
            }
        }
        if (optimizer is IOptimizerDiagnostics d) diagnostics.AddRange(CompareDiagnostics(d, entry, reference));
        if (optimizer is ISvdSignChoice)
            diagnostics.AddRange(SvdSignSearch.Explain(errors, ToleranceFor(entry.Kind), entry, descriptor, options, parameters, initial,
                (t, name) => gradients[$"g.{t}.{name}"], (k, name) => reference[$"p.{k}.{name}"]).ToList());
        return errors;
    }

    // Data-dependent choices the reference recorded: integer maps in the manifest entry's extra fields,
    // tensors in its trace file, matched by name; a choice the reference did not record is not compared.
    private static IEnumerable<TraceDiagnostic> CompareDiagnostics(IOptimizerDiagnostics d, GoldenOptimizer entry, Dictionary<string, Tensor> reference)
    {
        foreach (var (name, ours) in d.ParameterChoices)
        {
            if (!entry.Extra.TryGetValue(name, out var recorded) || recorded.ValueKind != System.Text.Json.JsonValueKind.Object) continue;
            var expected = recorded.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64(), StringComparer.Ordinal);
            var wrong = expected.Where(kv => !ours.TryGetValue(kv.Key, out var v) || v != kv.Value)
                .Select(kv => $"{kv.Key}: ours {(ours.TryGetValue(kv.Key, out var v) ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")}, reference {kv.Value}")
                .Concat(ours.Keys.Except(expected.Keys).Select(k => $"{k}: not in the reference")).ToList();
            yield return new TraceDiagnostic(name, wrong.Count == 0,
                wrong.Count == 0 ? $"{expected.Count} entries" : $"{wrong.Count} of {expected.Count} differ; first {wrong[0]}");
        }
        foreach (var (name, ours) in d.DerivedTensors)
        {
            if (!reference.TryGetValue(name, out var theirs)) continue;
            using var scope = NewDisposeScope();
            if (!ours.shape.SequenceEqual(theirs.shape))
            {
                yield return new TraceDiagnostic(name, false, $"shape [{string.Join(",", ours.shape)}], reference [{string.Join(",", theirs.shape)}]");
                continue;
            }
            var maxDiff = (ours.detach().cpu().to(ScalarType.Float64) - theirs.to(ScalarType.Float64)).abs().max().item<double>();
            yield return new TraceDiagnostic(name, maxDiff <= DiagnosticTensorTolerance,
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"max |ours - reference| = {maxDiff:0.###e0}, bound {DiagnosticTensorTolerance:0e0}"));
        }
    }

    // Roles as a workload would set them: the manifest's low-rank targets are the projected matrices,
    // the same set the reference scripts chose.
    private static ParamRole RoleOf(string name, HashSet<string> lowRank) =>
        lowRank.Contains(name) ? ParamRole.Matrix
        : name.Contains("embed_tokens", StringComparison.Ordinal) ? ParamRole.Embedding
        : name.Contains("lm_head", StringComparison.Ordinal) ? ParamRole.OutputHead
        : ParamRole.Vector;

    internal static Tensor Require(Dictionary<string, Tensor> tensors, string path, string name, IReadOnlyList<long> shape)
    {
        if (!tensors.TryGetValue(name, out var t))
            throw new TraceFormatException(path, $"lacks tensor '{name}'");
        if (!t.shape.SequenceEqual(shape))
            throw new TraceFormatException(path, $"tensor '{name}' has shape [{string.Join(",", t.shape)}], the manifest says [{string.Join(",", shape)}]");
        if (t.dtype != ScalarType.Float32)
            throw new TraceFormatException(path, $"tensor '{name}' is {t.dtype}, expected Float32");
        return t;
    }
}
