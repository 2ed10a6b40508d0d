using Harness.Core.Traces;
using Harness.Tests.Golden;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Scratch;

public sealed class GaLoreOprojScratch(ITestOutputHelper output)
{
    private const string Name = "model.layers.0.self_attn.o_proj.weight";

    private static (Dictionary<string, Tensor> G, Dictionary<string, Tensor> R) Load() =>
        (SafeTensorsFile.Read(Path.Combine(GoldenPaths.Directory, "caseA.gradients.safetensors")),
         SafeTensorsFile.Read(Path.Combine(GoldenPaths.Directory, "caseA.galore.safetensors")));

    internal static Tensor Replay(Func<int, Tensor> g, Tensor p0, Tensor[] bases, int steps)
    {
        var m = zeros(48, 8); var v = zeros(48, 8); var p = p0.clone();
        for (var t = 0; t < steps; t++)
        {
            var b = bases[t / 4];
            var r = g(t).matmul(b.t());
            m.mul_(0.9).add_(r, alpha: 0.1);
            v.mul_(0.999).addcmul_(r, r, value: 0.001);
            var n = m / v.sqrt().add_(1e-6);
            var upd = n.matmul(b).mul_(0.25);
            var k = t + 1;
            p.add_(upd, alpha: -0.01 * Math.Sqrt(1 - Math.Pow(0.999, k)) / (1 - Math.Pow(0.9, k)));
        }
        return p;
    }

    internal static double Err(Tensor p, Tensor pref, Tensor p0) =>
        ((p.to(ScalarType.Float64) - pref.to(ScalarType.Float64)).norm() / (pref.to(ScalarType.Float64) - p0.to(ScalarType.Float64)).norm()).item<double>();

