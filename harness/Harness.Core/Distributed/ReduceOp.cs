namespace Harness.Core.Distributed;

/// <summary>The reduction of <see cref="ICollective.AllReduce"/>: the sum, or the sum divided by the world size.</summary>
public enum ReduceOp { Sum, Average }
