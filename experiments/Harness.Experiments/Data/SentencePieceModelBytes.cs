using System.Text;

namespace Harness.Experiments.Data;

/// <summary>
/// Reads the few fields of a SentencePiece <c>ModelProto</c> (protobuf) the harness needs, and works around a
/// Microsoft.ML.Tokenizers 3.0.0 bug: its Unigram loader indexes its reverse vocabulary with <c>bos_id</c> and
/// <c>eos_id</c>, so a model without a beginning-of-sentence piece (<c>bos_id = -1</c>, as T5's <c>spiece.model</c>:
/// pad 0, eos 1, unk 2) throws IndexOutOfRangeException. <see cref="WithPresentSpecialIds"/> points a missing
/// bos/eos at the unknown piece (id and name), which the loader then overwrites with the unknown entry itself:
/// no piece, id or score changes. The harness never asks the tokenizer to add bos/eos, and takes the end-of-text
/// id from the original <c>eos_id</c>.
/// </summary>
internal static class SentencePieceModelBytes
{
    private const int PiecesField = 1, TrainerSpecField = 2, PieceTextField = 1;
    private const int ModelTypeField = 3, UnigramType = 1;
    private const int UnkIdField = 40, BosIdField = 41, EosIdField = 42, UnkPieceField = 45, BosPieceField = 46, EosPieceField = 47;

    /// <summary>The model's <c>eos_id</c> (protobuf default 2), or -1 when it has none.</summary>
    /// <exception cref="InvalidDataException">Not a protobuf message.</exception>
    public static int EndOfSentenceId(byte[] model) => Ids(model).Eos;

    /// <summary>Whether the model is a Unigram model (<c>trainer_spec.model_type</c>, protobuf default UNIGRAM).</summary>
    /// <exception cref="InvalidDataException">Not a protobuf message.</exception>
    public static bool IsUnigram(byte[] model) => Ids(model).Type == UnigramType;

    /// <summary>The model with a missing (-1) bos_id or eos_id replaced by unk_id; the same bytes when both exist.</summary>
    /// <exception cref="InvalidDataException">Not a protobuf message, or the unknown id is outside the pieces.</exception>
    public static byte[] WithPresentSpecialIds(byte[] model)
    {
        var (unk, bos, eos, _, pieces, spec) = Ids(model);
        if (bos >= 0 && eos >= 0) return model;
        if (unk < 0 || unk >= pieces.Count) throw new InvalidDataException($"unk_id {unk} is outside the {pieces.Count} pieces");
        using var newSpec = new MemoryStream();
        foreach (var (field, wire, start, end) in Fields(model.AsSpan(spec.Start, spec.Length).ToArray()))
        {
            if (bos < 0 && field is BosIdField or BosPieceField) continue;
            if (eos < 0 && field is EosIdField or EosPieceField) continue;
            newSpec.Write(model, spec.Start + start, end - start);
            _ = wire;
        }
        if (bos < 0) { WriteVarintField(newSpec, BosIdField, (ulong)unk); WriteStringField(newSpec, BosPieceField, pieces[unk]); }
        if (eos < 0) { WriteVarintField(newSpec, EosIdField, (ulong)unk); WriteStringField(newSpec, EosPieceField, pieces[unk]); }
        using var result = new MemoryStream();
        foreach (var (field, _, start, end) in Fields(model))
        {
            if (field == TrainerSpecField) WriteBytesField(result, TrainerSpecField, newSpec.ToArray());
            else result.Write(model, start, end - start);
        }
        return result.ToArray();
    }

    private static (int Unk, int Bos, int Eos, int Type, List<string> Pieces, (int Start, int Length) Spec) Ids(byte[] model)
    {
        int unk = 0, bos = 1, eos = 2, type = UnigramType;
        var pieces = new List<string>();
        (int Start, int Length) spec = (0, 0);
        foreach (var (field, wire, start, end) in Fields(model))
        {
            if (wire != 2) continue;
            var (payloadStart, payloadLength) = Payload(model, start, end);
            if (field == PiecesField)
            {
                var piece = model.AsSpan(payloadStart, payloadLength).ToArray();
                var text = Fields(piece).Where(f => f.Field == PieceTextField && f.Wire == 2).Select(f => Payload(piece, f.Start, f.End)).FirstOrDefault();
                pieces.Add(Encoding.UTF8.GetString(piece, text.Start, text.Length));
            }
            else if (field == TrainerSpecField)
            {
                spec = (payloadStart, payloadLength);
                var bytes = model.AsSpan(payloadStart, payloadLength).ToArray();
                foreach (var (f, w, s, _) in Fields(bytes))
                {
                    if (w != 0) continue;
                    var at = s;
                    ReadVarint(bytes, ref at);
                    var value = (int)(long)ReadVarint(bytes, ref at);
                    if (f == UnkIdField) unk = value;
                    else if (f == BosIdField) bos = value;
                    else if (f == EosIdField) eos = value;
                    else if (f == ModelTypeField) type = value;
                }
            }
        }
        if (pieces.Count == 0) throw new InvalidDataException("no pieces (not a SentencePiece model)");
        return (unk, bos, eos, type, pieces, spec);
    }

    /// <summary>Each field of a message: number, wire type, and the byte range of the whole field (tag included).</summary>
    private static List<(int Field, int Wire, int Start, int End)> Fields(byte[] message)
    {
        var fields = new List<(int, int, int, int)>();
        var at = 0;
        while (at < message.Length)
        {
            var start = at;
            var tag = ReadVarint(message, ref at);
            var field = (int)(tag >> 3);
            var wire = (int)(tag & 7);
            if (field == 0) throw new InvalidDataException($"field number 0 at byte {start}");
            switch (wire)
            {
                case 0: ReadVarint(message, ref at); break;
                case 1: at += 8; break;
                case 2:
                    var length = checked((int)ReadVarint(message, ref at));
                    at += length;
                    break;
                case 5: at += 4; break;
                default: throw new InvalidDataException($"wire type {wire} at byte {start}");
            }
            if (at > message.Length || at < start) throw new InvalidDataException($"field {field} at byte {start} runs past the end");
            fields.Add((field, wire, start, at));
        }
        return fields;
    }

    private static (int Start, int Length) Payload(byte[] message, int fieldStart, int fieldEnd)
    {
        var at = fieldStart;
        ReadVarint(message, ref at);
        var length = (int)ReadVarint(message, ref at);
        return (at, Math.Min(length, fieldEnd - at));
    }

    private static ulong ReadVarint(byte[] bytes, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (at >= bytes.Length) throw new InvalidDataException("truncated varint");
            var b = bytes[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException("varint longer than 10 bytes");
    }

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        s.WriteByte((byte)value);
    }

    private static void WriteVarintField(Stream s, int field, ulong value)
    {
        WriteVarint(s, (ulong)field << 3);
        WriteVarint(s, value);
    }

    private static void WriteBytesField(Stream s, int field, byte[] payload)
    {
        WriteVarint(s, ((ulong)field << 3) | 2);
        WriteVarint(s, (ulong)payload.Length);
        s.Write(payload);
    }

    private static void WriteStringField(Stream s, int field, string text) => WriteBytesField(s, field, Encoding.UTF8.GetBytes(text));
}
