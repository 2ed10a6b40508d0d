namespace Harness.Experiments.Models;

/// <summary>A module whose own parameters ask for 32-bit optimizer state (<see cref="Harness.Optimizers.NamedParameter.FullPrecisionState"/>).</summary>
internal interface IFullPrecisionState
{
    bool FullPrecisionState { get; }
}
