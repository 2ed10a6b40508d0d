using System.Text.RegularExpressions;
using Harness.Experiments.Workloads;

namespace Harness.Core.Config;

/// <summary>
/// Loads an experiment YAML file into an <see cref="ExperimentConfig"/>: strict (unknown keys are errors),
/// <c>kind:</c> discriminators resolved through the optimizer and workload catalogs, sweeps expanded,
/// <c>--set</c> overrides applied, and every problem reported at once as <c>FILE:LINE:COL: message</c>
/// in a <see cref="ConfigException"/>. Never prints, never exits.
/// </summary>
public static partial class ConfigLoader
{
    private static readonly HashSet<string> SectionsBoundHere = ["optimizers"];
    // Set by the loader from where the file was read, never by the file itself.
    private static readonly HashSet<string> NotFromYaml = ["source_path"];

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^(auto|cpu|cuda|cuda:[0-9]+)$")]
    private static partial Regex DevicePattern();

    /// <summary>Reads and loads a config file; <paramref name="overrides"/> are <c>key.path=value</c> texts.</summary>
    /// <exception cref="ConfigException">The file cannot be read or has problems (all of them are listed).</exception>
    public static ExperimentConfig Load(string path, IReadOnlyList<string>? overrides = null)
    {
        var problems = new ProblemList();
        var text = ReadText(path, problems);
        return ParseCore(text, path, overrides ?? [], problems) with { SourcePath = path };
    }

    /// <summary>
    /// A config file's text, refused before reading when oversize, and checked to be UTF-8 text (also used
    /// for reproduction packs).
    /// </summary>
    /// <exception cref="ConfigException">The file cannot be read, is too large or is not UTF-8 text.</exception>
    internal static string ReadText(string path, ProblemList problems)
    {
        byte[] bytes;
        try
        {
            // Refuse before reading, so pointing the loader at a huge file costs nothing.
            var size = new FileInfo(path).Length;
            if (size > YamlTreeReader.MaxBytes)
                throw new ConfigException([new ConfigProblem(path, 1, 1,
                    $"file is {size:N0} bytes; config files are limited to {YamlTreeReader.MaxBytes:N0} bytes (1 MiB)")]);
            bytes = ReadAtMost(path, YamlTreeReader.MaxBytes + 1);
            // A device or pipe reports length 0 and can stream forever: the read above stops at the limit.
            if (bytes.Length > YamlTreeReader.MaxBytes)
                throw new ConfigException([new ConfigProblem(path, 1, 1,
                    $"file holds more than {YamlTreeReader.MaxBytes:N0} bytes; config files are limited to 1 MiB")]);
        }
        catch (FileNotFoundException)
        {
            throw new ConfigException([new ConfigProblem(path, 1, 1, "config file not found")]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ConfigException([new ConfigProblem(path, 1, 1, $"cannot read the config file: {e.Message}")]);
        }
        return YamlTreeReader.DecodeFile(bytes, path, problems) ?? throw new ConfigException(problems.All);
    }

    private static byte[] ReadAtMost(string path, int limit)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        using var into = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while (into.Length < limit && (read = file.Read(buffer, 0, (int)Math.Min(buffer.Length, limit - into.Length))) > 0)
            into.Write(buffer, 0, read);
        return into.ToArray();
    }

    /// <summary>Loads config text; <paramref name="sourceName"/> is the file name used in messages.</summary>
    /// <exception cref="ConfigException">The text has problems (all of them are listed).</exception>
    public static ExperimentConfig Parse(string yamlText, string sourceName, IReadOnlyList<string>? overrides = null) =>
        ParseCore(yamlText, sourceName, overrides ?? [], new ProblemList()) with { SourcePath = sourceName };

