using static TorchSharp.torch;

namespace Harness.Optimizers.Gefen;

/// <summary>
/// Gefen's state dict: per parameter <c>&lt;name&gt;/step</c>, <c>/period</c>, <c>/param_shape</c> and the
/// three state tensors; optimizer-wide <c>gefen.codebook</c> and <c>gefen.global_step</c>. Loading checks
/// every name, shape and dtype, and refuses per-parameter state without its codebook: the uint8 indices
/// mean nothing under another codebook.
/// </summary>
internal static class GefenStateDict
{
    internal sealed record Loaded(Tensor? Codebook, long GlobalStep);

    public static Dictionary<string, Tensor> Save(IReadOnlyList<NamedParameter> parameters, Gefen.State?[] states, Tensor? codebook, long globalStep)
    {
        var dict = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        // Scalars are fresh tensors owned by the caller's dispose scope; state tensors are the live ones.
        for (var i = 0; i < states.Length; i++)
        {
            if (states[i] is not { } s) continue;
            var name = parameters[i].Name;
            dict[$"{name}/step"] = tensor(s.Step);
            dict[$"{name}/period"] = tensor(s.Period);
            dict[$"{name}/param_shape"] = tensor(parameters[i].Value.shape);
            foreach (var (key, t) in s.Tensors) dict[$"{name}/{key}"] = t;
        }
        if (codebook is not null) dict[Gefen.CodebookKey] = codebook;
        dict[Gefen.GlobalStepKey] = tensor(globalStep);
        return dict;
    }

    public static Loaded Load(IReadOnlyDictionary<string, Tensor> state, IReadOnlyList<NamedParameter> parameters,
        IReadOnlyDictionary<string, int> index, Func<int, long, ScalarType, Gefen.State> create)
    {
        foreach (var key in state.Keys)
        {
            var slash = key.LastIndexOf('/');
            if (slash < 0 && key is not (Gefen.CodebookKey or Gefen.GlobalStepKey))
                throw new OptimizerStateException($"state dict has an unknown entry '{key}'");
            if (slash >= 0 && !index.ContainsKey(key[..slash]))
                throw new OptimizerStateException($"state dict has entries for unknown parameter '{key[..slash]}'");
        }
        var hasParameterState = state.Keys.Any(k => k.Contains('/'));
        Tensor? codebook = null;
        if (state.TryGetValue(Gefen.CodebookKey, out var book))
        {
            if (!book.shape.SequenceEqual([(long)CodebookDp.Codewords]) || book.dtype != ScalarType.Float32)
                throw new OptimizerStateException($"'{Gefen.CodebookKey}' is {book.dtype}[{string.Join(",", book.shape)}], expected Float32[{CodebookDp.Codewords}]");
            codebook = book.detach().clone();
        }
        else if (hasParameterState)
        {
            throw new OptimizerStateException(
                $"state dict has per-parameter Gefen state but no '{Gefen.CodebookKey}': its uint8 momentum indices cannot be decoded (re-learning a codebook would silently change them)");
        }
        var globalStep = state.TryGetValue(Gefen.GlobalStepKey, out var gs) ? gs.item<long>() : 0;

        using var noGrad = no_grad();
        for (var i = 0; i < parameters.Count; i++)
        {
            var name = parameters[i].Name;
            if (!state.TryGetValue($"{name}/step", out var step)) continue;
            var shape = Require(state, $"{name}/param_shape").data<long>().ToArray();
            if (!shape.SequenceEqual(parameters[i].Value.shape))
                throw new OptimizerStateException($"'{name}' has shape [{string.Join(",", shape)}] in the state dict but [{string.Join(",", parameters[i].Value.shape)}] here");
            var period = Require(state, $"{name}/period").item<long>();
            var s = create(i, period, Require(state, $"{name}/vmean").dtype);
            s.Step = step.item<long>();
            foreach (var (key, t) in s.Tensors)
            {
                var src = Require(state, $"{name}/{key}");
                if (!src.shape.SequenceEqual(t.shape) || src.dtype != t.dtype)
                    throw new OptimizerStateException(
                        $"'{name}/{key}' is {src.dtype}[{string.Join(",", src.shape)}] in the state dict but {t.dtype}[{string.Join(",", t.shape)}] here");
                t.copy_(src);
            }
        }
        return new Loaded(codebook, globalStep);
    }

    private static Tensor Require(IReadOnlyDictionary<string, Tensor> state, string key) =>
        state.TryGetValue(key, out var t) ? t : throw new OptimizerStateException($"state dict lacks '{key}'");
}
