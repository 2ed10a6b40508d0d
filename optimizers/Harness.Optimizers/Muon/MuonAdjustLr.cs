namespace Harness.Optimizers.Muon;

/// <summary>
/// How Muon scales the learning rate of a matrix by its shape A×B (rows × columns), <c>adjust_lr:</c>; the
/// names of <c>torch.optim.Muon</c>'s <c>adjust_lr_fn</c>.
/// </summary>
public enum MuonAdjustLr
{
    /// <summary><c>lr·√max(1, A/B)</c>: Keller Jordan's <c>muon.py</c> (there a factor on the update), torch's default.</summary>
    Original,
    /// <summary><c>lr·0.2·√max(A, B)</c>: Moonshot's "Muon is Scalable for LLM Training" (arXiv 2502.16982), an update RMS like AdamW's.</summary>
    MatchRmsAdamw,
}
