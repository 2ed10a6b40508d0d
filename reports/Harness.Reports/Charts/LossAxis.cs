namespace Harness.Reports.Charts;

/// <summary>The x axis of a loss chart.</summary>
public enum LossAxis { Step, Tokens, WallClock }
