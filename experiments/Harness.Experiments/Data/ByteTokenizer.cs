using System.Text;

namespace Harness.Experiments.Data;

/// <summary>
/// UTF-8 bytes as tokens (vocab 256). It needs no files, and its tiny vocabulary keeps the embedding and
/// head from dominating a small CPU model.
/// </summary>
public sealed class ByteTokenizer : ITokenizer
{
    public string Name => "byte";

    public int VocabSize => 256;

    public int? EndOfText => null;

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (var i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
        return ids;
    }

    /// <summary>Invalid UTF-8 (e.g. a window cut inside a multi-byte character) decodes to U+FFFD.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = ids.Select(id => id is >= 0 and < 256
            ? (byte)id
            : throw new ArgumentOutOfRangeException(nameof(ids), $"byte token ids are 0..255 (got {id})")).ToArray();
        return Encoding.UTF8.GetString(bytes);
    }
}
