using static TorchSharp.torch;

namespace Harness.Experiments.Workloads;

/// <summary>
/// Saves and restores the named batch generators of a workload (for checkpoints): the byte states of
/// the generators, checked for name, dtype and size on load.
/// </summary>
internal static class BatchGeneratorState
{
    public static IReadOnlyDictionary<string, Tensor> Save(params (string Name, Generator Generator)[] generators) =>
        generators.ToDictionary(g => g.Name, g => g.Generator.get_state(), StringComparer.Ordinal);

    public static void Load(IReadOnlyDictionary<string, Tensor> state, params (string Name, Generator Generator)[] generators)
    {
        ArgumentNullException.ThrowIfNull(state);
        foreach (var (key, generator) in generators)
        {
            if (!state.TryGetValue(key, out var saved))
                throw new ArgumentException($"workload state lacks '{key}'", nameof(state));
            using var expected = generator.get_state();
            if (saved.dtype != ScalarType.Byte || !saved.shape.SequenceEqual(expected.shape))
                throw new ArgumentException(
                    $"workload state '{key}' is {saved.dtype}[{string.Join(",", saved.shape)}], expected Byte[{string.Join(",", expected.shape)}]", nameof(state));
            generator.set_state(saved);
        }
        var unknown = state.Keys.Where(k => !generators.Any(g => g.Name == k)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"workload state has unknown entries: {string.Join(", ", unknown)}", nameof(state));
    }
}