    [Fact]
    public void Analyse()
    {
        using var scope = NewDisposeScope();
        var (gr, rf) = Load();
        Tensor G(int t) => gr[$"g.{t}.{Name}"];
        var p0 = gr[$"p0.{Name}"];
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        foreach (var t in new[] { 0, 4, 8 })
        {
            var s = linalg.svdvals(G(t)).data<float>().ToArray();
            var s64 = linalg.svdvals(G(t).to(ScalarType.Float64)).data<double>().ToArray();
            output.WriteLine($"g.{t}: sigma (f32) = " + string.Join(" ", s.Take(12).Select(x => x.ToString("e6", inv))));
            output.WriteLine($"g.{t}: sigma (f64) = " + string.Join(" ", s64.Take(12).Select(x => x.ToString("e9", inv))));
            output.WriteLine($"g.{t}: rel gaps (s_i - s_i+1)/s_i, i=1..47: " + string.Join(" ", Enumerable.Range(0, 47).Select(i => $"{i + 1}:{(s64[i] - s64[i + 1]) / s64[i]:e2}")));
            output.WriteLine($"g.{t}: min rel gap among 1..8 (incl. cut 8/9) = " + Enumerable.Range(0, 8).Min(i => (s64[i] - s64[i + 1]) / s64[i]).ToString("e3", inv));
        }
        var bases = new[] { 0, 4, 8 }.Select(t => linalg.svd(G(t), fullMatrices: false).Item3[..8, ..].contiguous()).ToArray();
        foreach (var k in new[] { 1, 2, 3, 5, 8, 12 })
            output.WriteLine($"manual replay err at {k}: {Err(Replay(G, p0, bases, k), rf[$"p.{k}.{Name}"], p0):e3}");

        // Subspace of the reference's step 8..11 updates: row space of p12 - p8.
        var delta = (rf[$"p.12.{Name}"] - rf[$"p.8.{Name}"]).to(ScalarType.Float64);
        var (_, sd, vd) = linalg.svd(delta, fullMatrices: false);
        output.WriteLine("sigma(p12-p8) = " + string.Join(" ", sd.data<double>().Take(10).Select(x => x.ToString("e3", inv))));
        var cos = linalg.svdvals(vd[..8, ..].matmul(bases[2].to(ScalarType.Float64).t())).data<double>().ToArray();
        output.WriteLine("cosines of principal angles, ref update rowspace vs our Vh8[:8]: " + string.Join(" ", cos.Select(x => x.ToString("f8", inv))));
        var d4 = (rf[$"p.8.{Name}"] - rf[$"p.5.{Name}"]).to(ScalarType.Float64);
        var vd4 = linalg.svd(d4, fullMatrices: false).Item3;
        output.WriteLine("cosines, ref p8-p5 rowspace vs our Vh4[:8]: " + string.Join(" ", linalg.svdvals(vd4[..8, ..].matmul(bases[1].to(ScalarType.Float64).t())).data<double>().Select(x => x.ToString("f8", inv))));

        // Per-vector: how much of each of our basis vectors lies in the reference's rowspace.
        var full8 = linalg.svd(G(8).to(ScalarType.Float64), fullMatrices: false).Item3;
        var inRef = vd[..8, ..].matmul(full8[..10, ..].t()).square().sum(0).sqrt().to(ScalarType.Float64).data<double>().ToArray();
        output.WriteLine("||proj of our v_i (i=1..10, f64 SVD of g.8) onto ref rowspace||: " + string.Join(" ", inRef.Select(x => x.ToString("f6", inv))));

        // Sign search at step 8.
        var results = new List<(int mask, double err)>();
        for (var mask = 0; mask < 256; mask++)
        {
            using var s2 = NewDisposeScope();
            var sg = tensor(Enumerable.Range(0, 8).Select(i => (mask >> i & 1) == 1 ? -1f : 1f).ToArray()).unsqueeze(1);
            var b8 = bases[2] * sg;
            results.Add((mask, Err(Replay(G, p0, [bases[0], bases[1], b8], 12), rf[$"p.12.{Name}"], p0)));
        }
        foreach (var (mask, err) in results.OrderBy(r => r.err).Take(8))
            output.WriteLine($"step-8 signs mask {Convert.ToString(mask, 2).PadLeft(8, '0')} (bit i = flip v_(i+1)): err12 {err:e3}");
        // Step-4 sign constraints.
        var r4 = new List<(int mask, double err)>();
        for (var mask = 0; mask < 256; mask++)
        {
            using var s2 = NewDisposeScope();
            var sg = tensor(Enumerable.Range(0, 8).Select(i => (mask >> i & 1) == 1 ? -1f : 1f).ToArray()).unsqueeze(1);
            r4.Add((mask, Err(Replay(G, p0, [bases[0], bases[1] * sg, bases[2]], 8), rf[$"p.8.{Name}"], p0)));
        }
        foreach (var (mask, err) in r4.OrderBy(r => r.err).Take(5))
            output.WriteLine($"step-4 signs mask {Convert.ToString(mask, 2).PadLeft(8, '0')}: err8 {err:e3}");
    }

    [Fact]
    public void Conventions()
    {
        using var scope = NewDisposeScope();
        var (gr, _) = Load();
        var m = GoldenManifest.Load(GoldenPaths.CaseAManifest);
        string[] names = ["maxabs+", "sum+", "other-maxabs+", "first+", "other-sum+"];
        var disagree = names.Select(_ => new List<string>()).ToArray();
        foreach (var name in m.LowRankTargets)
            foreach (var t in new[] { 0, 4, 8 })
            {
                var g = gr[$"g.{t}.{name}"];
                var (u, _, vh) = linalg.svd(g, fullMatrices: false);
                var right = g.shape[0] >= g.shape[1];
                var basis = right ? vh[..8, ..] : u[.., ..8].t();
                var other = right ? u[.., ..8].t() : vh[..8, ..];
                for (var i = 0; i < 8; i++)
                {
                    var b = basis[i]; var o = other[i];
                    float Sign(Tensor x) => x.item<float>() >= 0 ? 1 : -1;
                    var signs = new[] { Sign(b[b.abs().argmax()]), Sign(b.sum()), Sign(o[o.abs().argmax()]), Sign(b[0]), Sign(o.sum()) };
                    for (var c = 0; c < names.Length; c++) if (signs[c] < 0) disagree[c].Add($"{name.Replace("model.layers.", "L").Replace(".weight", "")}@{t}:v{i + 1}");
                }
            }
        for (var c = 0; c < names.Length; c++)
            output.WriteLine($"{names[c]}: our raw SVD violates it on {disagree[c].Count}/{m.LowRankTargets.Count * 24}: {string.Join(" ", disagree[c].Take(12))}");
    }
}
