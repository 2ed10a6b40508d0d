using Harness.Optimizers.Adafactor;
using Harness.Optimizers.Apollo;
using Harness.Optimizers.Adam8bit;
using Harness.Optimizers.AdamMini;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.GaLore;
using Harness.Optimizers.Gefen;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.Lion;
using Harness.Optimizers.Muon;
using Harness.Optimizers.QGaLore;
using Harness.Optimizers.SubTrackPlusPlus;
using Harness.Optimizers.Swan;

namespace Harness.Optimizers;

/// <summary>
/// Every optimizer the harness knows, one line each. The planner, <c>harness list</c>, the config
/// loader, the conformance tests and the micro-benchmarks all read this list, so adding a line here
/// is all the wiring a new optimizer needs.
/// </summary>
public static class OptimizerCatalog
{
    private static long ParamBytes(IReadOnlyList<NamedParameter> ps) => ps.Sum(p => p.Value.numel() * p.Value.element_size());

    public static IReadOnlyList<OptimizerDescriptor> All { get; } =
    [
        OptimizerDescriptor.Of<AdamWOptions>("adamw", OptimizerTraits.PerParameterStep | OptimizerTraits.SlabStep | OptimizerTraits.TileFusedLinear | OptimizerTraits.HasCudaKernel,
            "AdamW, decoupled weight decay (arXiv 1711.05101; torch.optim.AdamW)", (p, _) => 2 * ParamBytes(p), (p, o) => new AdamW.AdamW(p, o))
            .WithStepCost<AdamWOptions>((p, _, state) => StepCost.Elementwise(p, state))
            with { Checks = new() { Options = (lr, wd, impl) => new AdamWOptions { Lr = lr, WeightDecay = wd, Implementation = impl ?? ImplementationChoice.Auto },
                FusedBoundFloat32 = 1e-6, SlowTensorOps = false, ForgeRouteCases = [new(1, 32, 0), new(2, 7, 0), new(1, 8, 0.05)],
                WholeRunOptions = (wd, _, impl) => new AdamWOptions { Betas = [0.9, 0.95], WeightDecay = wd, Implementation = impl } }, Sharding = ShardGranularity.Elements },
        OptimizerDescriptor.Of<LionOptions>("lion", OptimizerTraits.PerParameterStep | OptimizerTraits.SlabStep,
            "Lion, sign momentum (arXiv 2302.06675; google/automl lion)", (p, _) => ParamBytes(p), (p, o) => new Lion.Lion(p, o))
            .WithStepCost<LionOptions>((p, _, state) => StepCost.Elementwise(p, state))
            with { Checks = new() { Options = (lr, wd, _) => new LionOptions { Lr = lr, WeightDecay = wd }, ForgeLr = 3e-4, ForgeRouteCases = [new(1, 5, 0)] }, Sharding = ShardGranularity.Elements },
        OptimizerDescriptor.Of<Adam8bitOptions>("adam8bit", OptimizerTraits.PerParameterStep | OptimizerTraits.QuantizedState | OptimizerTraits.SlabStep | OptimizerTraits.TileFusedLinear | OptimizerTraits.HasCudaKernel,
            "8-bit Adam, block-wise dynamic quantization (arXiv 2110.02861; bitsandbytes 0.43.1)", (p, o) => p.Sum(o.StateBytes), (p, o) => new Adam8bit.Adam8bit(p, o))
            .WithStepCost<Adam8bitOptions>((p, _, state) => StepCost.Elementwise(p, state))
            with { Checks = new() { Options = (lr, wd, impl) => new Adam8bitOptions { Lr = lr, WeightDecay = wd, Implementation = impl ?? ImplementationChoice.Auto },
                ForgeRouteCases = [new(1, 32, 0)],
                WholeRunOptions = (wd, min8bit, impl) => new Adam8bitOptions { Betas = [0.9, 0.95], WeightDecay = wd, Min8BitSize = min8bit, Implementation = impl } },
                // Aligned to the largest valid quantization block, so the ranges fall on block boundaries whatever block_size is set.
                Sharding = ShardGranularity.Blocks(Quantization.BlockwiseQuantization.MaxBlockSize) },
        OptimizerDescriptor.Of<GaLoreOptions>("galore", OptimizerTraits.PerParameterStep | OptimizerTraits.ProjectsMatrices | OptimizerTraits.HasCudaKernel
            | OptimizerTraits.MatmulPrecisionOption | OptimizerTraits.SubspaceIterationRefresh,
            "GaLore, Adam in an SVD gradient subspace (arXiv 2403.03507; jiaweizzhao/GaLore)", GaLore.GaLore.ExpectedStateBytes, (p, o) => new GaLore.GaLore(p, o))
            .WithStepCost<GaLoreOptions>(GaLoreStepCost.Of, GaLoreStepCost.RefreshEachStep),
        OptimizerDescriptor.Of<QGaLoreOptions>("qgalore", OptimizerTraits.PerParameterStep | OptimizerTraits.ProjectsMatrices | OptimizerTraits.QuantizedState
            | OptimizerTraits.HasCudaKernel,
            "Q-GaLore, INT4 adaptive SVD projection + INT8 stochastic-rounded weights (arXiv 2407.08296; VITA-Group/Q-GaLore)", QGaLore.QGaLore.ExpectedStateBytes, (p, o) => new QGaLore.QGaLore(p, o))
            .WithStepCost<QGaLoreOptions>(QGaLoreStepCost.Of, QGaLoreStepCost.RefreshEachStep),
        OptimizerDescriptor.Of<SubTrackPlusPlusOptions>("subtrackpp", OptimizerTraits.PerParameterStep | OptimizerTraits.ProjectsMatrices | OptimizerTraits.HasCudaKernel
            | OptimizerTraits.MatmulPrecisionOption,
            "SubTrack++, Grassmann subspace tracking + projection-aware Adam (arXiv 2502.01586; criticalml-uw/SubTrack)",
            SubTrackPlusPlus.SubTrackPlusPlus.ExpectedStateBytes, (p, o) => new SubTrackPlusPlus.SubTrackPlusPlus(p, o))
            .WithStepCost<SubTrackPlusPlusOptions>(SubTrackPlusPlusStepCost.Of, SubTrackPlusPlusStepCost.RefreshEachStep),
        OptimizerDescriptor.Of<GefenOptions>("gefen", OptimizerTraits.QuantizedState | OptimizerTraits.HasCudaKernel,
            "Gefen by Nadav Benedek, block-shared v + uint8 codebook m (arXiv 2606.13894; ndvbd/Gefen v1.2.3)", Gefen.Gefen.ExpectedStateBytesFromGradients, (p, o) => new Gefen.Gefen(p, o))
            .WithStepCost<GefenOptions>((p, _, state) => StepCost.Elementwise(p, state))
            .WithStateBytesBounds<GefenOptions>(GefenStateBounds.Of)
            with { Checks = new() { Options = (lr, wd, impl) => new GefenOptions { Lr = lr, WeightDecay = wd, Implementation = impl ?? ImplementationChoice.Auto },
                WholeRunOptions = (wd, _, impl) => new GefenOptions { Betas = [0.9, 0.95], WeightDecay = wd, Implementation = impl },
                WholeRunStateRelative = 1e-5 },
                // The codebook is learned once from every gradient present: a rank stepping only its slice would learn another.
                Sharding = ShardGranularity.NotSharded },
        OptimizerDescriptor.Of<SwanOptions>("swan", OptimizerTraits.PerParameterStep | OptimizerTraits.Stateless | OptimizerTraits.MatmulPrecisionOption | OptimizerTraits.HasCudaKernel,
            "SWAN, stateless GradNorm + GradWhitening, Adam off-matrix (arXiv 2412.13148; no public code)", (p, o) => 2 * ParamBytes(p.Where(q => !Swan.Swan.UsesSwan(q, o)).ToList()), (p, o) => new Swan.Swan(p, o))
            .WithStepCost<SwanOptions>(SwanStepCost.Of),
        OptimizerDescriptor.Of<MuonOptions>("muon", OptimizerTraits.PerParameterStep,
            "Muon, Newton-Schulz orthogonalised momentum on matrices, AdamW elsewhere (Jordan et al. 2024; KellerJordan/Muon, torch.optim.Muon)",
            (p, _) => ParamBytes(p.Where(Muon.Muon.UsesMuon).ToList()) + 2 * ParamBytes(p.Where(q => !Muon.Muon.UsesMuon(q)).ToList()),
            (p, o) => new Muon.Muon(p, o))
            .WithStepCost<MuonOptions>(MuonStepCost.Of)
            with { Checks = new() { DeviceCheckOptions = () => new MuonOptions { NsDtype = Muon.NewtonSchulzDtype.Float32 } } },
        OptimizerDescriptor.Of<AdafactorOptions>("adafactor", OptimizerTraits.PerParameterStep,
            "Adafactor, factored second moments, as torch.optim.Adafactor defines it (arXiv 1804.04235; torch/optim/_adafactor.py)",
            Adafactor.Adafactor.ExpectedStateBytes, (p, o) => new Adafactor.Adafactor(p, o))
            .WithStepCost<AdafactorOptions>((p, _, state) => StepCost.Elementwise(p, state)),
        OptimizerDescriptor.Of<AdamMiniOptions>("adam_mini", OptimizerTraits.PerParameterStep,
            "Adam-mini, one second moment per head / neuron / token block (arXiv 2406.16793; zyushun/Adam-mini v1.1.1)",
            AdamMini.AdamMini.ExpectedStateBytes, (p, o) => new AdamMini.AdamMini(p, o))
            .WithStepCost<AdamMiniOptions>((p, _, state) => StepCost.Elementwise(p, state)),
        OptimizerDescriptor.Of<ApolloOptions>("apollo", OptimizerTraits.PerParameterStep | OptimizerTraits.ProjectsMatrices,
            "APOLLO / APOLLO-Mini (variant: mini), channel/tensor-wise scaling from a random projection (arXiv 2412.05270; zhuhanqing/APOLLO)",
            Apollo.Apollo.ExpectedStateBytes, (p, o) => new Apollo.Apollo(p, o))
            .WithStepCost<ApolloOptions>(ApolloStepCost.Of, ApolloStepCost.RefreshEachStep)
            with { Variants = [new("apollo-mini", o => (ApolloOptions)o with { Variant = ApolloVariant.Mini, Rank = null })] },
    ];

    /// <summary>The entry for a kind, or null.</summary>
    public static OptimizerDescriptor? Find(string kind) =>
        All.FirstOrDefault(d => string.Equals(d.Kind, kind, StringComparison.Ordinal));
}
