using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>
/// The optimizer contract (modelled on <c>torch.optim</c>): <see cref="Step"/> reads each parameter's
/// <c>.grad</c> and updates the parameter in place; the learning rate is passed per step so schedules
/// stay outside the optimizer.
/// </summary>
public interface IOptimizer : IDisposable
{
    /// <summary>Applies one update with the given (already scheduled) learning rate.</summary>
    void Step(double learningRate);

    /// <summary>Drops the gradients (set to none, as PyTorch does by default), freeing their memory.</summary>
    void ZeroGrad();

    /// <summary>Persistent state only, exact, summed from the state tensors (M1).</summary>
    long StateBytes { get; }

    /// <summary>Which implementation ran: <c>reference</c>, <c>tensor-ops</c> or <c>cuda-fused</c>.</summary>
    string Implementation { get; }

    /// <summary>The dtype the state is stored in (e.g. <c>float32</c>, <c>uint8+float32</c>), for result rows.</summary>
    string StateDtype { get; }

    /// <summary>
    /// The full state as named tensors. State tensors are the live ones (not copies: do not mutate or
    /// dispose them); scalar entries such as step counters are fresh tensors registered with the caller's
    /// dispose scope, so call this inside one.
    /// </summary>
    IReadOnlyDictionary<string, Tensor> StateDict();

    /// <summary>Restores the state written by <see cref="StateDict"/>; throws <see cref="OptimizerStateException"/> on a mismatch.</summary>
    void LoadStateDict(IReadOnlyDictionary<string, Tensor> state);
}
