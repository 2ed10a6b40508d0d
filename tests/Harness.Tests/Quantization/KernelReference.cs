namespace Harness.Tests.Quantization;

/// <summary>
/// Scalar float32 re-statements of the bitsandbytes 0.43.1 CUDA code paths, written element by element
/// for the tests: the 7-step binary search of <c>dQuantize</c>/<c>quantize_2D</c> and one
/// <c>kOptimizerStatic8bit2StateBlockwise</c> step. Independent of the tensor-op implementation.
/// </summary>
internal static class KernelReference
{
    /// <summary>The kernel's nearest-code search: bracket by 7 halvings from pivot 127, then the midpoint test.</summary>
    public static int Search(float[] code, float x, bool signed)
    {
        int pivot = 127, upperPivot = 255, lowerPivot = 0;
        float lower = signed ? -1f : 0f, upper = 1f, val = code[pivot];
        for (var i = 64; i > 0; i >>= 1)
        {
            if (x > val) { lowerPivot = pivot; lower = val; pivot += i; }
            else { upperPivot = pivot; upper = val; pivot -= i; }
            val = code[pivot];
        }
        if (upperPivot == 255) upper = code[upperPivot];
        if (lowerPivot == 0) lower = code[lowerPivot];
        if (x > val) return x > (upper + val) * 0.5f ? upperPivot : pivot;
        return x < (lower + val) * 0.5f ? lowerPivot : pivot;
    }

    /// <summary>8-bit blockwise Adam state of one flat fp32 parameter.</summary>
    public sealed class Adam8bitState(int n, int blockSize)
    {
        public byte[] Codes1 { get; } = new byte[n];
        public byte[] Codes2 { get; } = new byte[n];
        public float[] Absmax1 { get; } = new float[(n + blockSize - 1) / blockSize];
        public float[] Absmax2 { get; } = new float[(n + blockSize - 1) / blockSize];
        public int BlockSize { get; } = blockSize;
    }

    /// <summary>One kernel step (t from 1) on <paramref name="p"/>, in place, float32 throughout.</summary>
    public static void Adam8bitStep(float[] p, float[] g, Adam8bitState s, float[] code1, float[] code2,
        int t, float lr, float beta1, float beta2, float eps, float weightDecay)
    {
        var c1 = 1f - MathF.Pow(beta1, t);
        var c2 = MathF.Sqrt(1f - MathF.Pow(beta2, t));
        var stepSize = -lr * c2 / c1;
        var b = s.BlockSize;
        for (var block = 0; block < s.Absmax1.Length; block++)
        {
            var m = new float[b];
            var v = new float[b];
            var finite = new bool[b];
            float max1 = -float.MaxValue, max2 = -float.MaxValue;
            for (var j = 0; j < b; j++)
            {
                var k = block * b + j;
                var valid = k < p.Length;
                var gv = valid ? g[k] : 0f;
                var s1 = valid ? s.Codes1[k] : (byte)128;
                var s2 = valid ? s.Codes2[k] : (byte)0;
                finite[j] = float.IsFinite(gv);
                if (finite[j])
                {
                    v[j] = code2[s2] * s.Absmax2[block];
                    v[j] = v[j] * beta2 + (1f - beta2) * gv * gv;
                    m[j] = code1[s1] * s.Absmax1[block];
                    m[j] = m[j] * beta1 + (1f - beta1) * gv;
                }
                max1 = MathF.Max(max1, MathF.Abs(m[j]));
                max2 = MathF.Max(max2, MathF.Abs(v[j]));
            }
            s.Absmax1[block] = max1;
            s.Absmax2[block] = max2;
            for (var j = 0; j < b && block * b + j < p.Length; j++)
            {
                var k = block * b + j;
                if (finite[j])
                {
                    p[k] = p[k] + stepSize * (m[j] / (MathF.Sqrt(v[j]) + c2 * eps));
                    if (weightDecay > 0f) p[k] = p[k] * (1f - lr * weightDecay);
                }
                // The spec's guard for an all-zero block (the kernel divides by 0 there; same dequantized 0).
                int q1 = max1 == 0f ? 127 : Search(code1, m[j] / max1, signed: true);
                if (float.IsNegative(code1[q1]) != float.IsNegative(m[j])) q1 = (q1 + (m[j] > 0f ? 1 : -1)) & 0xFF;
                s.Codes1[k] = (byte)q1;
                s.Codes2[k] = (byte)(max2 == 0f ? 0 : Search(code2, v[j] / max2, signed: false));
            }
        }
    }
}
