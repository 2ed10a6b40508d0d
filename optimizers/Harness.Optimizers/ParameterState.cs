using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>
/// The persistent state of one parameter: a step counter and named tensors. Subclasses list their
/// tensors in <see cref="Tensors"/>; byte counting, state dicts and disposal all go through that list.
/// </summary>
public abstract class ParameterState : IDisposable
{
    /// <summary>Updates applied so far (1 on the first update, as in PyTorch).</summary>
    public long Step { get; set; }

    /// <summary>Every persistent tensor of this state, by a stable name.</summary>
    public abstract IEnumerable<(string Name, Tensor Tensor)> Tensors { get; }

    /// <summary>Exact bytes of the state tensors.</summary>
    public long Bytes => Tensors.Sum(t => t.Tensor.numel() * t.Tensor.element_size());

    public void Dispose()
    {
        foreach (var (_, t) in Tensors) t.Dispose();
        GC.SuppressFinalize(this);
    }
}
