using Harness.Optimizers;
using Harness.Optimizers.Adam8bit;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Gefen;
using Harness.Optimizers.Kernels;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Harness.Tests.Kernels;

/// <summary>
/// The fused kernels (host-emulated build of the CUDA source) against the tensor-ops implementation of the
/// same optimizer, on the same parameters and gradients, on CPU. Torch's CPU ops round a few steps
/// differently from its CUDA ops (scalar division, FMA), so fp32 comparisons allow ulps relative to the
/// update; quantized states allow a bounded number of code flips.
/// </summary>
[Collection(EmulatedKernels.Collection)]
public sealed class EmulatedKernelTests(EmulatedKernels emulated)
{
    private readonly FusedKernels _kernels = emulated.Kernels;
    private readonly string _libraryPath = emulated.LibraryPath;

    private sealed record Outcome(Tensor[] Params, Dictionary<string, Tensor> State, string Implementation, IOptimizer Optimizer);

    private static Tensor[][] Gradients(long[][] shapes, int steps, ScalarType dtype, int seed)
    {
        var gen = new Generator((ulong)seed, CPU);
        var scales = shapes.Select(s => exp(randn(s.Length == 2 ? new[] { s[0], 1L } : new[] { 1L }, generator: gen) * 2) * 0.01).ToArray();
        return Enumerable.Range(0, steps).Select(_ => shapes.Select((s, i) => (randn(s, generator: gen) * scales[i]).to(dtype)).ToArray()).ToArray();
    }

    private Outcome Run(Func<IReadOnlyList<NamedParameter>, string, IOptimizer> create, string implementation, long[][] shapes, Tensor[][] grads, ScalarType dtype)
    {
        var ps = Initial(shapes, dtype).Select((t, i) => new NamedParameter($"p{i}", new TorchSharp.Modules.Parameter(t),
            shapes[i].Length == 2 ? ParamRole.Matrix : ParamRole.Vector)).ToList();
        var opt = create(ps, implementation);
        ((IFusedKernelUser)opt).AttachKernels(_kernels, "emulated");
        foreach (var step in grads)
        {
            for (var i = 0; i < ps.Count; i++) ps[i].Value.grad = step[i].clone();
            opt.Step(1e-2);
            opt.ZeroGrad();
        }
        var state = opt.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        return new(ps.Select(p => p.Value.detach().to(ScalarType.Float32)).ToArray(), state, opt.Implementation, opt);
    }

    // The initial parameters of every run (same seed), in the parameter dtype.
    private static Tensor[] Initial(long[][] shapes, ScalarType dtype)
    {
        var gen = new Generator(3, CPU);
        return shapes.Select(s => randn(s, generator: gen).to(dtype)).ToArray();
    }

    // max |fused − reference| / max |reference − initial| over every tensor.
    private static double WorstRelative(Outcome fused, Outcome reference, long[][] shapes, ScalarType dtype)
    {
        var init = Initial(shapes, dtype).Select(t => t.to(ScalarType.Float32)).ToArray();
        double worst = 0;
        for (var i = 0; i < shapes.Length; i++)
        {
            var moved = (reference.Params[i] - init[i]).abs().max().item<float>();
            Assert.True(moved > 0, $"parameter {i} did not move");
            worst = Math.Max(worst, (fused.Params[i] - reference.Params[i]).abs().max().item<float>() / moved);
        }
        return worst;
    }

    // Elements more than `ulps` bf16 ulps (at the larger magnitude of the two; bf16 keeps 8 significant bits:
    // ulp(x) = 2^(floor(log2 |x|) − 7)) plus `share` of the tensor's largest update apart.
    private static (long Over, long Total) UlpsApart(Outcome fused, Outcome reference, long[][] shapes, ScalarType dtype, int ulps, double share)
    {
        var init = Initial(shapes, dtype).Select(t => t.to(ScalarType.Float32)).ToArray();
        long over = 0, total = 0;
        for (var i = 0; i < fused.Params.Length; i++)
        {
            var a = fused.Params[i];
            var b = reference.Params[i];
            var moved = (b - init[i]).abs().max().item<float>();
            var magnitude = a.abs().maximum(b.abs()).clamp_min(1e-30);
            var ulp = pow(2.0, floor(log2(magnitude)) - 7);
            over += (a - b).abs().gt(ulp * ulps + share * moved).sum().item<long>();
            total += a.numel();
        }
        return (over, total);
    }

