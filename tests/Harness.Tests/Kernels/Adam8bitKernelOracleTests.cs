using Harness.Optimizers.Kernels;
using Harness.Optimizers.Quantization;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Harness.Tests.Kernels;

/// <summary>
/// The 8-bit Adam kernel (host-emulated build) against a scalar restatement of its element rule, bit for bit:
/// parameters, both code tensors and both absmax tensors after two steps. The restatement is plain IEEE single
/// arithmetic (C# float ops round each result, as the kernel's __f*_rn ops do), so any change to the kernel's
/// search tables, its exact division by the block maximum, its tie and sign rules or its fast paths that moves a
/// single bit shows here. Cases: the bitsandbytes maps (the kernel's fast path), a map with codes crowded into one
/// search bucket and a map with a negative zero after a positive one (both take the general path), fp32 and bf16
/// parameters, full blocks, partial blocks and another block size, non-finite gradients, all-zero blocks and
/// blocks whose values are too small or too large for the hoisted division.
/// </summary>
[Collection(EmulatedKernels.Collection)]
public sealed class Adam8bitKernelOracleTests(EmulatedKernels emulated)
{
    private readonly FusedKernels _kernels = emulated.Kernels;

    private sealed class Maps
    {
        public required float[] Code1 { get; init; }
        public required float[] Code2 { get; init; }
        public float[] Mid1 => Midpoints(Code1);
        public float[] Mid2 => Midpoints(Code2);
        public int Zero1 => ZeroIndex(Code1);
        public int Zero2 => ZeroIndex(Code2);

        private static float[] Midpoints(float[] c) => Enumerable.Range(0, 255).Select(i => (c[i] + c[i + 1]) * 0.5f).ToArray();

        // The first index of the smallest |code| (argmin).
        private static int ZeroIndex(float[] c)
        {
            var best = 0;
            for (var i = 1; i < c.Length; i++) if (MathF.Abs(c[i]) < MathF.Abs(c[best])) best = i;
            return best;
        }
    }

    private static float[] MapOf(bool signed)
    {
        using var t = DynamicMap.Create(signed);
        return t.data<float>().ToArray();
    }

    public static TheoryData<string, bool, int> Cases() => new()
    {
        { "bitsandbytes maps", false, 2048 },
        { "bitsandbytes maps", true, 2048 },
        { "bitsandbytes maps", false, 256 },
        { "codes crowded into one bucket", false, 2048 },
        { "codes crowded into one bucket", true, 256 },
        { "a negative zero after a positive zero", false, 2048 },
    };

