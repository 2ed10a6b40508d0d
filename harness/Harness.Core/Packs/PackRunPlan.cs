using Harness.Core.Config;
using Harness.Core.Planning;

namespace Harness.Core.Packs;

/// <summary>One experiment of a pack to run at a scale: its id in the pack, its loaded config and its planned runs.</summary>
public sealed record PackRunPlan(string ExperimentId, ExperimentConfig Config, IReadOnlyList<PlannedRun> Runs);
