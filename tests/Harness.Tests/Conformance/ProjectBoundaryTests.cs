using System.Xml.Linq;
using Harness.Reports;
using Harness.Results;

namespace Harness.Tests.Conformance;

/// <summary>
/// The results boundary: Harness.Results (records and the CSV/JSON store) depends on no other project and not on
/// TorchSharp, and Harness.Reports reads results through it alone, never through Harness.Core (and so TorchSharp).
/// Checked in the project files and in the compiled assemblies' references.
/// </summary>
public sealed class ProjectBoundaryTests
{
    private static List<string> Items(string project, string item) =>
        XDocument.Load(Path.Combine(TestPaths.RepoRoot(), project)).Descendants(item)
            .Select(e => (string?)e.Attribute("Include") ?? "").Select(i => Path.GetFileName(i.Replace('\\', '/'))).ToList();

    private static List<string> Referenced(Type type) =>
        type.Assembly.GetReferencedAssemblies().Select(a => a.Name ?? "").ToList();

    [Fact]
    public void Reports_reference_results_and_not_core()
    {
        Assert.Equal(["Harness.Results.csproj"], Items("reports/Harness.Reports/Harness.Reports.csproj", "ProjectReference"));
        var compiled = Referenced(typeof(ReportBuilder));
        Assert.Contains("Harness.Results", compiled);
        Assert.DoesNotContain(compiled, n => n is "Harness.Core" or "Harness.Optimizers" or "Harness.Experiments" || n.StartsWith("TorchSharp", StringComparison.Ordinal));
    }

    [Fact]
    public void Results_reference_no_project_and_no_torchsharp()
    {
        const string project = "harness/Harness.Results/Harness.Results.csproj";
        Assert.Empty(Items(project, "ProjectReference"));
        Assert.Equal(["CsvHelper"], Items(project, "PackageReference"));
        var compiled = Referenced(typeof(ResultStore));
        Assert.DoesNotContain(compiled, n => n.StartsWith("Harness.", StringComparison.Ordinal) || n.StartsWith("TorchSharp", StringComparison.Ordinal));
        Assert.Contains("CsvHelper", compiled);
    }
}