    private static (long Flips, long Codes) CodeFlips(Outcome fused, Outcome reference)
    {
        long flips = 0, codes = 0;
        foreach (var (key, t) in reference.State.Where(kv => kv.Value.dtype == ScalarType.Byte))
        {
            codes += t.numel();
            flips += t.ne(fused.State[key]).sum().item<long>();
        }
        return (flips, codes);
    }

    [Theory]
    [InlineData(ScalarType.Float32, 3e-5)]  // CPU torch divides by √bc2 where the kernel multiplies by its reciprocal (as CUDA torch does): a few ulps of a step
    [InlineData(ScalarType.BFloat16, 2e-2)]
    public void AdamW_fused_matches_tensor_ops_over_many_tensors_and_launches(ScalarType dtype, double bound)
    {
        using var scope = NewDisposeScope();
        // 60 tensors: two launch groups (48 per launch); odd sizes: vector tails and scalar paths.
        var shapes = Enumerable.Range(0, 60).Select(i => i % 3 == 0 ? new long[] { 13 + i, 7 } : i % 3 == 1 ? new long[] { 8195 + i } : [33, 250]).ToArray();
        var grads = Gradients(shapes, 3, dtype, 5);
        IOptimizer Create(IReadOnlyList<NamedParameter> ps, string impl) => new AdamW(ps, new AdamWOptions { WeightDecay = 0.1, Implementation = impl });
        var fused = Run(Create, ImplementationChoice.CudaFused, shapes, grads, dtype);
        var reference = Run(Create, ImplementationChoice.TensorOps, shapes, grads, dtype);
        Assert.Equal(ImplementationChoice.CudaFusedEmulated, fused.Implementation);
        Assert.Equal("tensor-ops", reference.Implementation);
        if (dtype == ScalarType.Float32)
        {
            var worst = WorstRelative(fused, reference, shapes, dtype);
            Assert.True(worst <= bound, $"worst parameter difference {worst:E2} of the update, bound {bound:E0}");
        }
        else
        {
            // bf16: one ulp of a parameter is a large part of a few small updates; count ulps instead.
            // Torch's CPU bf16 ops round a few intermediates differently from its CUDA ops (FMA, scalar
            // division), which the kernel follows. An element may then differ by one ulp of the parameter, or
            // (near zero, where ulps are tiny) by a small part of the update: count elements beyond both.
            var (over, total) = UlpsApart(fused, reference, shapes, dtype, 1, 0.05);
            Assert.True(over <= 1e-3 * total, $"{over}/{total} parameters more than one bf16 ulp and 5% of the update apart");
        }
        foreach (var (key, t) in reference.State.Where(kv => kv.Key.EndsWith("/exp_avg_sq", StringComparison.Ordinal)))
        {
            var rel = ((fused.State[key] - t).abs().max() / t.abs().max()).to(ScalarType.Float32).item<float>();
            Assert.True(rel <= bound, $"{key}: {rel:E2}");
        }
        fused.Optimizer.Dispose();
        reference.Optimizer.Dispose();
    }

    [Theory]
    [InlineData(ScalarType.Float32, 2e-2, 2e-3)]
    [InlineData(ScalarType.BFloat16, 5e-2, 1e-2)]
    public void Adam8bit_fused_matches_tensor_ops_with_few_code_flips(ScalarType dtype, double bound, double flipBound)
    {
        using var scope = NewDisposeScope();
        // A partial last block (37 × 1377 = 50949 = 24 blocks + 1797), an exact multiple, and a small tensor on the fp32 path.
        long[][] shapes = [[37, 1377], [8, 1024], [300]];
        var grads = Gradients(shapes, 4, dtype, 6);
        IOptimizer Create(IReadOnlyList<NamedParameter> ps, string impl) => new Adam8bit(ps, new Adam8bitOptions { WeightDecay = 0.05, Implementation = impl });
        var fused = Run(Create, ImplementationChoice.CudaFused, shapes, grads, dtype);
        var reference = Run(Create, ImplementationChoice.TensorOps, shapes, grads, dtype);
        Assert.Equal(ImplementationChoice.CudaFusedEmulated, fused.Implementation);
        var worst = WorstRelative(fused, reference, shapes, dtype);
        var (flips, codes) = CodeFlips(fused, reference);
        Assert.True(codes == 2 * (37 * 1377 + 8 * 1024), $"{codes} codes compared");
        Assert.True(worst <= bound, $"worst parameter difference {worst:E2} of the update, bound {bound:E0}");
        Assert.True(flips <= flipBound * codes, $"{flips}/{codes} codes differ");
        foreach (var key in reference.State.Keys.Where(k => k.Contains("absmax", StringComparison.Ordinal)))
        {
            var rel = ((fused.State[key] - reference.State[key]).abs().max() / reference.State[key].abs().max()).item<float>();
            Assert.True(rel <= 1e-5, $"{key}: {rel:E2}");
        }
        fused.Optimizer.Dispose();
        reference.Optimizer.Dispose();
    }

