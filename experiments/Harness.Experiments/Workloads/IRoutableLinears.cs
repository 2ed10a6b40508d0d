using Harness.Experiments.Models;

namespace Harness.Experiments.Workloads;

/// <summary>A workload whose linear layers can be routed through an <see cref="ILinearRoute"/> (FORGE mode).</summary>
public interface IRoutableLinears
{
    /// <summary>Full names of the weights that a route would receive: single-consumer, untied, bias-free.</summary>
    IReadOnlyList<string> RoutableWeights { get; }

    /// <summary>Sends the training forward of every routable layer through <paramref name="route"/>; null restores <c>F.linear</c>.</summary>
    void RouteLinears(ILinearRoute? route);
}
