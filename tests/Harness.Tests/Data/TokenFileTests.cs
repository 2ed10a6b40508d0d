using System.Buffers.Binary;
using Harness.Experiments.Data;
using Harness.Tests.Core;

namespace Harness.Tests.Data;

public sealed class TokenFileTests
{
    [Fact]
    public void Round_trip_keeps_tokens_and_header_fields_and_stays_llm_c_compatible()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "t.bin");
        int[] tokens = [0, 1, 50256, 7, 65535 - 1];
        TokenFile.Write(path, tokens, new TokenFileInfo("gpt2", 65535, "abc123"));
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(1024 + 2 * tokens.Length, bytes.Length);
        Assert.Equal(20240520, BinaryPrimitives.ReadInt32LittleEndian(bytes));
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(tokens.Length, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)));
        using var file = TokenFile.Open(path, requireHeader: true);
        Assert.True(file.HasHeader);
        Assert.Equal(new TokenFileInfo("gpt2", 65535, "abc123"), file.Info);
        Assert.Equal(tokens, Enumerable.Range(0, tokens.Length).Select(i => file[i]));
        Assert.Equal(65534, file.MaxToken());
    }

    [Fact]
    public void Headerless_nanogpt_files_are_read_as_raw_uint16()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "train.bin");
        File.WriteAllBytes(path, [1, 0, 2, 0, 0x01, 0x01]);
        using var file = TokenFile.Open(path);
        Assert.False(file.HasHeader);
        Assert.Null(file.Info);
        Assert.Equal([1, 2, 257], Enumerable.Range(0, 3).Select(i => file[i]));
    }

    [Fact]
    public void Bad_token_files_name_the_file_and_the_problem()
    {
        using var dir = new TestConfigs.TempDir();
        string P(string n) => Path.Combine(dir.Path, n);
        var missing = Assert.Throws<DataException>(() => TokenFile.Open(P("none.bin")));
        Assert.Equal($"{P("none.bin")}: token file not found", missing.Message);

        File.WriteAllBytes(P("empty.bin"), []);
        Assert.Contains("empty", Assert.Throws<DataException>(() => TokenFile.Open(P("empty.bin"))).Message);

        File.WriteAllBytes(P("odd.bin"), [1, 2, 3]);
        Assert.Contains("odd byte count (3)", Assert.Throws<DataException>(() => TokenFile.Open(P("odd.bin"))).Message);

        File.WriteAllBytes(P("magic.bin"), new byte[2048]);
        var magic = Assert.Throws<DataException>(() => TokenFile.Open(P("magic.bin"), requireHeader: true));
        Assert.Equal(P("magic.bin"), magic.Path);
        Assert.Contains("wrong magic number 0 (expected 20240520", magic.Message);

        TokenFile.Write(P("cut.bin"), [1, 2, 3, 4], new TokenFileInfo("byte", 256, "h"));
        var full = File.ReadAllBytes(P("cut.bin"));
        File.WriteAllBytes(P("cut.bin"), full[..^3]);
        var cut = Assert.Throws<DataException>(() => TokenFile.Open(P("cut.bin")));
        Assert.Contains("truncated: the header says 4 tokens (1032 bytes) but the file has 1029 bytes", cut.Message);
    }
}