    private static ExperimentConfig ParseCore(string text, string source, IReadOnlyList<string> overrides, ProblemList problems)
    {
        var root = YamlTreeReader.Read(text, source, problems);
        if (problems.Count > 0) throw new ConfigException(problems.All);
        if (root is null || root is ScalarNode { IsNull: true })
            throw Fatal(problems, new SourceMark(source, 1, 1), "the config is empty; it needs at least 'name', 'workload' and 'optimizers'");
        if (root is not MappingNode map)
            throw Fatal(problems, root.Mark, $"expected a mapping of settings at the top level, got {root.Describe()}");

        map = ConfigOverrides.Apply(map, overrides, problems);
        var binder = new ConfigBinder(problems);
        var config = (ExperimentConfig)binder.BindObject(typeof(ExperimentConfig), map, "", out _, SectionsBoundHere, NotFromYaml);

        foreach (var required in (string[])["name", "workload", "optimizers"])
            if (map[required] is null)
                problems.Add(map.Mark, $"missing required key '{required}'");

        if (map["name"] is ScalarNode nameNode && config.Name is { } name && !NamePattern().IsMatch(name))
            problems.Add(nameNode.Mark, $"name: must match {NamePattern()} (it names the folder runs/<name>/), got '{name}'");
        if (map["device"] is ScalarNode deviceNode && !DevicePattern().IsMatch(config.Device))
            problems.Add(deviceNode.Mark, $"device: expected auto, cpu, cuda or cuda:N, got '{config.Device}'");
        if (map["seeds"] is SequenceNode seedsNode && config.Seeds.Count == seedsNode.Items.Count)
            CheckSeeds(config.Seeds, seedsNode, problems);

        var variants = new List<OptimizerVariant>();
        if (map["optimizers"] is { } optimizersNode)
        {
            if (optimizersNode is not SequenceNode list)
                binder.Fail(optimizersNode, "optimizers", $"expected a list of optimizer entries, got {optimizersNode.Describe()}");
            else if (list.Items.Count == 0)
                problems.Add(list.Mark, "optimizers: needs at least one entry");
            else
                variants = OptimizerEntries.Expand(binder, list, problems);
        }

        // FORGE updates weights during the backward, so one backward cannot clip the global norm: only the
        // two-pass mode (norm first, update in a second backward) can.
        if (config.Training.GradClip > 0 && config.Training.FusedClip != FusedClipMode.TwoPass
            && variants.FirstOrDefault(v => v.EffectiveStepMode(config.StepMode) == StepMode.FusedBackward) is { } fusedVariant
            && map["training"] is MappingNode trainingNode && trainingNode["grad_clip"] is { } clipNode)
            problems.Add(clipNode.Mark, $"training.grad_clip: step_mode fused_backward ('{fusedVariant.Label}') updates weights during the backward, "
                + "so one backward cannot clip the global norm; set grad_clip: 0, or fused_clip: two_pass for an exact clip with a second forward and backward per step");
        // per_layer steps each weight inside the backward, before the last gradient exists: no global norm to clip by.
        if (config.Training.GradClip > 0
            && variants.FirstOrDefault(v => v.EffectiveStepMode(config.StepMode) == StepMode.PerLayer) is { } perLayerVariant
            && map["training"] is MappingNode perLayerTraining && perLayerTraining["grad_clip"] is { } perLayerClip)
            problems.Add(perLayerClip.Mark, $"training.grad_clip: step_mode per_layer ('{perLayerVariant.Label}') steps each weight as soon as its gradient "
                + "exists, before the global norm is known; set grad_clip: 0, or step_mode standard");
        // Checkpointing wraps LLaMA's decoder layers; the other models have no checkpointed blocks yet.
        if (config.Training.ActivationCheckpointing == true && config.Workload is not LlamaSpec
            && map["training"] is MappingNode checkpointTraining && checkpointTraining["activation_checkpointing"] is { } checkpointNode)
            problems.Add(checkpointNode.Mark, "training.activation_checkpointing: only the llama workload checkpoints its decoder layers; "
                + $"this workload is '{WorkloadCatalog.All.First(d => d.SpecType == config.Workload.GetType()).Kind}'");
        // forge_kernel chooses between FORGE's kernels; an entry on the standard driver has none to choose from.
        if (map["optimizers"] is SequenceNode entries)
            foreach (var standard in variants.Where(v => v.ForgeKernel is not null && v.EffectiveStepMode(config.StepMode) != StepMode.FusedBackward)
                         .DistinctBy(v => v.EntryIndex))
                if (entries.Items[standard.EntryIndex] is MappingNode entry && entry["forge_kernel"] is { } kernelNode)
                    problems.Add(kernelNode.Mark, $"{KeyNames.Index("optimizers", standard.EntryIndex)}.forge_kernel: only step_mode fused_backward has FORGE kernels "
                        + $"to choose from; '{standard.Label}' runs step_mode standard");
        CheckForgeState(config, variants, map, problems);
        if (map["devices"] is ScalarNode devicesNode && DataParallelProblem(config, variants) is { } devicesProblem)
            problems.Add(devicesNode.Mark, $"devices: {devicesProblem}");
        if (problems.Count > 0) throw new ConfigException(problems.All);
        return config with { Optimizers = variants };
    }

