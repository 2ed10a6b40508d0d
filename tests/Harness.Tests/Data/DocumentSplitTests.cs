using Harness.Experiments.Data;
using Harness.Experiments.Data.Preparation;
using Harness.Tests.Core;

namespace Harness.Tests.Data;

public sealed class DocumentSplitTests
{
    private static List<SourceDocument> Corpus()
    {
        var documents = new List<SourceDocument> { new("moby-dick", "Moby Dick", "Call me Ishmael.") };
        foreach (var year in new[] { 1790, 1862, 2009, 2010, 2015, 2021 })
            documents.Add(new("sotu", $"{year}_Someone_X.txt", $"address of {year}"));
        foreach (var title in new[] { "EMMA", "PERSUASION", "SENSE AND SENSIBILITY" })
            documents.Add(new("austen", title, $"the text of {title}"));
        for (var i = 0; i < 400; i++) documents.Add(new("linux-doc", $"admin-guide/file{i:D3}.rst.gz", $"doc {i}"));
        for (var i = 0; i < 3; i++) documents.Add(new("perl-doc", $"pod/perl{i}.pod", $"pod {i}"));
        documents.Add(new("python-doc", "Top", "the only node"));
        return documents;
    }

    [Fact]
    public void Prose_docs_holds_out_recent_addresses_persuasion_and_about_one_percent_of_each_docs_source()
    {
        var corpus = Corpus();
        var (train, validation) = DocumentSplit.Split(corpus, DocumentSplit.ProseDocs);

        Assert.Equal(corpus.Count, train.Count + validation.Count);
        Assert.Empty(train.Intersect(validation));
        Assert.Equal(["2010_Someone_X.txt", "2015_Someone_X.txt", "2021_Someone_X.txt"], validation.Where(d => d.Source == "sotu").Select(d => d.Name));
        Assert.Equal(["PERSUASION"], validation.Where(d => d.Source == "austen").Select(d => d.Name));
        var linux = validation.Count(d => d.Source == "linux-doc");
        Assert.InRange(linux, 1, 12);                                            // 1% of 400 = 4 expected; a binomial draw
        Assert.Single(validation, d => d.Source == "perl-doc");                  // 3 files: 1% rounds to none, at least one is held
        Assert.DoesNotContain(validation, d => d.Source is "python-doc" or "moby-dick"); // a single document stays in training
        // Order is kept within each side: training is the input minus the held-out documents.
        Assert.Equal(corpus.Where(d => !validation.Contains(d)), train);
        Assert.Equal(corpus.Where(validation.Contains), validation);
    }

    [Fact]
    public void The_choice_depends_on_source_and_name_only()
    {
        var corpus = Corpus();
        var (_, first) = DocumentSplit.Split(corpus, DocumentSplit.ProseDocs);
        var shuffled = corpus.OrderBy(d => d.Text.Length).ThenByDescending(d => d.Name, StringComparer.Ordinal).ToList();
        var (_, second) = DocumentSplit.Split(shuffled, DocumentSplit.ProseDocs);
        Assert.Equal(first.Select(d => d.Name).Order(StringComparer.Ordinal), second.Select(d => d.Name).Order(StringComparer.Ordinal));
        // Other text, same names: the same documents are held out.
        var (_, retexted) = DocumentSplit.Split([.. corpus.Select(d => d with { Text = d.Text + "!" })], DocumentSplit.ProseDocs);
        Assert.Equal(first.Select(d => d.Name), retexted.Select(d => d.Name));
        // A sampled source never loses all its documents.
        var all = new Dictionary<string, HoldOut> { ["perl-doc"] = new(SamplePercent: 100) };
        var (keep, held) = DocumentSplit.Split([.. corpus.Where(d => d.Source == "perl-doc")], all);
        Assert.Equal((1, 2), (keep.Count, held.Count));
    }

    [Fact]
    public void Info_nodes_become_named_documents()
    {
        const string Info = "This is python3.11.info, produced by makeinfo.\n\n\u001f\nFile: python3.11.info,  Node: Top,  Next: What's New,  Up: (dir)\n\nPython\n******\n" +
                            "\u001f\nFile: python3.11.info,  Node: What's New,  Prev: Top\n\nNews.\n\u001f\n\n";
        Assert.Equal(["part 1", "Top", "What's New"], DataPreparer.InfoNodes(Info).Select(n => n.Name));
        Assert.EndsWith("News.", DataPreparer.InfoNodes(Info).Last().Text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_file_with_a_validation_start_is_split_there_and_val_fraction_is_ignored()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "docs.bin");
        var tokens = Enumerable.Range(0, 100).ToArray();
        TokenFile.Write(path, tokens, new TokenFileInfo("byte", 256, "h", ValidationStart: 70));
        using (var file = TokenFile.Open(path, requireHeader: true))
        {
            Assert.Equal(70, file.Info!.ValidationStart);
            using var s = new TokenStream(file, 256, 0.01, 7);
            Assert.Equal(70, s.TrainLength);                  // every token before the held-out documents
            Assert.Equal(28, s.ValidationLength);             // 4 whole windows of 7 out of 30 held-out tokens
            Assert.Equal(72, s.ValidationStart);              // taken from the end: tokens 70-71 are read by neither
            var window = new long[7];
            s.CopyWindow(s.ValidationStart, window);
            Assert.Equal(72, window[0]);
        }
        TokenFile.Write(path, tokens, new TokenFileInfo("byte", 256, "h", ValidationStart: 97));
        using (var file = TokenFile.Open(path, requireHeader: true))
            Assert.Contains("held-out documents (3 tokens) are shorter than one window", Assert.Throws<ArgumentException>(() => new TokenStream(file, 256, 0.1, 7)).Message);
        TokenFile.Write(path, tokens, new TokenFileInfo("byte", 256, "h"));
        using (var file = TokenFile.Open(path, requireHeader: true))
        {
            Assert.Null(file.Info!.ValidationStart);
            using var s = new TokenStream(file, 256, 0.1, 7);
            Assert.Equal((93, 7), (s.TrainLength, s.ValidationLength));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenFile.Write(path, tokens, new TokenFileInfo("byte", 256, "h", ValidationStart: 100)));
    }
}
