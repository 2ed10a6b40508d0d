using TorchSharp.Modules;

namespace Harness.Optimizers;

/// <summary>A trainable parameter with its stable name (used in state dicts and traces) and its role.</summary>
public sealed record NamedParameter(string Name, Parameter Value, ParamRole Role);
