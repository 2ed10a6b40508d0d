using System.Globalization;
using System.Text.Json;
using Harness.Results;
using Harness.Core.Traces;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Checkpoints;

/// <summary>
/// A run's resumable state in one safetensors file: <c>model/&lt;param&gt;</c> (a quantized weight as <c>model/&lt;param&gt;/codes</c>, <c>/scales</c>, <c>/zeros</c>), <c>optimizer/&lt;key&gt;</c>
/// (the optimizer's full state dict) and <c>workload/&lt;key&gt;</c> (generator states) tensors, and a
/// <c>__metadata__</c> header holding the format tag, run id, optimizer kind, parameter shapes and the
/// <see cref="CheckpointProgress"/>. Written atomically (temporary file, flush, rename), so a crash
/// leaves the previous checkpoint or the new one; read back with every field checked against the run.
/// </summary>
public static class CheckpointFile
{
    public const string Format = "harness-checkpoint";
    public const string Version = "1";
    private const string ModelPrefix = "model/", OptimizerPrefix = "optimizer/", WorkloadPrefix = "workload/";

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Called with half of the file written to its temporary name (a test seam for crashes mid-write).</summary>
    public delegate void MidWriteHook();

    /// <summary>Writes the checkpoint of a run at <paramref name="progress"/>.Step, replacing any earlier one atomically.</summary>
    public static void Write(string path, string runId, string optimizerKind, IWorkload workload, IOptimizer optimizer,
        CheckpointProgress progress, MidWriteHook? midWrite = null)
    {
        using var scope = NewDisposeScope(); // StateDict's scalars and SaveState's tensors are fresh
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in ModelTensors(workload)) tensors[ModelPrefix + name] = t;
        foreach (var (key, t) in optimizer.StateDict()) tensors[OptimizerPrefix + key] = t;
        foreach (var (key, t) in workload.SaveState()) tensors[WorkloadPrefix + key] = t;
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = Format,
            ["version"] = Version,
            ["run_id"] = runId,
            ["optimizer"] = optimizerKind,
            ["step"] = progress.Step.ToString(CultureInfo.InvariantCulture),
            ["parameters"] = JsonSerializer.Serialize(workload.Parameters.ToDictionary(p => p.Name, p => p.Value.shape)),
            ["progress"] = JsonSerializer.Serialize(progress, Json),
        };
        using var buffer = new MemoryStream();
        SafeTensorsFile.Write(buffer, tensors, metadata);
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        AtomicFile.Write(path, s =>
        {
            var half = bytes.Length / 2;
            s.Write(bytes.Span[..half]);
            if (midWrite is not null)
            {
                s.Flush();
                midWrite();
            }
            s.Write(bytes.Span[half..]);
        });
    }

    /// <summary>
    /// Reads a checkpoint into the run's workload and optimizer after checking that it belongs to this
    /// run: same format, run id, optimizer kind, and parameter names and shapes.
    /// </summary>
    /// <exception cref="CheckpointException">The file is truncated, corrupt or belongs to another run, optimizer or model.</exception>
    public static CheckpointProgress Load(string path, string runId, string optimizerKind, IWorkload workload, IOptimizer optimizer)
    {
        using var scope = NewDisposeScope();
        var (metadata, tensors) = ReadRaw(path);
        CheckpointException Bad(string problem) => new(path, problem);

        string Meta(string key) => metadata.TryGetValue(key, out var v) ? v : throw Bad($"header lacks '{key}' (not a complete harness checkpoint)");
        if (!metadata.TryGetValue("format", out var format) || format != Format)
            throw Bad("not a harness checkpoint (its header has no 'format: harness-checkpoint')");
        if (Meta("version") != Version) throw Bad($"checkpoint format version {Meta("version")}, this harness reads version {Version}");
        if (Meta("optimizer") != optimizerKind)
            throw Bad($"written by optimizer '{Meta("optimizer")}', but this run uses '{optimizerKind}'; a checkpoint cannot move between optimizers");
        if (Meta("run_id") != runId) throw Bad($"belongs to run {Meta("run_id")}, not {runId}");

        CheckpointProgress progress;
        try
        {
            progress = JsonSerializer.Deserialize<CheckpointProgress>(Meta("progress"), Json) ?? throw Bad("empty progress record");
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, $"progress record is not valid ({e.Message.Split('.')[0]})", e);
        }
        if (progress.Step < 1 || Meta("step") != progress.Step.ToString(CultureInfo.InvariantCulture))
            throw Bad($"step {Meta("step")} disagrees with its progress record (step {progress.Step})");

        var model = Section(tensors, ModelPrefix);
        var expected = ModelTensors(workload).ToDictionary(t => t.Name, t => t.Tensor, StringComparer.Ordinal);
        foreach (var name in model.Keys.Where(n => !expected.ContainsKey(n)).Order(StringComparer.Ordinal).Take(1))
            throw Bad($"holds parameter '{name}', which this model does not have (another model shape?)");
        foreach (var (name, p) in expected)
        {
            if (!model.TryGetValue(name, out var saved)) throw Bad($"lacks parameter '{name}' (another model shape?)");
            if (!saved.shape.SequenceEqual(p.shape) || saved.dtype != p.dtype)
                throw Bad($"parameter '{name}' is {saved.dtype}[{string.Join(",", saved.shape)}] in the checkpoint but {p.dtype}[{string.Join(",", p.shape)}] in this model");
        }
        try
        {
            optimizer.LoadStateDict(Section(tensors, OptimizerPrefix));
            workload.LoadState(Section(tensors, WorkloadPrefix));
        }
        catch (Exception e) when (e is OptimizerStateException or ArgumentException)
        {
            throw new CheckpointException(path, e.Message, e);
        }
        using (no_grad())
            foreach (var (name, p) in expected) p.copy_(model[name]);
        return progress;
    }

    // A weight stored quantized is saved as its codes, scales and zero points (its Parameter only carries gradients).
    private static IEnumerable<(string Name, Tensor Tensor)> ModelTensors(IWorkload workload) =>
        workload.Parameters.SelectMany(p => p.Quantized is { } q
            ? q.Tensors.Select(t => ($"{p.Name}/{t.Name}", t.Tensor))
            : [(p.Name, (Tensor)p.Value)]);

    /// <summary>The step a checkpoint file holds, read from its header only; for tests and tools.</summary>
    public static int ReadStep(string path)
    {
        using var scope = NewDisposeScope();
        var (metadata, _) = ReadRaw(path);
        return metadata.TryGetValue("step", out var s) && int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var step)
            ? step
            : throw new CheckpointException(path, "header has no valid 'step'");
    }

    private static (IReadOnlyDictionary<string, string>, Dictionary<string, Tensor>) ReadRaw(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, $"cannot be read ({e.Message})", e);
        }
        try
        {
            var tensors = SafeTensorsFile.Parse(path, bytes, out var metadata); // registered with the caller's scope
            return (metadata, tensors);
        }
        catch (TraceFormatException e)
        {
            throw new CheckpointException(path, $"corrupt or truncated: {e.Problem}", e);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
        {
            // Damaged header text that parses as JSON but not as the strings and numbers it should hold.
            throw new CheckpointException(path, $"corrupt header ({e.Message.Split('\n')[0]})", e);
        }
    }

    private static Dictionary<string, Tensor> Section(Dictionary<string, Tensor> all, string prefix) =>
        all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);
}
