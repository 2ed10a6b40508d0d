namespace Harness.Core.Config;

/// <summary>
/// The <c>logging:</c> section: where a run's numbers go besides its CSV files. Not part of the run spec: logging
/// changes no result, so it never changes a run id.
/// </summary>
public sealed record LoggingConfig
{
    /// <summary>Also write each run's scalars as TensorBoard events under <c>runs/&lt;experiment&gt;/tensorboard/&lt;run-id&gt;/</c>.</summary>
    public bool Tensorboard { get; init; }
}
