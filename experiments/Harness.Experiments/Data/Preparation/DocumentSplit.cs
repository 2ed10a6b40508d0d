using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Harness.Experiments.Data.Preparation;

/// <summary>
/// Holds out whole documents for validation (data.md §7b: "hold out by document, not by tail"), so no validation
/// text is a continuation of a training document. The choice depends only on sources and names, never on order
/// or on the machine, so every preparation of a corpus holds out the same documents.
/// </summary>
public static class DocumentSplit
{
    /// <summary>
    /// The <c>prose-docs</c> hold-out: the State of the Union addresses from 2010 on, Austen's <i>Persuasion</i>, and 1 %
    /// of the files of each documentation source (Linux, Python and Perl docs). The Bibles, commentaries and Moby
    /// Dick are single documents and stay in training.
    /// </summary>
    public static IReadOnlyDictionary<string, HoldOut> ProseDocs { get; } = new Dictionary<string, HoldOut>(StringComparer.Ordinal)
    {
        ["sotu"] = new(Named: name => Year(name) >= 2010),
        ["austen"] = new(Named: name => name.Contains("persuasion", StringComparison.OrdinalIgnoreCase)),
        ["linux-doc"] = new(SamplePercent: 1),
        ["python-doc"] = new(SamplePercent: 1),
        ["perl-doc"] = new(SamplePercent: 1),
    };

    /// <summary>Training and validation documents, each in the input order.</summary>
    public static (IReadOnlyList<SourceDocument> Train, IReadOnlyList<SourceDocument> Validation) Split(
        IReadOnlyList<SourceDocument> documents, IReadOnlyDictionary<string, HoldOut> rules)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(rules);
        var held = new HashSet<SourceDocument>(ReferenceEqualityComparer.Instance);
        foreach (var group in documents.GroupBy(d => d.Source, StringComparer.Ordinal))
        {
            if (!rules.TryGetValue(group.Key, out var rule)) continue;
            var members = group.ToList();
            if (rule.Named is { } named) held.UnionWith(members.Where(d => named(d.Name)));
            if (rule.SamplePercent > 0 && members.Count > 1)
            {
                var sampled = members.Where(d => Draw(d) % 100 < (ulong)rule.SamplePercent).ToList();
                if (sampled.Count == 0) sampled.Add(members.MinBy(Draw)!);                  // at least one
                if (sampled.Count == members.Count) sampled.Remove(members.MaxBy(Draw)!);   // never all
                held.UnionWith(sampled);
            }
        }
        return ([.. documents.Where(d => !held.Contains(d))], [.. documents.Where(held.Contains)]);
    }

    /// <summary>A stable 64-bit draw per document from SHA-256 of <c>source/name</c>.</summary>
    private static ulong Draw(SourceDocument d) =>
        BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes($"{d.Source}/{d.Name}")));

    /// <summary>The year a State of the Union file name starts with (<c>2010_Barack_Obama_D.txt</c>), or 0.</summary>
    private static int Year(string name) =>
        name.Length >= 4 && int.TryParse(name.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var year) ? year : 0;
}
