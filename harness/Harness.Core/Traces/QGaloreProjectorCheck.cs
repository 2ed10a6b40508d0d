using Harness.Optimizers.LowRank;
using static TorchSharp.torch;

namespace Harness.Core.Traces;

/// <summary>
/// The <c>qgalore_projector</c> case of a golden manifest: the recorded gradients of one weight go through
/// our <see cref="QuantizedSvdProjector"/> with the manifest's settings, step by step, and are compared
/// with the reference's <c>qgalore.low.&lt;t&gt;</c> = project(g_t, t) and <c>qgalore.back.&lt;t&gt;</c> =
/// project_back of it (error ‖ours − ref‖ / ‖ref‖), and the gap after every step and the total SVD
/// count, which must be equal (their error is the absolute difference, so any mismatch fails).
/// </summary>
internal static class QGaloreProjectorCheck
{
    public static TraceReport Run(string manifestPath, GoldenManifest manifest, GoldenQGaloreProjector c, double tolerance)
    {
        const string key = TraceChecker.QGaloreProjectorKey;
        using var scope = NewDisposeScope();
        var param = manifest.Params.FirstOrDefault(p => p.Name == c.Param)
            ?? throw new TraceFormatException(manifestPath, $"qgalore_projector.param '{c.Param}' is not among the params");
        if (param.Shape.Count != 2)
            throw new TraceFormatException(manifestPath, $"qgalore_projector.param '{c.Param}' is not a matrix");
        var steps = manifest.Model.Steps;
        if (c.UpdateProjGapAfterStep.Count != steps)
            throw new TraceFormatException(manifestPath, $"qgalore_update_proj_gap_after_step has {c.UpdateProjGapAfterStep.Count} entries, model.steps is {steps}");

        var gradientsPath = manifest.FileNextTo(manifestPath, "gradients");
        var referencePath = manifest.FileNextTo(manifestPath, key);
        var gradients = SafeTensorsFile.Read(gradientsPath);
        var reference = SafeTensorsFile.Read(referencePath);
        var settings = new QuantizedProjectorSettings(c.Rank, c.UpdateProjGap, c.Scale, Quantize: true, c.NBit, c.GroupSize,
            c.CosThreshold, c.GammaProj, c.QueueSize);
        using var projector = new QuantizedSvdProjector(param.Shape[0], param.Shape[1], settings, CPU);

        var errors = new List<TraceError>();
        for (var t = 0; t < steps; t++)
        {
            using var stepScope = NewDisposeScope();
            var g = TraceChecker.Require(gradients, gradientsPath, $"g.{t}.{c.Param}", param.Shape);
            var low = projector.Project(g, t);
            var back = projector.ProjectBack(low);
            var lowRef = TraceChecker.Require(reference, referencePath, $"qgalore.low.{t}", projector.ProjectedShape);
            var backRef = TraceChecker.Require(reference, referencePath, $"qgalore.back.{t}", param.Shape);
            errors.Add(Relative(t + 1, "qgalore.low", low, lowRef));
            errors.Add(Relative(t + 1, "qgalore.back", back, backRef));
            errors.Add(Exact(t + 1, "update_proj_gap", projector.Gap.UpdateGap, c.UpdateProjGapAfterStep[t]));
        }
        errors.Add(Exact(steps, "svd_count", projector.Gap.RefreshCount, c.SvdCount));
        var status = errors.All(e => e.Within(tolerance)) ? TraceStatus.Passed : TraceStatus.Failed;
        return new TraceReport(key, key, status, tolerance, errors,
            $"{c.Param}: project/project_back relative to the reference's norm; gap and SVD count exact");
    }

    private static TraceError Relative(int step, string name, Tensor ours, Tensor reference)
    {
        var o = ours.to(ScalarType.Float64);
        var r = reference.to(ScalarType.Float64);
        var diff = (o - r).norm().item<double>();
        var size = r.norm().item<double>();
        var relative = size > 0;
        var error = double.IsFinite(diff) ? (relative ? diff / size : diff) : double.NaN;
        return new TraceError(step, name, error, size, relative);
    }

    private static TraceError Exact(int step, string name, long ours, long reference) =>
        new(step, name, Math.Abs(ours - reference), reference, Relative: false);
}
