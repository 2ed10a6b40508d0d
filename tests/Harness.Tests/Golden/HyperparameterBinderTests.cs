using System.Text.Json;
using Harness.Core.Traces;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;

namespace Harness.Tests.Golden;

public sealed class HyperparameterBinderTests
{
    private static readonly OptimizerDescriptor AdamW = OptimizerCatalog.Find("adamw")!;

    private static Dictionary<string, JsonElement> Hp(string json) =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(json)!;

    [Fact]
    public void Snake_case_keys_and_split_betas_bind()
    {
        var o = (AdamWOptions)HyperparameterBinder.Bind(AdamW, Hp("""{"lr": 0.01, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "weight_decay": 0.1}"""), out var problems);

        Assert.Empty(problems);
        Assert.Equal(0.01, o.Lr);
        Assert.Equal([0.8, 0.95], o.Betas);
        Assert.Equal(1e-6, o.Eps);
        Assert.Equal(0.1, o.WeightDecay);
    }

    [Fact]
    public void Unknown_keys_wrong_types_and_invalid_values_are_all_problems()
    {
        HyperparameterBinder.Bind(AdamW, Hp("""{"lr": 0.01, "rank": 8, "eps": "small"}"""), out var problems);

        Assert.Contains(problems, p => p.Key == "rank" && p.Message.Contains("weight_decay"));
        Assert.Contains(problems, p => p.Key == "eps");

        HyperparameterBinder.Bind(AdamW, Hp("""{"lr": 0.01, "beta2": 1.5}"""), out var invalid);
        Assert.Contains(invalid, p => p.Key == "betas[1]");
    }
}
