using Harness.Results;
using TorchSharp.Modules;
using static TorchSharp.torch.utils;

namespace Harness.Core.Running;

/// <summary>
/// Writes one run's numbers as TensorBoard scalars through TorchSharp's <c>SummaryWriter</c>, one log directory per
/// run: <c>loss/train</c>, <c>loss/eval</c>, <c>lr</c>, <c>throughput/tokens_per_s</c>, <c>update/max_ratio/&lt;role&gt;</c>,
/// <c>update/rms_ratio/&lt;role&gt;</c> (<see cref="UpdateTelemetry"/>), <c>memory/peak_bytes</c> and
/// <c>memory/reserved_bytes</c>, each at its training step. The values are those of the run's CSV files (as floats).
/// </summary>
public sealed class TensorBoardSink(string logDirectory)
{
    public const string TrainLoss = "loss/train";
    public const string EvalLoss = "loss/eval";
    public const string LearningRate = "lr";
    public const string TokensPerSecond = "throughput/tokens_per_s";
    public const string PeakBytes = "memory/peak_bytes";
    public const string ReservedBytes = "memory/reserved_bytes";

    private readonly SummaryWriter _writer = tensorboard.SummaryWriter(logDirectory);

    /// <summary>The per-role update telemetry tag: <c>update/max_ratio/embedding</c> or <c>update/rms_ratio/embedding</c>.</summary>
    public static string UpdateTag(string measure, string role) => $"update/{measure}/{role}";

    /// <summary>A row of <c>steps.csv</c> (losses absent on the row are skipped).</summary>
    public void Step(StepRecord record, double? tokensPerSecond)
    {
        ArgumentNullException.ThrowIfNull(record);
        Scalar(LearningRate, record.Lr, record.Step);
        Scalar(TrainLoss, record.TrainLoss, record.Step);
        Scalar(EvalLoss, record.EvalLoss, record.Step);
        Scalar(TokensPerSecond, tokensPerSecond, record.Step);
    }

    /// <summary>A row of <c>updates.csv</c>.</summary>
    public void Update(UpdateRecord row)
    {
        ArgumentNullException.ThrowIfNull(row);
        Scalar(UpdateTag("max_ratio", row.Role), row.MaxRatio, row.Step);
        Scalar(UpdateTag("rms_ratio", row.Role), row.RmsRatio, row.Step);
    }

    /// <summary>The device memory of a step: its peak and what the allocator holds.</summary>
    public void Memory(int step, long peakBytes, long reservedBytes)
    {
        Scalar(PeakBytes, peakBytes, step);
        Scalar(ReservedBytes, reservedBytes, step);
    }

    private void Scalar(string tag, double? value, int step)
    {
        if (value is { } v) _writer.add_scalar(tag, (float)v, step);
    }
}
