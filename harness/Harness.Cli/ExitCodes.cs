namespace Harness.Cli;

/// <summary>The process exit codes, the same for every verb.</summary>
public static class ExitCodes
{
    /// <summary>Everything asked for completed (or passed).</summary>
    public const int Ok = 0;
    /// <summary>It ran, but a run did not complete or a trace check failed.</summary>
    public const int Failed = 1;
    /// <summary>Bad input: arguments, config, data files, result files; nothing was run.</summary>
    public const int BadInput = 2;
}