    // FORGE's slab steps go through the kernel too (row slabs of contiguous tensors are contiguous): the slab-wise
    // fused result matches the whole-tensor tensor-ops step, and differs from it in the last bits (CPU tensor ops
    // divide where the kernel multiplies by a reciprocal), which shows the kernel, not the tensor-ops rule, ran.
    [Theory]
    [InlineData("adamw", 7, 1e-5)]
    [InlineData("adam8bit", 16, 2e-2)]
    public void Slab_steps_run_the_fused_kernel_and_match_the_whole_tensor_step(string kind, int slabRows, double bound)
    {
        using var scope = NewDisposeScope();
        long[][] shapes = kind == "adamw" ? [[50, 96]] : [[64, 256]];
        var grads = Gradients(shapes, 3, ScalarType.Float32, 8);
        IOptimizer Create(IReadOnlyList<NamedParameter> ps, string impl) => kind == "adamw"
            ? new AdamW(ps, new AdamWOptions { WeightDecay = 0.05, Implementation = impl })
            : new Adam8bit(ps, new Adam8bitOptions { WeightDecay = 0.05, Implementation = impl });
        var reference = Run(Create, ImplementationChoice.TensorOps, shapes, grads, ScalarType.Float32);

        var p = new NamedParameter("p0", new TorchSharp.Modules.Parameter(Initial(shapes, ScalarType.Float32)[0]), ParamRole.Matrix);
        var opt = Create([p], ImplementationChoice.CudaFused);
        ((IFusedKernelUser)opt).AttachKernels(_kernels, "emulated");
        var rows = shapes[0][0];
        foreach (var step in grads)
        {
            var g = step[0];
            var slabs = Enumerable.Range(0, (int)((rows + slabRows - 1) / slabRows))
                .Select(k => new GradientSlab(k * slabRows, g.narrow(0, k * slabRows, Math.Min(slabRows, rows - k * slabRows)).clone()));
            ((ISlabStep)opt).StepSlabs(p, slabs, 1e-2);
        }
        var fused = new Outcome([p.Value.detach().clone()], opt.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone()), opt.Implementation, opt);
        var worst = WorstRelative(fused, reference, shapes, ScalarType.Float32);
        Assert.True(worst <= bound, $"worst parameter difference {worst:E2} of the update, bound {bound:E0}");
        if (kind == "adamw")
            Assert.True(fused.Params[0].ne(reference.Params[0]).sum().item<long>() > 0, "slab steps bit-identical to tensor ops: the kernel did not run");
        else
        {
            var (flips, codes) = CodeFlips(fused, reference);
            Assert.True(codes == 2 * 64 * 256 && flips <= 2e-3 * codes, $"{flips}/{codes} codes differ");
        }
        opt.Dispose();
        reference.Optimizer.Dispose();
    }

    [Theory]
    [InlineData(ScalarType.Float32, 2e-2, 2e-3)]
    [InlineData(ScalarType.BFloat16, 6e-2, 2e-2)]
    public void Gefen_fused_matches_tensor_ops_for_block_periods_period_one_and_long_segments(ScalarType dtype, double bound, double flipBound)
    {
        using var scope = NewDisposeScope();
        // Row-structured gradients. Periods (chosen from the first gradient, as the reference does; asserted below):
        // 768 (4-element vector path), 1 for the short vector (its only candidate above 8 is the last), one with P % 4 != 0 (scalar path), one of at most 512 with
        // P % 4 == 0 (a warp per segment, vector path), and the prime row length 16411, which the cap rule keeps and
        // which is longer than the kernel's 16 × 1024 register cache.
        long[][] shapes = [[24, 768], [8, 16411], [2048], [4, 770], [16, 256], [36]];
        var grads = Gradients(shapes[..3], 3, dtype, 7).Zip(Gradients(shapes[3..], 3, dtype, 8), (a, b) => a.Concat(b).ToArray()).ToArray();
        IOptimizer Create(IReadOnlyList<NamedParameter> ps, string impl) => new Harness.Optimizers.Gefen.Gefen(ps, new GefenOptions { WeightDecay = 0.05, Implementation = impl });
        var fused = Run(Create, ImplementationChoice.CudaFused, shapes, grads, dtype);
        var reference = Run(Create, ImplementationChoice.TensorOps, shapes, grads, dtype);
        Assert.Equal(ImplementationChoice.CudaFusedEmulated, fused.Implementation);
        var periods = ((IOptimizerDiagnostics)fused.Optimizer).ParameterChoices[Harness.Optimizers.Gefen.Gefen.PeriodsKey];
        Assert.Equal(periods, ((IOptimizerDiagnostics)reference.Optimizer).ParameterChoices[Harness.Optimizers.Gefen.Gefen.PeriodsKey]);
        var chosen = string.Join(", ", periods.Select(kv => $"{kv.Key}={kv.Value}"));
        Assert.True(periods.Values.Any(p => p > 1) && periods.Values.Any(p => p == 1), chosen);
        var worst = WorstRelative(fused, reference, shapes, dtype);
        var (flips, codes) = CodeFlips(fused, reference);
        Assert.True(codes == 24 * 768 + 8 * 16411 + 4 * 770 + 16 * 256 + 2048 + 36, $"{codes} codes compared");
        Assert.True(periods.Values.Any(p => p > 1 && p % 4 != 0) && periods.Values.Any(p => p > 16 * 1024)
            && periods.Values.Any(p => p > 1 && p <= 512 && p % 4 == 0), chosen);
        Assert.True(worst <= bound, $"worst parameter difference {worst:E2} of the update, bound {bound:E0}");
        Assert.True(flips <= flipBound * codes, $"{flips}/{codes} codes differ");
        foreach (var key in reference.State.Keys.Where(k => k.EndsWith("/vmean", StringComparison.Ordinal)))
        {
            var r = reference.State[key].to(ScalarType.Float32);
            var rel = ((fused.State[key].to(ScalarType.Float32) - r).abs().max() / r.abs().max()).item<float>();
            Assert.True(rel <= (dtype == ScalarType.Float32 ? 1e-5 : 1e-2), $"{key}: {rel:E2}");
        }
        fused.Optimizer.Dispose();
        reference.Optimizer.Dispose();
    }

    [Fact]
    public void A_period_that_does_not_divide_its_tensor_is_refused_with_the_reason()
    {
        using var scope = NewDisposeScope();
        var p = zeros(10);
        var e = Assert.Throws<InvalidOperationException>(() => _kernels.Gefen(
            [(p, zeros(10), zeros(10, ScalarType.Byte), zeros(3), zeros(3), 3L, 3L)], zeros(256), new GefenScalars(0.999f, 0.001f, 0.1f, 1f, 1f, 1e-8f, 1f, 1e-3f, false)));
        Assert.Contains("does not divide", e.Message);
    }

    [Fact]
    public void Cuda_fused_on_parameters_the_kernels_cannot_address_is_a_clear_error()
    {
        using var scope = NewDisposeScope();
        var ps = new List<NamedParameter> { new("w", new TorchSharp.Modules.Parameter(zeros(4, 4)), ParamRole.Matrix) };
        using var opt = new AdamW(ps, new AdamWOptions { Implementation = ImplementationChoice.CudaFused });
        var e = Assert.Throws<InvalidOperationException>(() => opt.AttachKernels(null, "no nvcc on this host"));
        Assert.Contains("cuda-fused", e.Message);
        Assert.Contains("no nvcc on this host", e.Message);
        using var auto = new AdamW(ps, new AdamWOptions());
        auto.AttachKernels(null, "no nvcc on this host");
        Assert.Equal("tensor-ops", auto.Implementation);
    }

    /// <summary>A test-only entry point of the emulated library (host arrays in, host arrays out).</summary>
    private TDelegate Export<TDelegate>(string name) where TDelegate : Delegate =>
        System.Runtime.InteropServices.Marshal.GetDelegateForFunctionPointer<TDelegate>(
            System.Runtime.InteropServices.NativeLibrary.GetExport(System.Runtime.InteropServices.NativeLibrary.Load(_libraryPath), name));

    [System.Runtime.InteropServices.UnmanagedFunctionPointer(System.Runtime.InteropServices.CallingConvention.Cdecl)]
    private delegate int CodeRank(int device, float[] keys, float[] xs, int n, [System.Runtime.InteropServices.Out] int[] ranks,
        [System.Runtime.InteropServices.Out] int[] onKey, [System.Runtime.InteropServices.Out] int[] sparse);

    /// <summary>
    /// The kernels find a code by a table indexed by the value's sign, exponent and top mantissa bits, then step
    /// over the keys inside the bucket: it must give the binary search's lower bound (the number of keys &lt; x)
    /// for every x, whatever the keys: the 8-bit maps' midpoints, a uniform code book, keys with duplicates,
    /// zeros of both signs, denormals, infinities and values past the table's range, and keys crowded into one
    /// bucket; probed at every key, its neighbouring floats, every bucket edge and random values. Where no bucket
    /// holds two keys (the 8-bit maps) the one-compare search runs instead, and must agree too; so must the
    /// "on a key" answer the tie rules read.
    /// </summary>
    [Fact]
    public void Code_search_table_gives_the_lower_bound_of_every_value()
    {
        var rank = Export<CodeRank>("hk_code_rank");
        var random = new Random(7);
        float[] Midpoints(Tensor map)
        {
            var c = map.data<float>().ToArray();
            return Enumerable.Range(0, 255).Select(i => (c[i] + c[i + 1]) * 0.5f).ToArray();
        }
        float SignedLogUniform() => (random.Next(2) == 0 ? -1f : 1f) * MathF.Pow(10f, (float)(random.NextDouble() * 14 - 12));
        var mixed = Enumerable.Range(0, 240).Select(_ => SignedLogUniform())
            .Concat([0f, -0f, 1e-40f, -1e-40f, 3.5f, -3.5f, 2f, -2f, float.PositiveInfinity, float.NegativeInfinity, 0.25f, 0.25f, 0.25f, -0.75f, -0.75f])
            .Order().ToArray();
        var uniform = Enumerable.Range(0, 255).Select(i => -1f + 2f * i / 255f).ToArray();
        var withZero = uniform.Select(k => k).ToArray();
        withZero[127] = 0f;  // (−0.0039 → 0): one key in (−2^-32, 2^-32), still one a bucket
        var belowZero = withZero.Select(k => k).ToArray();
        belowZero[126] = -1e-12f;  // a key just below a zero key: two keys around zero, the general search
        // name → (keys, whether the one-compare search applies)
        var keySets = new Dictionary<string, (float[] Keys, bool Sparse)>
        {
            ["signed dynamic map midpoints"] = (Midpoints(Harness.Optimizers.Quantization.DynamicMap.Create(signed: true)), true),
            ["unsigned dynamic map midpoints"] = (Midpoints(Harness.Optimizers.Quantization.DynamicMap.Create(signed: false)), true),
            ["uniform [-1, 1]"] = (uniform, true),
            ["uniform with a zero key"] = (withZero, true),
            ["a key just below a zero key"] = (belowZero, false),
            ["mixed, duplicates, zeros, infinities"] = (mixed, false),
            ["crowded into one bucket"] = (Enumerable.Range(0, 255).Select(i => 0.5f + i * 1e-5f).ToArray(), false),
        };
        foreach (var (name, (keys, sparse)) in keySets)
        {
            Assert.Equal(255, keys.Length);
            var probes = new List<float> { 0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -float.Epsilon, 1f, -1f };
            foreach (var k in keys) probes.AddRange([k, MathF.BitDecrement(k), MathF.BitIncrement(k)]);
            for (var e = -40; e <= 3; e++)
                for (var m = 0; m < 64; m++)
                {
                    var edge = MathF.ScaleB(1f + m / 64f, e);
                    probes.AddRange([edge, -edge, MathF.BitDecrement(edge), -MathF.BitDecrement(edge)]);
                }
            for (var i = 0; i < 2000; i++) probes.AddRange([(float)(random.NextDouble() * 6 - 3), SignedLogUniform()]);
            var xs = probes.ToArray();
            var got = new int[xs.Length];
            var onKey = new int[xs.Length];
            var tookSparse = new int[1];
            Assert.Equal(0, rank(0, keys, xs, xs.Length, got, onKey, tookSparse));
            Assert.True(tookSparse[0] == (sparse ? 1 : 0), $"{name}: one-compare search {(tookSparse[0] == 1 ? "taken" : "not taken")}");
            var wrong = Enumerable.Range(0, xs.Length)
                .Where(i => got[i] != (float.IsNaN(xs[i]) ? 0 : keys.Count(key => key < xs[i]))).ToList();
            Assert.True(wrong.Count == 0, $"{name}: {wrong.Count} of {xs.Length} values ranked wrong, first x = {(wrong.Count > 0 ? xs[wrong[0]] : 0):R}");
            // On a key: x equals the first key ≥ x (keys[rank], or the +∞ sentinel past the last key).
            var wrongOn = Enumerable.Range(0, xs.Length)
                .Where(i => onKey[i] != (!float.IsNaN(xs[i]) && (got[i] < 255 ? keys[got[i]] : float.PositiveInfinity) == xs[i] ? 1 : 0)).ToList();
            Assert.True(wrongOn.Count == 0, $"{name}: {wrongOn.Count} of {xs.Length} values with the wrong on-key answer, first x = {(wrongOn.Count > 0 ? xs[wrongOn[0]] : 0):R}");
        }
    }

    [System.Runtime.InteropServices.UnmanagedFunctionPointer(System.Runtime.InteropServices.CallingConvention.Cdecl)]
    private delegate int Quotient(int device, float[] a, float[] b, int n, [System.Runtime.InteropServices.Out] float[] q);

    /// <summary>
    /// The kernels divide many values by one block-wide value through its rounded reciprocal and one FMA
    /// correction: it must equal IEEE division bit for bit (sign of zero included) for every pair, in range and
    /// out of it (where it falls back): random magnitudes over 2^±70, quotients that overflow or are subnormal,
    /// every 16th significand of a against b with all-ones, power-of-two and other significands, zeros, denormals,
    /// infinities and NaN.
    /// </summary>
    [Fact]
    public void Division_by_a_hoisted_reciprocal_is_ieee_division()
    {
        var quotient = Export<Quotient>("hk_quotient");
        var random = new Random(11);
        var a = new List<float>();
        var b = new List<float>();
        for (var i = 0; i < 200_000; i++)
        {
            var d = MathF.ScaleB(1f + (float)random.NextDouble(), random.Next(-70, 71));
            var u = MathF.ScaleB(1f + (float)random.NextDouble(), random.Next(-60, 1)) * (random.Next(2) == 0 ? -1 : 1);
            a.Add(d * u);
            b.Add(d);
        }
        // Quotients past the float range (an unguarded correction gives NaN, not ±∞) and subnormal ones (where it
        // can round wrong: −0x1.575c04p-94 / 0x1.626f8p+51 gave −0x1.ep-146, not −0x1p-145).
        for (var i = 0; i < 50_000; i++)
        {
            a.Add(MathF.ScaleB(1f + (float)random.NextDouble(), random.Next(80, 101)) * (random.Next(2) == 0 ? -1 : 1));
            b.Add(MathF.ScaleB(1f + (float)random.NextDouble(), random.Next(-60, -19)));
            a.Add(MathF.ScaleB(1f + (float)random.NextDouble(), random.Next(-100, -63)) * (random.Next(2) == 0 ? -1 : 1));
            b.Add(MathF.ScaleB(1f + (float)random.NextDouble(), random.Next(20, 61)));
        }
        a.Add(BitConverter.Int32BitsToSingle(unchecked((int)0x90abae02)));  // −0x1.575c04p-94
        b.Add(BitConverter.Int32BitsToSingle(0x593137c0));                  // 0x1.626f8p+51
        foreach (var bits in new[] { 0x3fffffff, 0x3f800000, 0x3f800001, 0x3fd55555, 0x1f7fffff, 0x5e800000 })
        {
            var d = BitConverter.Int32BitsToSingle(bits);
            for (var m = 0; m < 1 << 23; m += 16)
            {
                a.Add(BitConverter.Int32BitsToSingle(0x3f000000 | m) * d);
                b.Add(d);
            }
        }
        float[] specials = [0f, -0f, float.Epsilon, -1e-40f, 1e-38f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e30f, 3f];
        foreach (var x in specials)
            foreach (var y in new[] { 1f, 0.3f, 1e-20f, 1e20f, 1e-40f, 0f, float.PositiveInfinity })
            {
                a.Add(x);
                b.Add(y);
            }
        var got = new float[a.Count];
        Assert.Equal(0, quotient(0, a.ToArray(), b.ToArray(), a.Count, got));
        var wrong = Enumerable.Range(0, a.Count).Where(i =>
        {
            var want = a[i] / b[i];
            return float.IsNaN(want) ? !float.IsNaN(got[i]) : BitConverter.SingleToInt32Bits(want) != BitConverter.SingleToInt32Bits(got[i]);
        }).ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {a.Count} quotients differ, first {(wrong.Count > 0 ? $"{a[wrong[0]]:R} / {b[wrong[0]]:R} = {got[wrong[0]]:R}" : "")}");
    }
}
