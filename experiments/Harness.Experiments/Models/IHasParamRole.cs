using Harness.Optimizers;

namespace Harness.Experiments.Models;

/// <summary>A module whose own parameters all play one role; lets the model assign roles by structure, not by name.</summary>
internal interface IHasParamRole
{
    ParamRole Role { get; }
}
