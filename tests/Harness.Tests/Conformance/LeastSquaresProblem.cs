using Harness.Optimizers;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>
/// A small, well-conditioned least-squares fit, <c>min ‖X·W + b − Y‖²/n</c>, with W a 16×8 Matrix-role
/// parameter and b an 8-vector Vector-role parameter. The optimum sits at a per-coordinate distance of
/// 20·lr from the start: every optimizer in the catalog moves a coordinate by about lr per step
/// (Adam-style normalisation or a sign), so 200 steps at its default lr can reach it and settle, with no
/// per-optimizer tuning.
/// </summary>
internal sealed class LeastSquaresProblem : IDisposable
{
    private readonly DisposeScope _scope = NewDisposeScope();
    private readonly Tensor _x;
    private readonly Tensor _y;

    public LeastSquaresProblem(long seed, double lr)
    {
        var gen = new TorchSharp.torch.Generator((ulong)seed);
        // 64 samples of 16 features scaled to near-orthonormal columns: condition number close to 1.
        _x = randn([64, 16], generator: gen).div_(Math.Sqrt(64));
        var w0 = randn([16, 8], generator: gen).mul_(0.1);
        var b0 = randn([8], generator: gen).mul_(0.1);
        var wStar = w0 + (rand([16, 8], generator: gen) * 2 - 1).mul_(20 * lr);
        var bStar = b0 + (rand([8], generator: gen) * 2 - 1).mul_(20 * lr);
        _y = _x.mm(wStar) + bStar;
        Parameters =
        [
            new NamedParameter("w", new Parameter(w0.clone(), requires_grad: true), ParamRole.Matrix),
            new NamedParameter("b", new Parameter(b0.clone(), requires_grad: true), ParamRole.Vector),
        ];
    }

    public IReadOnlyList<NamedParameter> Parameters { get; }

    /// <summary>The current loss, without touching gradients.</summary>
    public double Loss()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return LossTensor().item<float>();
    }

    /// <summary>Drops the old gradients, computes fresh ones and steps.</summary>
    public void Step(IOptimizer optimizer, double lr)
    {
        optimizer.ZeroGrad();
        using (var scope = NewDisposeScope())
            LossTensor().backward();
        optimizer.Step(lr);
    }

    private Tensor LossTensor() =>
        (_x.mm(Parameters[0].Value) + Parameters[1].Value - _y).pow(2).mean();

    public void Dispose() => _scope.Dispose();
}