    /// <summary>
    /// forge_state (an entry's, else training's) against the entry's step mode, optimizer kind and the training dtype:
    /// fp32 and bf16 are AdamW's states, int8 is 8-bit Adam's; reported at the key that set it.
    /// </summary>
    private static void CheckForgeState(ExperimentConfig config, List<OptimizerVariant> variants, MappingNode map, ProblemList problems)
    {
        var trainingNode = (map["training"] as MappingNode)?["forge_state"];
        var entries = map["optimizers"] as SequenceNode;
        foreach (var variant in variants.DistinctBy(v => v.EntryIndex))
        {
            var state = variant.ForgeState ?? config.Training.ForgeState;
            if (state is null) continue;
            var entryNode = (entries?.Items[variant.EntryIndex] as MappingNode)?["forge_state"];
            var node = variant.ForgeState is not null ? entryNode : trainingNode;
            if (node is null) continue;
            var key = variant.ForgeState is not null ? $"{KeyNames.Index("optimizers", variant.EntryIndex)}.forge_state" : "training.forge_state";
            var name = KeyNames.SnakeCase(state.Value.ToString());
            if (variant.EffectiveStepMode(config.StepMode) != StepMode.FusedBackward)
            {
                if (variant.ForgeState is not null)
                    problems.Add(node.Mark, $"{key}: only step_mode fused_backward has FORGE state to choose; '{variant.Label}' runs step_mode {KeyNames.SnakeCase(variant.EffectiveStepMode(config.StepMode).ToString())}");
                continue;
            }
            var dtype = config.Training.Dtype;
            var problem = state switch
            {
                ForgeStateKind.Int8 when variant.Kind != "adam8bit" => $"int8 is 8-bit Adam's state: use kind adam8bit (got '{variant.Kind}')",
                ForgeStateKind.Fp32 or ForgeStateKind.Bf16 when variant.Kind != "adamw" => $"{name} is an AdamW state: use kind adamw, or forge_state int8 with adam8bit (got '{variant.Kind}')",
                ForgeStateKind.Fp32 when dtype == TrainingDType.Bfloat16 => "fp32 state needs fp32 weights: training.dtype float32 or mixed (got bfloat16)",
                ForgeStateKind.Bf16 when dtype == TrainingDType.Float32 => "bf16 state is for bf16 activations: training.dtype mixed or bfloat16 (got float32)",
                _ => null,
            };
            if (problem is not null) problems.Add(node.Mark, $"{key}: {problem}");
        }
    }

    /// <summary>Why the config cannot train on <see cref="ExperimentConfig.Devices"/> ranks (null when it can): also checked for <c>--gpus</c>.</summary>
    public static string? DataParallelProblem(ExperimentConfig config, IReadOnlyList<OptimizerVariant> variants)
    {
        if (config.Devices < 1) return $"must be >= 1 (got {config.Devices})";
        if (config.Devices == 1) return null;
        if (Distributed.BatchSharding.Problem(config.Training.BatchSize, config.Devices) is { } split) return split;
        // FORGE and per_layer step weights inside the backward, before the gradients are averaged over the ranks.
        return variants.FirstOrDefault(v => v.EffectiveStepMode(config.StepMode) != StepMode.Standard) is { } v
            ? $"data-parallel runs use step_mode standard; '{v.Label}' runs step_mode {KeyNames.SnakeCase(v.EffectiveStepMode(config.StepMode).ToString())}"
            : null;
    }

    private static void CheckSeeds(IReadOnlyList<int> seeds, SequenceNode node, ProblemList problems)
    {
        if (seeds.Count == 0) problems.Add(node.Mark, "seeds: needs at least one seed");
        var first = new Dictionary<int, int>();
        for (var i = 0; i < seeds.Count; i++)
        {
            if (seeds[i] < 0) problems.Add(node.Items[i].Mark, $"seeds[{i}]: must be >= 0 (got {seeds[i]})");
            else if (!first.TryAdd(seeds[i], i))
                problems.Add(node.Items[i].Mark, $"seeds[{i}]: duplicate seed {seeds[i]} (also seeds[{first[seeds[i]]}])");
        }
    }

    private static ConfigException Fatal(ProblemList problems, SourceMark at, string message)
    {
        problems.Add(at, message);
        return new ConfigException(problems.All);
    }
}
