using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// A multilayer perceptron on flattened pixels: <c>depth</c> hidden layers of <c>width</c> units with
/// ReLU, then a linear classifier (<see cref="ParamRole.OutputHead"/>). Hidden weights are matrices.
/// Weights use Kaiming-uniform-like scaling: normal(0, √(2/fan_in)).
/// </summary>
public sealed class ImageMlp : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<Dense> layers;
    private readonly Dense head;

    public ImageMlp(ImageShape shape, int width, int depth, Generator init) : base(nameof(ImageMlp))
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        layers = new ModuleList<Dense>();
        long fanIn = shape.Pixels;
        for (var i = 0; i < depth; i++)
        {
            layers.Add(new Dense($"fc{i}", fanIn, width, ParamRole.Matrix, Math.Sqrt(2.0 / fanIn), init));
            fanIn = width;
        }
        head = new Dense(nameof(head), fanIn, shape.Classes, ParamRole.OutputHead, Math.Sqrt(1.0 / fanIn), init);
        register_module(nameof(layers), layers);
        register_module(nameof(head), head);
    }

    /// <summary>[batch, C, H, W] -> [batch, classes] logits.</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        var x = images.flatten(1);
        foreach (var layer in layers) x = nn.functional.relu(layer.forward(x));
        return head.forward(x).MoveToOuterDisposeScope();
    }

    public IReadOnlyList<NamedParameter> NamedParameters() => ParameterRoles.Collect(this);
}
