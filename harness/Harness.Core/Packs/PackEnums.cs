namespace Harness.Core.Packs;

/// <summary>The scale a pack runs at (<c>--scale</c>): what the numbers can say.</summary>
public enum PackScale
{
    /// <summary>CPU, tiny shapes, minutes a pack: the mechanics run, the numbers prove nothing about the paper.</summary>
    Smoke,
    /// <summary>One GPU, each run under 10 minutes: the paper's setup scaled down where a claim needs training (paper-claims §10.3).</summary>
    Reduced,
    /// <summary>The paper's own shapes for a few steps: memory and speed claims (paper-claims §10.2).</summary>
    Paper,
}

/// <summary>What a claim is about (<c>kind:</c> of a claim).</summary>
public enum ClaimKind
{
    Memory,
    Speed,
    Quality,
}

/// <summary>A number of a run's summary row that a claim is judged from (<c>measure.metric:</c>).</summary>
public enum ClaimMetric
{
    FinalEvalLoss,
    FinalTrainLoss,
    FinalEvalPerplexity,
    StateBytes,
    StepTransientBytes,
    TrainStepPeakBytes,
    ReservedBytes,
    TokensPerS,
    StepMsP50,
    OptimizerStepMsP50,
    ParamCount,
}

/// <summary>How a claim's measured value is formed from the configurations <c>of</c> (A) and <c>versus</c> (B).</summary>
public enum MeasureOp
{
    /// <summary>A.</summary>
    Value,
    /// <summary>A / B.</summary>
    Ratio,
    /// <summary>A − B.</summary>
    Difference,
    /// <summary>B − A (what A saves against B).</summary>
    Saved,
}

/// <summary>The rule that turns a measured value into a verdict (<c>rule.kind:</c>).</summary>
public enum RuleKind
{
    /// <summary>Measured equals the paper's value (bytes, counted exactly).</summary>
    Exact,
    /// <summary>Measured / paper within 1 ± <c>tolerance</c>.</summary>
    Ratio,
    /// <summary>A is below (or above) B, and the seeds allow the claim (the report's 2-SE rule).</summary>
    Ordering,
    /// <summary>|A − B| is within <c>delta</c>, and the seeds allow the claim (2-SE intervals).</summary>
    Gap,
}

/// <summary>The direction an ordering claim expects (<c>rule.expect:</c>): A less than B, or greater.</summary>
public enum OrderingExpectation
{
    Less,
    Greater,
}
