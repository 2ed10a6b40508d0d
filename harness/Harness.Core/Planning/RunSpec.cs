using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Harness.Core.Config;

namespace Harness.Core.Planning;

/// <summary>
/// Everything that determines a run's result. Its canonical JSON is stored in the manifest and its hash
/// is the run id, so a rerun of the same config finds (and skips) finished runs, and any change that
/// could change a number gives a new id.
/// </summary>
public sealed record RunSpec(
    string Experiment,
    string Device,
    StepMode StepMode,
    string WorkloadKind,
    object Workload,
    TrainingConfig Training,
    ScheduleConfig Schedule,
    string OptimizerKind,
    object Optimizer,
    int Seed)
{
    /// <summary>Data-parallel ranks (GPUs) when more than one; absent for one device, so single-device run ids are unchanged.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Devices { get; init; }

    /// <summary>Bumped when the meaning of a spec field changes, so old results are not reused silently.</summary>
    public const int SchemaVersion = 1;

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        WriteIndented = false,
    };

    /// <summary>The canonical JSON form (property order is declaration order; numbers round-trip).</summary>
    public JsonObject ToJson()
    {
        var node = JsonSerializer.SerializeToNode(this, Json)!.AsObject();
        node["schema_version"] = SchemaVersion;
        return node;
    }

    /// <summary>A 12-hex-digit hash of the canonical JSON.</summary>
    public string RunId()
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes(ToJson().ToJsonString(Json)));
        return Convert.ToHexStringLower(bytes)[..12];
    }
}
