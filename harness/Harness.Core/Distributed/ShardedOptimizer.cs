using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Core.Distributed;

/// <summary>
/// ZeRO stage 1 around any optimizer: this rank creates the inner optimizer over the pieces of the
/// <see cref="ShardPlan"/> it owns only, so it keeps 1/N of the state; <see cref="Step"/> steps those pieces with the
/// (already all-reduced) gradients, then every piece is broadcast from its owner so all ranks hold the same parameters
/// (Rajbhandari et al., "ZeRO", arXiv 1910.02054; DeepSpeed's stage-1 partition). A whole-tensor piece is the
/// parameter itself; a range piece is a flat 1-D parameter of its own, with the role of the tensor it came from,
/// refreshed from the tensor before each step and copied back after (element-wise rules only: the catalog says which).
/// A replicated plan steps everything on every rank and broadcasts nothing.
/// </summary>
public sealed class ShardedOptimizer : IOptimizer
{
    private readonly IReadOnlyList<NamedParameter> _parameters;
    private readonly ShardPlan _plan;
    private readonly ICollective _collective;
    private readonly IOptimizer? _inner;
    private readonly List<(ShardPiece Piece, NamedParameter Shard)> _ranges = [];

    public ShardedOptimizer(IReadOnlyList<NamedParameter> parameters, ShardPlan plan, ICollective collective,
        Func<IReadOnlyList<NamedParameter>, IOptimizer> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        if (plan.WorldSize != collective.WorldSize)
            throw new ArgumentException($"the plan is for {plan.WorldSize} ranks, the collective has {collective.WorldSize}");
        (_parameters, _plan, _collective) = (parameters, plan, collective);
        var owned = new List<NamedParameter>();
        foreach (var piece in plan.Owned(collective.Rank))
        {
            var p = parameters[piece.Parameter];
            if (piece.IsWhole(p.Value.numel())) { owned.Add(p); continue; }
            var shard = p with
            {
                Name = $"{p.Name}[{piece.Start}:{piece.Start + piece.Length}]",
                Value = new Parameter(Flat(p.Value, piece).detach().clone(), requires_grad: true),
            };
            _ranges.Add((piece, shard));
            owned.Add(shard);
        }
        OwnedParameters = owned;
        _inner = owned.Count == 0 ? null : create(owned);
    }

    /// <summary>What this rank's inner optimizer manages: whole parameters and flat range parameters.</summary>
    public IReadOnlyList<NamedParameter> OwnedParameters { get; }

    public ShardPlan Plan => _plan;

    /// <summary>The optimizer over <see cref="OwnedParameters"/> (null when this rank owns nothing).</summary>
    public IOptimizer? Inner => _inner;

    /// <summary>This rank's state only (M1 per rank).</summary>
    public long StateBytes => _inner?.StateBytes ?? 0;

    public string Implementation => _inner?.Implementation ?? "";
    public string StateDtype => _inner?.StateDtype ?? "";

    public void Step(double learningRate)
    {
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            foreach (var (piece, shard) in _ranges)
            {
                var full = _parameters[piece.Parameter].Value;
                shard.Value.copy_(Flat(full, piece));
                shard.Value.grad = full.grad is { } g ? Flat(g, piece) : null;
            }
        }
        _inner?.Step(learningRate);
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            foreach (var (piece, shard) in _ranges)
            {
                Flat(_parameters[piece.Parameter].Value, piece).copy_(shard.Value);
                shard.Value.grad = null;
            }
            if (_plan.Granularity.Replicated) return;
            foreach (var piece in _plan.Pieces)
                _collective.Broadcast(Flat(_parameters[piece.Parameter].Value, piece), piece.Rank);
        }
    }

    /// <summary>Drops the gradients of every parameter, owned or not (each rank computed all of them).</summary>
    public void ZeroGrad()
    {
        foreach (var (_, shard) in _ranges) shard.Value.grad = null;
        foreach (var p in _parameters)
        {
            var g = p.Value.grad;
            p.Value.grad = null;
            g?.Dispose();
        }
    }

    /// <summary>This rank's shard of the state (a checkpoint of a sharded run keeps one file per rank).</summary>
    public IReadOnlyDictionary<string, Tensor> StateDict() => _inner?.StateDict() ?? new Dictionary<string, Tensor>();

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        if (_inner is not null) _inner.LoadStateDict(state);
        else if (state.Count > 0) throw new OptimizerStateException($"rank {_collective.Rank} owns no state but {state.Count} entries were given");
    }

    public void Dispose()
    {
        _inner?.Dispose();
        foreach (var (_, shard) in _ranges) shard.Value.Dispose();
    }

    /// <summary>The piece as a contiguous 1-D view of <paramref name="t"/> (parameters are contiguous).</summary>
    private static Tensor Flat(Tensor t, ShardPiece piece) => t.view(-1).narrow(0, piece.Start, piece.Length);
}
