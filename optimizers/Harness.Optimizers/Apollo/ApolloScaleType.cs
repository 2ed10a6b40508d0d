namespace Harness.Optimizers.Apollo;

/// <summary>How APOLLO turns its low-rank Adam into a gradient scale (<c>scale_type:</c>).</summary>
public enum ApolloScaleType
{
    /// <summary>One factor per channel of the longer side (APOLLO).</summary>
    Channel,
    /// <summary>One factor for the whole matrix (APOLLO-Mini).</summary>
    Tensor,
}
