namespace Harness.Reports.Claims;

/// <summary>One claim on the claimed-vs-measured chart: both values in the claim's unit and measured ÷ paper.</summary>
public sealed record ClaimsChartItem(string Claim, double PaperValue, double MeasuredValue, string Unit, string Verdict)
{
    public double Ratio => MeasuredValue / PaperValue;
}
