using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// A k×k convolution (stride 1, same padding) whose kernel is stored as the 2-D matrix
/// [out, in·k·k] it is over im2col patches, and reshaped only inside <see cref="forward"/>. Stored so, it
/// is an honest <see cref="ParamRole.Matrix"/> that low-rank optimizers can project, as the 8-bit and
/// GaLore code bases do when they flatten conv kernels. The bias is a vector.
/// </summary>
internal sealed class Conv2dMatrix : nn.Module<Tensor, Tensor>, IHasParamRoles
{
    private readonly Parameter weight, bias;
    private readonly long inChannels, outChannels, kernel;

    public Conv2dMatrix(string name, long inChannels, long outChannels, long kernel, Generator init) : base(name)
    {
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.kernel = kernel;
        var fanIn = inChannels * kernel * kernel;
        using (no_grad())
            weight = new Parameter(empty(outChannels, fanIn).normal_(0, Math.Sqrt(2.0 / fanIn), init));
        bias = new Parameter(zeros(outChannels));
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
    }

    public ParamRole RoleOf(string localName) => localName == nameof(weight) ? ParamRole.Matrix : ParamRole.Vector;

    public override Tensor forward(Tensor x)
    {
        using var kernel4d = weight.view(outChannels, inChannels, kernel, kernel);
        return nn.functional.conv2d(x, kernel4d, bias, padding: [kernel / 2, kernel / 2]);
    }
}
