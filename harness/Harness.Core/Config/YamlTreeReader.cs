using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Harness.Core.Config;

/// <summary>
/// Reads YAML text into a <see cref="ConfigNode"/> tree with YamlDotNet's event parser, bounding what a
/// hostile or broken file can cost: size, nesting depth, scalar length and alias expansion. A config
/// file is small; anything past these limits is a mistake or an attack, never a real experiment.
/// </summary>
internal static partial class YamlTreeReader
{
    public const int MaxBytes = 1 << 20;
    public const int MaxDepth = 64;
    public const int MaxScalarChars = 64 * 1024;
    /// <summary>Nodes reachable through aliases, counted with repeats ("billion laughs" needs millions).</summary>
    public const long MaxAliasExpansion = 10_000;

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();

    /// <summary>Reads raw file bytes: rejects oversize, binary and non-UTF-8 content before YAML sees it.</summary>
    public static string? DecodeFile(byte[] bytes, string source, ProblemList problems)
    {
        var start = new SourceMark(source, 1, 1);
        if (bytes.Length > MaxBytes)
        {
            problems.Add(start, $"file is {bytes.Length:N0} bytes; config files are limited to {MaxBytes:N0} bytes (1 MiB)");
            return null;
        }
        var body = bytes.AsSpan();
        if (body.StartsWith("\uFEFF"u8)) body = body[3..];
        var nul = body.IndexOf((byte)0);
        if (nul >= 0)
        {
            problems.Add(MarkAtByte(body, nul, source), "binary garbage: the file contains a NUL byte; a config must be UTF-8 text");
            return null;
        }
        var offset = 0;
        while (offset < body.Length)
        {
            if (Rune.DecodeFromUtf8(body[offset..], out _, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                problems.Add(MarkAtByte(body, offset, source), "binary garbage: the file is not valid UTF-8 text");
                return null;
            }
            offset += consumed;
        }
        return Encoding.UTF8.GetString(body);
    }

    private static SourceMark MarkAtByte(ReadOnlySpan<byte> body, int offset, string source)
    {
        var before = body[..offset];
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        var line = before.Count((byte)'\n') + 1;
        // Columns count characters, so decode the (valid) prefix of the line.
        var column = Encoding.UTF8.GetCharCount(ValidPrefix(before[lineStart..])) + 1;
        return new SourceMark(source, line, column);
    }

    private static ReadOnlySpan<byte> ValidPrefix(ReadOnlySpan<byte> span)
    {
        var offset = 0;
        while (offset < span.Length && Rune.DecodeFromUtf8(span[offset..], out _, out var n) == System.Buffers.OperationStatus.Done)
            offset += n;
        return span[..offset];
    }

    /// <summary>
    /// Parses one YAML document. Returns null when the text is empty or unusable (the reason is in
    /// <paramref name="problems"/>, except for an empty document, which the caller words itself).
    /// <paramref name="columnOffset"/> shifts columns, for values cut out of a <c>--set</c> override;
    /// <paramref name="singleLine"/> keeps every mark on line 1 (a mark past the end, as YamlDotNet
    /// gives for an unexpected end of input, becomes the end of the text).
    /// </summary>
    public static ConfigNode? Read(string text, string source, ProblemList problems, int columnOffset = 0, bool singleLine = false)
    {
        if (Encoding.UTF8.GetByteCount(text) > MaxBytes)
        {
            problems.Add(new SourceMark(source, 1, 1 + columnOffset), $"text is larger than {MaxBytes:N0} bytes (1 MiB), the limit for a config");
            return null;
        }
        if (FindControlCharacter(text, source, columnOffset) is { } bad)
        {
            problems.Add(bad.Mark, $"binary garbage: control character U+{(int)bad.Char:X4}; a config must be text");
            return null;
        }
        var builder = new Builder(source, problems, columnOffset, singleLine ? text.Length : null);
        try
        {
            var parser = new Parser(new StringReader(text));
            return builder.Run(parser);
        }
        catch (YamlException e)
        {
            var mark = builder.At(e.Start);
            // YamlDotNet points a tab in block indentation at the enclosing mapping (or words it as a
            // token it cannot start); find the tab itself and say so plainly.
            var searchTo = e.Message.Contains("tab", StringComparison.OrdinalIgnoreCase) ? int.MaxValue : (int)Math.Max(e.Start.Line, e.End.Line);
            if (FindTabIndentation(text, searchTo) is { } tabLine)
                problems.Add(new SourceMark(source, tabLine.Line, tabLine.Column + columnOffset),
                    "tab character in indentation; YAML indents with spaces only");
            else
                problems.Add(mark, "invalid YAML: " + MarkPrefix().Replace(e.Message, ""));
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner can fail this way at the end of the input inside an unclosed flow
            // collection; the innermost collection still open is what the user has to close.
            problems.Add(builder.InnermostOpen ?? builder.LastMark ?? new SourceMark(source, 1, 1 + columnOffset),
                "invalid YAML: this list or mapping is never closed (missing ']' or '}'?)");
            return null;
        }
        catch (LimitExceeded)
        {
            return null;
        }
    }

    private static (SourceMark Mark, char Char)? FindControlCharacter(string text, string source, int columnOffset)
    {
        int line = 1, column = 1;
        foreach (var c in text)
        {
            if (c == '\n') { line++; column = 1; continue; }
            if (char.IsControl(c) && c is not '\t' and not '\r' and not '\u0085')
                return (new SourceMark(source, line, column + columnOffset), c);
            column++;
        }
        return null;
    }

    /// <summary>The first line at or before <paramref name="upToLine"/> whose indentation contains a tab.</summary>
    private static (int Line, int Column)? FindTabIndentation(string text, int upToLine)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length && i < upToLine; i++)
        {
            var l = lines[i];
            var indent = l.Length - l.TrimStart(' ', '\t').Length;
            var tab = l.IndexOf('\t', 0, indent);
            if (tab >= 0 && indent < l.TrimEnd('\r').Length) return (i + 1, tab + 1);
        }
        return null;
    }

    /// <summary>Thrown inside the builder to stop reading after a fatal limit; the problem is already recorded.</summary>
    private sealed class LimitExceeded : Exception;

    /// <summary>Turns the event stream into nodes, tracking depth, anchors and alias expansion.</summary>
    private sealed class Builder(string source, ProblemList problems, int columnOffset, int? singleLineLength)
    {
        private readonly Dictionary<string, (ConfigNode Node, long Size)> _anchors = new(StringComparer.Ordinal);
        private readonly Dictionary<ConfigNode, long> _sizes = new(ReferenceEqualityComparer.Instance);
        private readonly Stack<SourceMark> _open = new();
        private long _aliasExpansion;
        private int _depth;

        public SourceMark? InnermostOpen => _open.Count > 0 ? _open.Peek() : null;
        public SourceMark? LastMark { get; private set; }

        public SourceMark At(Mark m)
        {
            var line = (int)Math.Min(m.Line, int.MaxValue);
            var column = (int)Math.Min(m.Column, int.MaxValue);
            if (singleLineLength is { } length && line != 1) (line, column) = (1, length + 1);
            return new(source, line, column + columnOffset);
        }

        public ConfigNode? Run(IParser parser)
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _)) return null;
            parser.Consume<DocumentStart>();
            var root = ReadNode(parser);
            parser.Consume<DocumentEnd>();
            if (parser.Current is DocumentStart second)
            {
                problems.Add(At(second.Start), "a config file holds one YAML document; found a second one ('---')");
                return null;
            }
            parser.Consume<StreamEnd>();
            return root;
        }

        private ConfigNode ReadNode(IParser parser)
        {
            var ev = parser.Current ?? throw new YamlException("unexpected end of the YAML stream");
            LastMark = At(ev.Start);
            parser.MoveNext();
            switch (ev)
            {
                case AnchorAlias alias:
                    if (!_anchors.TryGetValue(alias.Value.Value, out var target))
                        Fatal(ev, $"alias *{alias.Value.Value} refers to no anchor defined before it");
                    _aliasExpansion += target.Size;
                    if (_aliasExpansion > MaxAliasExpansion)
                        Fatal(ev, $"aliases expand to more than {MaxAliasExpansion:N0} nodes (an alias bomb?); write the values out instead");
                    _sizes[target.Node] = target.Size;
                    return target.Node;
                case Scalar scalar:
                    RejectTag(scalar.Tag, ev);
                    var tooLong = scalar.Value.Length > MaxScalarChars;
                    if (tooLong)
                        problems.Add(At(ev.Start), $"value is {scalar.Value.Length:N0} characters long; the limit is {MaxScalarChars:N0}");
                    return Remember(scalar.Anchor, new ScalarNode(At(ev.Start), tooLong ? "" : scalar.Value, scalar.Style == ScalarStyle.Plain) { Rejected = tooLong }, 1);
                case SequenceStart seq:
                    RejectTag(seq.Tag, ev);
                    Enter(ev);
                    var items = new List<ConfigNode>();
                    long size = 1;
                    while (!parser.TryConsume<SequenceEnd>(out _))
                    {
                        var item = ReadNode(parser);
                        size += SizeOf(item);
                        items.Add(item);
                    }
                    Leave();
                    return Remember(seq.Anchor, new SequenceNode(At(ev.Start), items), size);
                case MappingStart map:
                    RejectTag(map.Tag, ev);
                    Enter(ev);
                    var entries = new List<MappingEntry>();
                    long mapSize = 1;
                    var keysSeen = new HashSet<string>(StringComparer.Ordinal);
                    while (!parser.TryConsume<MappingEnd>(out _))
                    {
                        var keyEvent = parser.Current!;
                        var key = ReadNode(parser);
                        var value = ReadNode(parser);
                        mapSize += SizeOf(key) + SizeOf(value);
                        if (key is not ScalarNode k || k.IsNull)
                        {
                            problems.Add(At(keyEvent.Start), "keys must be plain names, not lists, mappings or null");
                            continue;
                        }
                        // The set keeps a mapping of n keys O(n): a linear search per key made 80,000 keys a hang.
                        if (!keysSeen.Add(k.Value) && entries.Find(e => e.Key.Value == k.Value) is { } first)
                        {
                            problems.Add(k.Mark, $"duplicate key '{k.Value}' (first given at line {first.Key.Mark.Line})");
                            continue;
                        }
                        entries.Add(new MappingEntry(k, value));
                    }
                    Leave();
                    return Remember(map.Anchor, new MappingNode(At(ev.Start), entries), mapSize);
                default:
                    Fatal(ev, $"unexpected YAML event {ev.GetType().Name}");
                    return null!;
            }
        }

        private long SizeOf(ConfigNode n) => _sizes.TryGetValue(n, out var s) ? s : 1;

        private ConfigNode Remember(AnchorName anchor, ConfigNode node, long size)
        {
            if (size > 1) _sizes[node] = size;
            // Anchors register when their node is complete, so an alias can never refer to its own ancestor.
            if (!anchor.IsEmpty) _anchors[anchor.Value] = (node, size);
            return node;
        }

        private void Enter(ParsingEvent ev)
        {
            _open.Push(At(ev.Start));
            if (++_depth > MaxDepth) Fatal(ev, $"nesting deeper than {MaxDepth} levels");
        }

        private void Leave()
        {
            _open.Pop();
            _depth--;
        }

        private void RejectTag(TagName tag, ParsingEvent ev)
        {
            if (!tag.IsEmpty) problems.Add(At(ev.Start), $"YAML tags ('{tag.Value}') are not supported in a config");
        }

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private void Fatal(ParsingEvent ev, string message)
        {
            problems.Add(At(ev.Start), message);
            throw new LimitExceeded();
        }
    }
}
