using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// A small CNN: two 3×3 conv + ReLU + 2×2 max-pool stages (c, then 2c channels), a hidden dense layer of
/// 128 units and a linear classifier. Images must be at least 4×4 (two poolings).
/// </summary>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    private readonly Conv2dMatrix conv1, conv2;
    private readonly Dense fc, head;

    public SmallCnn(ImageShape shape, int channels, Generator init) : base(nameof(SmallCnn))
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        if (shape.Height < 4 || shape.Width < 4)
            throw new ArgumentException($"images of {shape.Height}x{shape.Width} are too small for two 2x2 poolings", nameof(shape));
        conv1 = new Conv2dMatrix(nameof(conv1), shape.Channels, channels, 3, init);
        conv2 = new Conv2dMatrix(nameof(conv2), channels, 2L * channels, 3, init);
        long flat = 2L * channels * (shape.Height / 4) * (shape.Width / 4);
        fc = new Dense(nameof(fc), flat, 128, ParamRole.Matrix, Math.Sqrt(2.0 / flat), init);
        head = new Dense(nameof(head), 128, shape.Classes, ParamRole.OutputHead, Math.Sqrt(1.0 / 128), init);
        register_module(nameof(conv1), conv1);
        register_module(nameof(conv2), conv2);
        register_module(nameof(fc), fc);
        register_module(nameof(head), head);
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var x = nn.functional.max_pool2d(nn.functional.relu(conv1.forward(images)), 2);
        x = nn.functional.max_pool2d(nn.functional.relu(conv2.forward(x)), 2);
        x = nn.functional.relu(fc.forward(x.flatten(1)));
        return head.forward(x).MoveToOuterDisposeScope();
    }

    public IReadOnlyList<NamedParameter> NamedParameters() => ParameterRoles.Collect(this);
}
