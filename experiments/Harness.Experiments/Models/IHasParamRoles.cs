using Harness.Optimizers;

namespace Harness.Experiments.Models;

/// <summary>
/// A module whose own parameters play different roles (a linear layer's weight is a matrix, its bias a
/// vector). Asked by <see cref="ParameterRoles"/> before <see cref="IHasParamRole"/>.
/// </summary>
internal interface IHasParamRoles
{
    /// <summary>The role of this module's own parameter <paramref name="localName"/> (e.g. <c>weight</c>, <c>bias</c>).</summary>
    ParamRole RoleOf(string localName);
}
