using Harness.Core.Checks;
using Harness.Core.Traces;
using Harness.Optimizers;
using Harness.Optimizers.Kernels;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>
/// What every optimizer in <see cref="OptimizerCatalog.All"/> must do, checked with its default options.
/// A new catalog line is picked up here with no other change.
/// </summary>
public sealed class OptimizerConformanceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Kinds => new(OptimizerCatalog.All.Select(d => d.Kind));

    private static OptimizerDescriptor Descriptor(string kind) =>
        OptimizerCatalog.Find(kind) ?? throw new InvalidOperationException($"no kind {kind}");

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Converges_on_least_squares_with_default_options(string kind)
    {
        var d = Descriptor(kind);
        var options = d.DefaultOptions();
        using var problem = new LeastSquaresProblem(seed: 1, options.Lr);
        using var optimizer = d.Create(problem.Parameters, options);
        var initial = problem.Loss();

        for (var i = 0; i < 200; i++) problem.Step(optimizer, options.Lr);

        var final = problem.Loss();
        output.WriteLine($"{kind}: loss {initial:e3} -> {final:e3} ({final / initial:P2} of the initial)");
        Assert.True(final < 0.1 * initial, $"{kind}: loss {initial:R} -> {final:R} after 200 steps");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void State_bytes_after_one_step_match_the_catalog_formula(string kind)
    {
        var d = Descriptor(kind);
        var options = d.DefaultOptions();
        using var problem = new LeastSquaresProblem(seed: 2, options.Lr);
        using var optimizer = d.Create(problem.Parameters, options);

        problem.Step(optimizer, options.Lr);

        Assert.True(optimizer.StateBytes > 0 || d.Traits.HasFlag(OptimizerTraits.Stateless), $"{kind} reports no state");
        Assert.Equal(d.ExpectedStateBytes(problem.Parameters, options), optimizer.StateBytes);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_zero_gradient_without_weight_decay_changes_nothing(string kind)
    {
        var d = Descriptor(kind);
        var options = WithoutWeightDecay(d);
        using var scope = NewDisposeScope();
        var ps = RandomParameters(seed: 3);
        var before = ps.Select(p => p.Value.detach().clone()).ToList();
        using var optimizer = d.Create(ps, options);

        foreach (var p in ps) p.Value.grad = zeros_like(p.Value);
        optimizer.Step(options.Lr);

        for (var i = 0; i < ps.Count; i++)
            Assert.True(before[i].equal(ps[i].Value).all().item<bool>(), $"{kind} moved '{ps[i].Name}' on a zero gradient");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void The_same_seed_gives_bit_identical_parameters(string kind)
    {
        var d = Descriptor(kind);
        var options = d.DefaultOptions();

        List<Tensor> Run()
        {
            using var problem = new LeastSquaresProblem(seed: 4, options.Lr);
            using var optimizer = d.Create(problem.Parameters, options);
            for (var i = 0; i < 10; i++) problem.Step(optimizer, options.Lr);
            return problem.Parameters.Select(p => p.Value.detach().clone().DetachFromDisposeScope()).ToList();
        }

        var a = Run();
        var b = Run();
        for (var i = 0; i < a.Count; i++)
            Assert.True(a[i].equal(b[i]).all().item<bool>(), $"{kind}: run-to-run difference in parameter {i}");
        foreach (var t in a.Concat(b)) t.Dispose();
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void A_state_dict_round_trip_continues_bit_identically(string kind)
    {
        var d = Descriptor(kind);
        var options = d.DefaultOptions();
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(5);
        var grads = Enumerable.Range(0, 10).Select(_ => Shapes.Select(s => randn(s, generator: gen)).ToList()).ToList();

        var original = RandomParameters(seed: 6);
        using var first = d.Create(original, options);
        for (var t = 0; t < 5; t++) Feed(first, original, grads[t], options.Lr);

        var saved = first.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var restored = original.Select(p => new NamedParameter(p.Name, new Parameter(p.Value.detach().clone(), requires_grad: true), p.Role)).ToList();
        using var second = d.Create(restored, options);
        second.LoadStateDict(saved);
        Assert.Equal(first.StateBytes, second.StateBytes);

        for (var t = 5; t < 10; t++)
        {
            Feed(first, original, grads[t], options.Lr);
            Feed(second, restored, grads[t], options.Lr);
        }
        for (var i = 0; i < original.Count; i++)
            Assert.True(original[i].Value.equal(restored[i].Value).all().item<bool>(), $"{kind}: '{original[i].Name}' differs after the round trip");

        // The same names with other shapes must be refused, not copied or broadcast.
        var reshaped = new List<NamedParameter>
        {
            new("w", new Parameter(zeros(8, 16), requires_grad: true), ParamRole.Matrix),
            new("b", new Parameter(zeros(3), requires_grad: true), ParamRole.Vector),
        };
        using var third = d.Create(reshaped, options);
        Assert.Throws<OptimizerStateException>(() => third.LoadStateDict(saved));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void No_tensors_leak_per_step(string kind)
    {
        var d = Descriptor(kind);
        var options = d.DefaultOptions();
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(7);
        var grads = Enumerable.Range(0, 21).Select(_ => Shapes.Select(s => randn(s, generator: gen)).ToList()).ToList();
        var ps = RandomParameters(seed: 8);
        using var optimizer = d.Create(ps, options);

        // The first step creates the state; after it, every step must leave the live count where it was.
        Feed(optimizer, ps, grads[0], options.Lr);
        var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var counts = new List<long>();
        for (var t = 1; t <= 20; t++)
        {
            Feed(optimizer, ps, grads[t], options.Lr);
            counts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount - live);
        }

        Assert.True(counts.All(c => c == 0), $"{kind}: live tensors after each step, relative to step 1: {string.Join(",", counts)}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Default_options_are_valid_and_a_negative_lr_is_named(string kind)
    {
        var d = Descriptor(kind);
        var defaults = d.DefaultOptions();

        Assert.Empty(defaults.Validate());
        var problems = (defaults with { Lr = -1 }).Validate().ToList();
        Assert.Contains(problems, p => p.Key == "lr");
    }

    /// <summary>Each capability trait and the interface that provides it, declared once (the catalog line).</summary>
    public static TheoryData<OptimizerTraits, Type> TraitInterfaces => new()
    {
        { OptimizerTraits.PerParameterStep, typeof(IPerParameterStep) },
        { OptimizerTraits.SlabStep, typeof(ISlabStep) },
        { OptimizerTraits.TileFusedLinear, typeof(ITileFusedLinearStep) },
        { OptimizerTraits.HasCudaKernel, typeof(Harness.Optimizers.Kernels.IFusedKernelUser) },
    };

    [Theory]
    [MemberData(nameof(TraitInterfaces))]
    public void A_capability_trait_is_set_exactly_where_the_optimizer_implements_its_interface(OptimizerTraits trait, Type contract)
    {
        using var scope = NewDisposeScope();
        var ps = RandomParameters(seed: 9);
        var mismatched = new List<string>();
        foreach (var d in OptimizerCatalog.All)
        {
            using var optimizer = d.Create(ps, d.DefaultOptions());
            var declared = d.Traits.HasFlag(trait);
            var implemented = contract.IsInstanceOfType(optimizer);
            output.WriteLine($"{d.Kind}: {trait} {(declared ? "set" : "not set")}, {contract.Name} {(implemented ? "implemented" : "not implemented")}");
            if (declared != implemented) mismatched.Add(d.Kind);
        }
        Assert.Empty(mismatched);
    }

    /// <summary>
    /// What <c>step_mode: per_layer</c> relies on: an optimizer with <see cref="OptimizerTraits.PerParameterStep"/> steps each
    /// parameter through <see cref="IPerParameterStep.StepParameter"/>, in the order the backward completes the gradients
    /// (here the reverse of the parameter order), to exactly the parameters its <see cref="IOptimizer.Step"/> gives.
    /// </summary>
    public static TheoryData<string> PerParameterKinds =>
        new(OptimizerCatalog.All.Where(d => d.Traits.HasFlag(OptimizerTraits.PerParameterStep)).Select(d => d.Kind));

    [Theory]
    [MemberData(nameof(PerParameterKinds))]
    public void Per_parameter_steps_in_backward_order_equal_the_whole_step(string kind)
    {
        var d = Descriptor(kind);
        var options = d.DefaultOptions();
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(10);
        var whole = RandomParameters(seed: 11);
        var perParameter = RandomParameters(seed: 11);
        using var a = d.Create(whole, options);
        using var b = d.Create(perParameter, options);
        for (var t = 0; t < 6; t++)
        {
            var grads = Shapes.Select(s => randn(s, generator: gen)).ToList();
            var lr = options.Lr * (1 - t / 12.0);
            Feed(a, whole, grads.Select(g => g.clone()).ToList(), lr);
            for (var i = perParameter.Count - 1; i >= 0; i--) ((IPerParameterStep)b).StepParameter(perParameter[i], grads[i], lr);
        }
        // A batched whole step (GaLore's by shape) orders its arithmetic differently from the per-tensor path a single
        // parameter takes: equal within a few float32 ulps there, bit for bit everywhere else.
        var batched = a.Implementation.StartsWith("batched", StringComparison.Ordinal);
        for (var i = 0; i < whole.Count; i++)
            Assert.True(batched
                    ? whole[i].Value.allclose(perParameter[i].Value, rtol: 1e-5, atol: 1e-6)
                    : whole[i].Value.equal(perParameter[i].Value).all().item<bool>(),
                $"{kind}: '{whole[i].Name}' differs stepped per parameter ({a.Implementation})");
    }

    [Fact]
    public void The_optimizers_with_fused_kernels_declare_them()
    {
        foreach (var kind in new[] { "adamw", "adam8bit", "gefen" })
            Assert.True(Descriptor(kind).Traits.HasFlag(OptimizerTraits.HasCudaKernel), $"{kind} lacks HasCudaKernel");
    }

    [Fact]
    public void The_catalog_lines_the_gpu_checks_pick_by_trait_carry_the_settings_they_need()
    {
        // The checks and the step bench iterate the catalog by trait; each line they pick builds its check options from
        // the learning rate, weight decay and implementation asked for.
        foreach (var d in FusedEquivalence.Optimizers.Concat(OptimizerCatalog.All.Where(d => d.Traits.HasFlag(OptimizerTraits.SlabStep))).Distinct())
        {
            var fused = FusedEquivalence.Optimizers.Contains(d);
            var options = Assert.IsAssignableFrom<OptimizerOptions>(d.Checks.Options?.Invoke(2e-3, 0.05, fused ? ImplementationChoice.TensorOps : null));
            Assert.Equal(d.OptionsType, options.GetType());
            Assert.Equal(2e-3, options.Lr);
            Assert.Equal(0.05, (double)d.OptionsType.GetProperty("WeightDecay")!.GetValue(options)!);
            if (fused) Assert.Equal(ImplementationChoice.TensorOps, d.OptionsType.GetProperty("Implementation")!.GetValue(options));
            Assert.Empty(options.Validate());
            if (d.Traits.HasFlag(OptimizerTraits.SlabStep)) Assert.NotEmpty(d.Checks.ForgeRouteCases);
        }
        // The same checks as when gpu-check named its optimizers: three whole-step fused kernels (GaLore's, SubTrack++'s and
        // SWAN's HasCudaKernel is their full-rank AdamW part, Q-GaLore's its 8-bit moments, none with check options), five FORGE route cases.
        Assert.Equal(["adamw", "adam8bit", "galore", "qgalore", "subtrackpp", "gefen", "swan"],
            OptimizerCatalog.All.Where(d => d.Traits.HasFlag(OptimizerTraits.HasCudaKernel)).Select(d => d.Kind).ToArray());
        Assert.Equal(["adamw", "adam8bit", "gefen"], FusedEquivalence.Optimizers.Select(d => d.Kind).ToArray());
        Assert.Equal(["adamw", "adam8bit", "gefen"], FusedOptimizerCase.All.Select(c => c.Kind).ToArray());
        Assert.Equal(["fused_backward adamw GA=1 slab=32", "fused_backward adamw GA=2 slab=7", "fused_backward adamw GA=1 slab=8 two-pass clip 0.05",
            "fused_backward lion GA=1 slab=5", "fused_backward adam8bit GA=1 slab=32"],
            ForgeRouteEquivalence.Cases.Select(c => ForgeRouteEquivalence.Describe(c.Optimizer, c.Case)).ToArray());
        Assert.Equal("adamw", ForgeTileEquivalence.Optimizer.Kind);
    }

    private static readonly long[][] Shapes = [[16, 8], [8]];

    private static List<NamedParameter> RandomParameters(long seed)
    {
        var gen = new TorchSharp.torch.Generator((ulong)seed);
        return
        [
            new("w", new Parameter(randn(Shapes[0], generator: gen), requires_grad: true), ParamRole.Matrix),
            new("b", new Parameter(randn(Shapes[1], generator: gen), requires_grad: true), ParamRole.Vector),
        ];
    }

    // Gradients set directly (no model), the way the golden checker feeds recorded ones.
    private static void Feed(IOptimizer optimizer, List<NamedParameter> ps, List<Tensor> grads, double lr)
    {
        for (var i = 0; i < ps.Count; i++) ps[i].Value.grad = grads[i];
        optimizer.Step(lr);
    }

    private static OptimizerOptions WithoutWeightDecay(OptimizerDescriptor d)
    {
        var hasDecay = d.OptionsType.GetProperties().Any(p => HyperparameterBinder.KeyOf(p) == "weight_decay");
        if (!hasDecay) return d.DefaultOptions();
        var options = HyperparameterBinder.Bind(d, new Dictionary<string, System.Text.Json.JsonElement>
        {
            ["weight_decay"] = System.Text.Json.JsonSerializer.SerializeToElement(0.0),
        }, out var problems);
        Assert.Empty(problems);
        return options;
    }
}
