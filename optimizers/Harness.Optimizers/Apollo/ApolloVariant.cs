namespace Harness.Optimizers.Apollo;

/// <summary>
/// The defaults <see cref="Apollo"/> starts from (<c>variant:</c>); any of rank, scale_type and scale given
/// explicitly wins over the variant's.
/// </summary>
public enum ApolloVariant
{
    /// <summary>APOLLO: channel-wise scaling, rank 32 (a quarter of the tiny model's width), scale 1.</summary>
    Apollo,
    /// <summary>APOLLO-Mini: tensor-wise scaling, rank 1, scale 128 (the reference README's defaults).</summary>
    Mini,
}
