using System.Diagnostics;
using Harness.Tests.Core;

namespace Harness.Tests.Gpu;

/// <summary>
/// <c>tools/gpu/cuda-syntax-check.sh</c>: the fused-kernel sources parse and type-check as CUDA (host and device passes,
/// clang against declarations-only headers), which the g++-emulated build of the other kernel tests cannot show, and
/// the check fails on the two kinds of mistake it exists for.
/// </summary>
public sealed class CudaSourceSyntaxTests
{
    private static string Kernels => Path.Combine(TestPaths.RepoRoot(), "optimizers", "kernels");

    private static async Task<(int Code, string Output)> Check(string kernelsDir)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(TestPaths.RepoRoot(), "tools", "gpu", "cuda-syntax-check.sh"));
        info.ArgumentList.Add(kernelsDir);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(180)), "cuda-syntax-check did not finish in 180 s");
        return (p.ExitCode, await stdout + await stderr);
    }

    [Fact]
    public async Task The_kernel_sources_pass_both_cuda_passes_of_both_builds_without_a_warning()
    {
        var (code, output) = await Check(Kernels);
        Assert.True(code == 0, output);
        Assert.StartsWith("cuda-syntax-check: 2 sources x 2 passes clean", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_kernel_calling_a_host_function_and_a_mistyped_launch_fail_the_check()
    {
        using var dir = new TestConfigs.TempDir();
        foreach (var file in Directory.GetFiles(Kernels)) File.Copy(file, Path.Combine(dir.Path, Path.GetFileName(file)));
        // fail() (common.cuh) is a host function; the kernel takes a float*, the launch passes an int.
        File.AppendAllText(Path.Combine(dir.Path, "harness_optim_kernels.cu"), """

            namespace {
            __global__ void probe_kernel(float* x) { x[0] = static_cast<float>(fail("host only")); }
            }
            extern "C" int hk_probe_launch() {
              HK_LAUNCH(probe_kernel, 1, 1, 0, current_stream(0), 42);
              return 0;
            }

            """);
        var (code, output) = await Check(dir.Path);
        Assert.Equal(1, code);
        foreach (var source in new[] { "harness_optim_kernels.cu", "harness_optim_kernels_tc.cu" })
        {
            Assert.Contains($"cuda-syntax-check: {source}, device pass:", output, StringComparison.Ordinal);
            Assert.Contains($"cuda-syntax-check: {source}, host pass:", output, StringComparison.Ordinal);
        }
        Assert.Contains("call to __host__ function from __global__ function", output, StringComparison.Ordinal);
        Assert.Contains("cannot initialize a parameter of type 'float *' with an rvalue of type 'int'", output, StringComparison.Ordinal);
    }
}
