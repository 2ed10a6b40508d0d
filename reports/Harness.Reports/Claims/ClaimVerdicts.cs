namespace Harness.Reports.Claims;

/// <summary>The verdicts a claim can get, spelled exactly as <c>claims.csv</c> writes them.</summary>
public static class ClaimVerdicts
{
    public const string Reproduced = "reproduced";
    public const string NotReproduced = "not reproduced";
    public const string Inconclusive = "inconclusive (seeds)";
    public const string Smoke = "smoke (mechanics only)";
    public const string NotRunPrefix = "not run: ";

    public static string NotRun(string reason) => NotRunPrefix + reason;
}
