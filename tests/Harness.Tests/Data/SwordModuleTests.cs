using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Harness.Experiments.Data;
using Harness.Experiments.Data.Preparation;
using Harness.Tests.Core;

namespace Harness.Tests.Data;

public sealed class SwordModuleTests
{
    private const string Block0 = "<verse>In the beginning<note type=\"x\">a <hi>note</hi></note> God created.</verse>"
                                  + "<p>And the earth &amp; sea<lb/>were void.</p>";
    private const string Block1 = "<div type=\"x\"><l>Let there be light</l><l>&quot;and there was&quot;</l></div>";

    /// <summary>Writes ot.{letter}z{s,z,v}: two blocks; verses = v1, v2 in block 0, an empty slot, v3 in block 1, v3 again.</summary>
    private static void WriteModule(string dir, char letter, int width)
    {
        var compressed = new MemoryStream();
        var index = new MemoryStream();
        foreach (var plain in new[] { Block0, Block1 }.Select(Encoding.UTF8.GetBytes))
        {
            var z = new MemoryStream();
            using (var zlib = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zlib.Write(plain);
            WriteU32(index, (uint)compressed.Length);
            WriteU32(index, (uint)z.Length);
            WriteU32(index, (uint)plain.Length);
            compressed.Write(z.ToArray());
        }
        var split = Encoding.UTF8.GetByteCount(Block0[..Block0.IndexOf("<p>", StringComparison.Ordinal)]);
        var size0 = Encoding.UTF8.GetByteCount(Block0);
        var size1 = Encoding.UTF8.GetByteCount(Block1);
        var verses = new MemoryStream();
        foreach (var (block, offset, size) in new (uint, uint, uint)[] { (0, 0, (uint)split), (0, (uint)split, (uint)(size0 - split)), (0, 0, 0), (1, 0, (uint)size1), (1, 0, (uint)size1) })
        {
            WriteU32(verses, block);
            WriteU32(verses, offset);
            if (width == 12) WriteU32(verses, size);
            else verses.Write(BitConverter.GetBytes((ushort)size)); // little-endian on every supported platform
        }
        File.WriteAllBytes(Path.Combine(dir, $"ot.{letter}zs"), index.ToArray());
        File.WriteAllBytes(Path.Combine(dir, $"ot.{letter}zz"), compressed.ToArray());
        File.WriteAllBytes(Path.Combine(dir, $"ot.{letter}zv"), verses.ToArray());
    }

    private static void WriteU32(Stream s, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        s.Write(b);
    }

    [Theory]
    [InlineData('b', 10)]
    [InlineData('c', 12)]
    public void Verses_come_out_in_order_once_each_with_markup_stripped(char letter, int width)
    {
        using var dir = new TestConfigs.TempDir();
        WriteModule(dir.Path, letter, width);

        var entries = SwordModule.ReadEntries(dir.Path);
        Assert.Equal(3, entries.Count);
        Assert.Equal(Block1, entries[2]);
        Assert.Equal("In the beginning God created.\nAnd the earth & sea\nwere void.\nLet there be light\n\"and there was\"",
            SwordModule.ReadText(dir.Path));
    }

    [Fact]
    public void Markup_stripping_drops_notes_breaks_lines_and_decodes_entities()
    {
        Assert.Equal("a\nb c < d", SwordModule.StripMarkup("a<note n=\"1\">gone\n<b>x</b></note><note n=\"2\"/><br/>\n\n  <p>b <i>c</i> &lt; d</p>"));
        Assert.Equal("Psalm 1\nBlessed\nx\ny", SwordModule.StripMarkup("<title>Psalm 1</title><w lemma=\"s\">Blessed</w><table><row><cell>x</cell><cell>y</cell></row></table>"));
    }

    [Fact]
    public void Truncated_block_index_names_the_file()
    {
        using var dir = new TestConfigs.TempDir();
        WriteModule(dir.Path, 'b', 10);
        var index = Path.Combine(dir.Path, "ot.bzs");
        File.WriteAllBytes(index, File.ReadAllBytes(index)[..20]);

        var e = Assert.Throws<DataException>(() => SwordModule.ReadEntries(dir.Path));
        Assert.Equal(index, e.Path);
        Assert.Contains("12-byte", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_verse_index_or_block_data_names_the_file()
    {
        using var dir = new TestConfigs.TempDir();
        WriteModule(dir.Path, 'b', 10);
        var verses = Path.Combine(dir.Path, "ot.bzv");
        File.WriteAllBytes(verses, File.ReadAllBytes(verses)[..47]);
        Assert.Equal(verses, Assert.Throws<DataException>(() => SwordModule.ReadEntries(dir.Path)).Path);

        WriteModule(dir.Path, 'b', 10);
        var data = Path.Combine(dir.Path, "ot.bzz");
        File.WriteAllBytes(data, File.ReadAllBytes(data)[..^5]);
        Assert.Equal(data, Assert.Throws<DataException>(() => SwordModule.ReadEntries(dir.Path)).Path);
    }
}
