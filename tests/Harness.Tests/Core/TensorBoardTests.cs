using System.Buffers.Binary;
using System.Text;
using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Core.Running;
using Harness.Results;
using static TorchSharp.torch;

namespace Harness.Tests.Core;

public sealed class TensorBoardTests
{
    /// <summary>
    /// A 4-step run with <c>logging.tensorboard</c> writes TFRecord events (checksums verified) whose scalars are the
    /// run's own numbers: train loss at the logged steps and eval loss and lr equal to <c>steps.csv</c>, update
    /// telemetry equal to <c>updates.csv</c>.
    /// </summary>
    [Fact]
    public void A_tensorboard_run_writes_the_steps_csv_numbers_as_scalars()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var config = TestConfigs.Experiment("tb", 4, [TestConfigs.AdamW(3e-3)]) is var c
            ? c with { Training = c.Training with { LogEvery = 2, EvalEvery = 2 }, Logging = new() { Tensorboard = true } } : null!;
        var plan = Planner.Plan(config, "cpu");
        Assert.True(new SweepRunner(store, new NullRunObserver()).Run(config, plan, CPU, ProvenanceProbe.Collect(CPU), CancellationToken.None).AllCompleted);

        var runId = Assert.Single(plan).RunId;
        var file = Assert.Single(Directory.GetFiles(store.TensorBoardDir("tb", runId)));
        Assert.StartsWith("events.out.tfevents.", Path.GetFileName(file));
        var scalars = ReadScalars(file);

        var steps = store.ReadSteps("tb", runId);
        Assert.Equal([0, 2, 4], steps.Select(s => s.Step));
        AssertSeries(steps.Where(s => s.TrainLoss is not null).Select(s => (s.Step, s.TrainLoss!.Value)), scalars, TensorBoardSink.TrainLoss);
        AssertSeries(steps.Select(s => (s.Step, s.EvalLoss!.Value)), scalars, TensorBoardSink.EvalLoss);
        AssertSeries(steps.Select(s => (s.Step, s.Lr)), scalars, TensorBoardSink.LearningRate);
        var updates = store.ReadUpdates("tb", runId);
        Assert.NotEmpty(updates);
        foreach (var role in updates.Select(u => u.Role).Distinct())
        {
            var rows = updates.Where(u => u.Role == role).ToList();
            AssertSeries(rows.Select(u => (u.Step, u.MaxRatio)), scalars, TensorBoardSink.UpdateTag("max_ratio", role));
            AssertSeries(rows.Select(u => (u.Step, u.RmsRatio)), scalars, TensorBoardSink.UpdateTag("rms_ratio", role));
        }
        // Throughput on the trained steps only (the initial evaluation has none), and positive.
        var rates = scalars.Where(s => s.Tag == TensorBoardSink.TokensPerSecond).ToList();
        Assert.Equal([2, 4], rates.Select(r => r.Step));
        Assert.All(rates, r => Assert.True(r.Value > 0));
    }

    private static void AssertSeries(IEnumerable<(int Step, double Value)> expected, List<(string Tag, long Step, float Value)> scalars, string tag)
    {
        var actual = scalars.Where(s => s.Tag == tag).Select(s => (s.Step, s.Value)).ToList();
        Assert.Equal(expected.Select(e => ((long)e.Step, (float)e.Value)), actual);
    }

    /// <summary>
    /// The scalars of a TensorBoard event file: TFRecord framing (length, masked CRC-32C of the length, an Event
    /// protobuf, its masked CRC-32C), Event.step (field 2) and Event.summary (5) -> Summary.value (1) -> tag (1),
    /// simple_value (2).
    /// </summary>
    private static List<(string Tag, long Step, float Value)> ReadScalars(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var scalars = new List<(string, long, float)>();
        var at = 0;
        while (at < bytes.Length)
        {
            var header = bytes.AsSpan(at, 8);
            var length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(header));
            Assert.Equal(MaskedCrc(header), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8, 4)));
            var data = bytes.AsSpan(at + 12, length);
            Assert.Equal(MaskedCrc(data), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + length, 4)));
            at += 12 + length + 4;

            long step = 0;
            var values = new List<(string, float)>();
            foreach (var (field, _, payload) in Fields(data.ToArray()))
                if (field == 2) step = payload.Varint;
                else if (field == 5)
                    foreach (var (vField, _, value) in Fields(payload.Bytes!))
                        if (vField == 1)
                        {
                            string? tag = null;
                            float? simple = null;
                            foreach (var (f, _, p) in Fields(value.Bytes!))
                                if (f == 1) tag = Encoding.UTF8.GetString(p.Bytes!);
                                else if (f == 2) simple = BitConverter.Int32BitsToSingle((int)p.Varint);
                            if (tag is not null && simple is { } v) values.Add((tag, v));
                        }
            scalars.AddRange(values.Select(v => (v.Item1, step, v.Item2)));
        }
        return scalars;
    }

    private readonly record struct Payload(long Varint, byte[]? Bytes);

    /// <summary>The fields of a protobuf message: varint, fixed64 and fixed32 as numbers, length-delimited as bytes.</summary>
    private static IEnumerable<(int Field, int WireType, Payload Payload)> Fields(byte[] message)
    {
        var at = 0;
        long Varint()
        {
            long result = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = message[at++];
                result |= (long)(b & 0x7F) << shift;
                if (b < 0x80) return result;
            }
        }
        while (at < message.Length)
        {
            var key = Varint();
            var (field, wire) = ((int)(key >> 3), (int)(key & 7));
            Payload payload;
            switch (wire)
            {
                case 0: payload = new(Varint(), null); break;
                case 1: payload = new(BinaryPrimitives.ReadInt64LittleEndian(message.AsSpan(at, 8)), null); at += 8; break;
                case 5: payload = new(BinaryPrimitives.ReadInt32LittleEndian(message.AsSpan(at, 4)), null); at += 4; break;
                case 2:
                    var length = (int)Varint();
                    payload = new(0, message.AsSpan(at, length).ToArray());
                    at += length;
                    break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
            yield return (field, wire, payload);
        }
    }

    /// <summary>TFRecord's checksum: CRC-32C (Castagnoli), rotated right by 15 bits plus 0xa282ead8.</summary>
    private static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        crc = ~crc;
        return unchecked(((crc >> 15) | (crc << 17)) + 0xa282ead8u);
    }
}
