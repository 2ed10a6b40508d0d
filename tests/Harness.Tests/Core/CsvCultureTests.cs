using System.Globalization;
using Harness.Results;

namespace Harness.Tests.Core;

public sealed class CsvCultureTests
{
    [Theory]
    [InlineData("ru-RU")]
    [InlineData("de-DE")]
    public void Csv_round_trips_exactly_under_a_comma_decimal_culture(string culture)
    {
        var previous = CultureInfo.CurrentCulture;
        using var dir = new TestConfigs.TempDir();
        try
        {
            CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo(culture);
            var rows = new List<StepRecord>
            {
                new() { Step = 0, Tokens = 0, Lr = 3e-4, EvalLoss = 5.545177444479562, EvalPerplexity = 256.0 },
                new() { Step = 10, Tokens = 20480, Lr = 0.0029999, TrainLoss = 3.1415926535897931 },
                new() { Step = 20, Tokens = 40960, Lr = 1.0 / 3.0, TrainLoss = double.Epsilon, EvalAccuracy = 0.75 },
            };
            var path = Path.Combine(dir.Path, "steps.csv");
            using (var appender = new CsvFiles.Appender<StepRecord>(path, truncate: true))
                foreach (var row in rows) appender.Append(row);

            var text = File.ReadAllText(path);
            Assert.StartsWith("step,tokens,lr,train_loss,eval_loss,eval_perplexity,eval_accuracy\n", text);
            Assert.Contains("3.141592653589793", text);
            Assert.DoesNotContain("3,14", text);
            Assert.Equal(rows, CsvFiles.ReadAll<StepRecord>(path));
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    [Fact]
    public void Appender_keeps_earlier_rows_and_writes_one_header()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "m.csv");
        using (var a = new CsvFiles.Appender<MetricRecord>(path, truncate: true)) a.Append(new() { Name = "a", Value = 1, Unit = "s" });
        using (var a = new CsvFiles.Appender<MetricRecord>(path, truncate: false)) a.Append(new() { Name = "b", Value = null, Unit = "bytes", Note = "x, with comma" });
        var back = CsvFiles.ReadAll<MetricRecord>(path);
        Assert.Equal(["a", "b"], back.Select(r => r.Name));
        Assert.Null(back[1].Value);
        Assert.Equal("x, with comma", back[1].Note);
        Assert.Equal(1, File.ReadLines(path).Count(l => l.StartsWith("name,", StringComparison.Ordinal)));
    }

    [Fact]
    public void Corrupt_summary_is_rejected_with_the_file_named()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "summary.csv");
        File.WriteAllText(path, "run_id,experiment,optimizer,label,seed,status,steps\nabc,e,adamw,adamw,notanumber,completed,10\n");
        var e = Assert.Throws<ResultFormatException>(() => ResultStore.ReadSummary(path));
        Assert.Equal(path, e.Path);
        Assert.Contains(path, e.Message);
    }
}