    private static Maps MapsFor(string name)
    {
        var code1 = MapOf(signed: true);
        var code2 = MapOf(signed: false);
        switch (name)
        {
            case "codes crowded into one bucket":
                // Ten codes of each map inside one 1/128-octave bucket, still ascending.
                for (var i = 0; i < 10; i++)
                {
                    code1[200 + i] = 0.3f + i * 1e-6f;
                    code2[150 + i] = 0.02f + i * 1e-8f;
                }
                Array.Sort(code1);
                Array.Sort(code2);
                break;
            case "a negative zero after a positive zero":
                // Index 127 holds +0; the next code becomes −0 (equal value, still non-decreasing): the codes' signs are
                // no longer "negatives first".
                Assert.Equal(0f, code1[127]);
                code1[128] = -0f;
                break;
        }
        return new Maps { Code1 = code1, Code2 = code2 };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Adam8bit_kernel_equals_its_scalar_rule_bit_for_bit(string mapName, bool bf16, int blockSize)
    {
        using var scope = NewDisposeScope();
        var maps = MapsFor(mapName);
        var dtype = bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        // Three full 2048-element blocks + a partial one; a whole number of blocks; a tensor shorter than a block.
        int[] sizes = [3 * 2048 + 777, 4096, 300];
        var random = new Random(41 + blockSize + (bf16 ? 1 : 0) + mapName.Length);
        var state = sizes.Select((n, i) => NewTensorState(n, blockSize, random, i)).ToList();
        const float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, lr = 1e-3f, wd = 0.01f;
        for (var step = 1; step <= 2; step++)
        {
            var grads = state.Select((s, i) => Gradient(s.P.Length, blockSize, random, i)).ToList();
            var correction1 = 1f - MathF.Pow(beta1, step);
            var correction2 = MathF.Sqrt(1f - MathF.Pow(beta2, step));
            var scalars = new Adam8bitScalars(beta1, beta2, 1f - beta1, 1f - beta2, correction2 * eps, -lr * correction2 / correction1,
                1f - lr * wd, maps.Code1[128], true, blockSize, maps.Zero1, maps.Zero2);

            // The kernel, on tensors holding the current state.
            var tensors = state.Select((s, i) => (
                P: tensor(s.P).to(dtype), G: tensor(grads[i]).to(dtype),
                C1: tensor(s.C1), C2: tensor(s.C2), A1: tensor(s.A1), A2: tensor(s.A2))).ToList();
            _kernels.Adam8bit(tensors.Select(t => (t.P, t.G, t.C1, t.C2, (Tensor?)t.A1, (Tensor?)t.A2)).ToList(),
                tensor(maps.Code1), tensor(maps.Code2), tensor(maps.Mid1), tensor(maps.Mid2), scalars);

            for (var i = 0; i < state.Count; i++)
            {
                // The rule, on the same inputs (parameters and gradients as the kernel reads them: rounded to the dtype).
                var s = state[i];
                var p = s.P.Select(x => bf16 ? RoundBf16(x) : x).ToArray();
                var g = grads[i].Select(x => bf16 ? RoundBf16(x) : x).ToArray();
                Rule(p, g, s.C1, s.C2, s.A1, s.A2, maps, scalars, bf16);
                var t = tensors[i];
                var gotP = t.P.to(ScalarType.Float32).data<float>().ToArray();
                AssertSame($"{mapName}, step {step}, tensor {i}: parameters", p, gotP);
                AssertSame($"{mapName}, step {step}, tensor {i}: codes of m", s.C1, t.C1.data<byte>().ToArray());
                AssertSame($"{mapName}, step {step}, tensor {i}: codes of v", s.C2, t.C2.data<byte>().ToArray());
                AssertSame($"{mapName}, step {step}, tensor {i}: absmax of m", s.A1, t.A1.data<float>().ToArray());
                AssertSame($"{mapName}, step {step}, tensor {i}: absmax of v", s.A2, t.A2.data<float>().ToArray());
                state[i] = s with { P = p };
            }
        }
    }

    private static void AssertSame<T>(string what, T[] want, T[] got)
    {
        Assert.Equal(want.Length, got.Length);
        var wrong = Enumerable.Range(0, want.Length).Where(j => !BitsEqual(want[j], got[j])).ToList();
        Assert.True(wrong.Count == 0, $"{what}: {wrong.Count} of {want.Length} differ, first at {(wrong.Count > 0 ? wrong[0] : -1)}: " +
            $"want {(wrong.Count > 0 ? want[wrong[0]] : default)}, got {(wrong.Count > 0 ? got[wrong[0]] : default)}");
    }

    private static bool BitsEqual<T>(T a, T b) => (a, b) switch
    {
        (float x, float y) => BitConverter.SingleToInt32Bits(x) == BitConverter.SingleToInt32Bits(y) || (float.IsNaN(x) && float.IsNaN(y)),
        _ => EqualityComparer<T>.Default.Equals(a, b),
    };

    private sealed record TensorState(float[] P, byte[] C1, byte[] C2, float[] A1, float[] A2);

    // Random codes and log-uniform absmax values; block 1 of the first tensor starts at zero (codes at 0 and
    // absmax 0 with a zero gradient: the all-zero block), block 2 holds tiny absmax values and block 3 huge ones
    // (outside the hoisted division's range).
    private static TensorState NewTensorState(int n, int blockSize, Random random, int index)
    {
        var blocks = (n + blockSize - 1) / blockSize;
        var p = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var c1 = new byte[n];
        var c2 = new byte[n];
        random.NextBytes(c1);
        random.NextBytes(c2);
        var a1 = Enumerable.Range(0, blocks).Select(_ => MathF.Pow(10f, (float)(random.NextDouble() * 6 - 5))).ToArray();
        var a2 = Enumerable.Range(0, blocks).Select(_ => MathF.Pow(10f, (float)(random.NextDouble() * 8 - 9))).ToArray();
        if (index == 0 && blocks > 3)
        {
            Array.Fill(c1, (byte)127, blockSize, blockSize);  // the signed map's zero
            Array.Fill(c2, (byte)0, blockSize, blockSize);
            a1[1] = 0f;
            a2[1] = 0f;
            (a1[2], a2[2]) = (1e-33f, 1e-36f);
            (a1[3], a2[3]) = (3e25f, 1e30f);
        }
        return new TensorState(p, c1, c2, a1, a2);
    }

    // Gradients of a few scales; a few non-finite ones; zero over the first tensor's all-zero block, tiny and huge
    // over its next two blocks.
    private static float[] Gradient(int n, int blockSize, Random random, int index)
    {
        var g = Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-6, 0)))).ToArray();
        g[random.Next(n)] = float.PositiveInfinity;
        g[random.Next(n)] = float.NaN;
        if (index == 0 && n > 4 * blockSize)
        {
            Array.Fill(g, 0f, blockSize, blockSize);
            for (var j = 2 * blockSize; j < 3 * blockSize; j++) g[j] *= 1e-30f;
            for (var j = 3 * blockSize; j < 4 * blockSize; j++) g[j] *= 1e15f;
        }
        return g;
    }

    // bitsandbytes 0.43.1's blockwise 8-bit Adam step as the kernel computes it, element by element, in place.
    private static void Rule(float[] p, float[] g, byte[] c1, byte[] c2, float[] a1, float[] a2, Maps maps, Adam8bitScalars s, bool bf16)
    {
        var (code1, code2, mid1, mid2) = (maps.Code1, maps.Code2, maps.Mid1, maps.Mid2);
        var blockSize = s.BlockSize;
        for (var b = 0; b * blockSize < p.Length; b++)
        {
            var start = b * blockSize;
            var n = Math.Min(blockSize, p.Length - start);
            var m = new float[n];
            var v = new float[n];
            float max1 = 0f, max2 = 0f;
            for (var j = 0; j < n; j++)
            {
                var gg = g[start + j];
                var finite = float.IsFinite(gg);
                var g0 = finite ? gg : 0f;
                m[j] = code1[c1[start + j]] * a1[b];
                v[j] = code2[c2[start + j]] * a2[b];
                v[j] = v[j] * s.Beta2 + g0 * s.W2 * g0;
                m[j] = m[j] * s.Beta1 + g0 * s.W1;
                if (!finite) (m[j], v[j]) = (0f, 0f);
                max1 = FMax(max1, MathF.Abs(m[j]));
                max2 = FMax(max2, v[j]);
            }
            // Lanes past the end load code 128 and a zero gradient: β1·code1[128]·absmax_old joins the max of |m|.
            if (n < blockSize) max1 = FMax(max1, MathF.Abs(a1[b] * s.PadCode * s.Beta1));
            a1[b] = max1;
            a2[b] = max2;
            for (var j = 0; j < n; j++)
            {
                var k = start + j;
                if (float.IsFinite(g[k]))
                {
                    var delta = m[j] / (MathF.Sqrt(v[j]) + s.C2Eps) * s.StepSize;
                    var pp = p[k] + delta;
                    if (bf16) pp = RoundBf16(pp);
                    if (s.ApplyDecay) pp *= s.Decay;
                    p[k] = bf16 ? RoundBf16(pp) : pp;
                }
                var q1 = max1 == 0f ? s.Zero1 : Nearest(mid1, m[j] / max1);
                if (float.IsNegative(code1[q1]) != float.IsNegative(m[j])) q1 = (q1 + (m[j] > 0f ? 1 : -1) + 256) & 255;
                c1[k] = (byte)q1;
                c2[k] = (byte)(max2 == 0f ? s.Zero2 : Nearest(mid2, v[j] / max2));
            }
        }
    }

    // fmaxf: a NaN operand gives the other one.
    private static float FMax(float a, float b) => float.IsNaN(a) ? b : float.IsNaN(b) ? a : MathF.Max(a, b);

    // The number of midpoints below x (NaN: 0); a value exactly on a midpoint goes to the even index of the pair.
    private static int Nearest(float[] mid, float x)
    {
        if (float.IsNaN(x)) return 0;
        var lo = 0;
        while (lo < 255 && mid[lo] < x) lo++;
        if (lo < 255 && x == mid[lo] && (lo & 1) == 1) lo++;
        return lo;
    }

    // float → bfloat16 → float, round to nearest even (NaN stays NaN).
    private static float RoundBf16(float x)
    {
        if (float.IsNaN(x)) return x;
        var u = (uint)BitConverter.SingleToInt32Bits(x);
        u += 0x7fffu + ((u >> 16) & 1u);
        return BitConverter.Int32BitsToSingle((int)(u & 0xffff0000u));
    }
}
