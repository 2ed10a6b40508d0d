using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Workloads;

/// <summary>Placeholder: the LLaMA workload is being written on the wip-workload branch.</summary>
public sealed class LanguageModelWorkload : IWorkload
{
    public LanguageModelWorkload(LlamaSpec spec, WorkloadContext context) => throw new NotSupportedException("workload not written yet");
    public IReadOnlyList<NamedParameter> Parameters => [];
    public long TokensPerBatch => 0;
    public string ThroughputUnit => "tokens";
    public Batch NextBatch(Split split) => throw new NotSupportedException();
    public Tensor Loss(Batch batch) => throw new NotSupportedException();
    public EvalResult Evaluate(int batches) => throw new NotSupportedException();
    public void Dispose() { }
}
