using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Harness.Experiments.Data.Preparation;
using Harness.Tests.Core;

namespace Harness.Tests.Data;

public sealed class RdbStringsTests
{
    private static byte[] Object(params string?[] strings)
    {
        var plain = new MemoryStream();
        plain.Write("X\n"u8);
        plain.Write(new byte[12]); // version fields, ignored
        Span<byte> word = stackalloc byte[4];
        foreach (var s in strings)
        {
            BinaryPrimitives.WriteUInt32BigEndian(word, 0x00040009); // CHARSXP, UTF-8 flag
            plain.Write(word);
            var bytes = s is null ? null : Encoding.UTF8.GetBytes(s);
            BinaryPrimitives.WriteInt32BigEndian(word, bytes?.Length ?? -1);
            plain.Write(word);
            if (bytes is not null) plain.Write(bytes);
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(plain.ToArray());
        var result = new byte[4 + compressed.Length];
        BinaryPrimitives.WriteUInt32BigEndian(result, (uint)plain.Length);
        compressed.ToArray().CopyTo(result, 4);
        return result;
    }

    [Fact]
    public void Strings_of_each_serialized_object_are_recovered_in_order()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "Rdata.rdb");
        File.WriteAllBytes(path, [.. Object("EMMA", "Emma Woodhouse, handsome, clever", null, "é"), .. Object("PERSUASION", "")]);
        var objects = RdbStrings.Read(path);
        Assert.Equal(2, objects.Count);
        Assert.Equal(["EMMA", "Emma Woodhouse, handsome, clever", "é"], objects[0]);
        Assert.Equal(["PERSUASION", ""], objects[1]);
    }
}
