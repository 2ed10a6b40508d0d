using Harness.Optimizers;
using Harness.Results;
using static TorchSharp.torch;

namespace Harness.Core.Distributed;

/// <summary>What a data-parallel run does once, outside the step: align the ranks' starting weights, merge per-rank meters.</summary>
public static class DataParallel
{
    /// <summary>Copies rank 0's parameters to every rank, as DDP does at construction.</summary>
    public static void SyncParameters(IReadOnlyList<NamedParameter> parameters, ICollective collective)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var p in parameters) collective.Broadcast(p.Value, 0);
    }

    /// <summary>Every rank's value of a scalar, by rank (all ranks receive all values), exchanged on <paramref name="device"/> (NCCL: the rank's GPU).</summary>
    public static IReadOnlyList<double> Gather(double value, ICollective collective, Device device)
    {
        using var scope = NewDisposeScope();
        var mine = tensor(new[] { value }, ScalarType.Float64, device);
        var all = zeros(collective.WorldSize, ScalarType.Float64, device);
        collective.AllGather(mine, all);
        return all.cpu().data<double>().ToArray();
    }

    /// <summary>
    /// The per-rank metric rows rank 0 writes into the one run folder: <c>NAME.rank{r}</c> for each rank, plus
    /// <c>NAME</c> itself as the largest rank's value (the memory a device must hold).
    /// </summary>
    public static IEnumerable<MetricRecord> PerRank(string name, IReadOnlyList<double> values, string unit, string note)
    {
        yield return new MetricRecord { Name = name, Value = values.Max(), Unit = unit, Note = $"{note}; largest of {values.Count} ranks" };
        for (var r = 0; r < values.Count; r++)
            yield return new MetricRecord { Name = $"{name}.rank{r}", Value = values[r], Unit = unit, Note = note };
    }
}
