namespace Harness.Optimizers;

/// <summary>
/// What a parameter is to the model. Set by the workload, never guessed from names inside an optimizer:
/// low-rank methods project exactly the <see cref="Matrix"/> role, the same set the reference scripts pick.
/// </summary>
public enum ParamRole
{
    /// <summary>A 2-D weight of an attention or MLP block (the set low-rank optimizers project).</summary>
    Matrix,
    /// <summary>Norm weights, biases and other 1-D parameters.</summary>
    Vector,
    /// <summary>The token (or patch) embedding table.</summary>
    Embedding,
    /// <summary>The output head (classifier or LM head), when it is not tied to the embedding.</summary>
    OutputHead,
}
