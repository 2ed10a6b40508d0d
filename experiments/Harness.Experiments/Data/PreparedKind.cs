namespace Harness.Experiments.Data;

/// <summary>What a prepared dataset holds.</summary>
public enum PreparedKind { Text, Images }
