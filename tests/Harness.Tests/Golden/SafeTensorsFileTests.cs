using System.Buffers.Binary;
using System.Text;
using Harness.Core.Traces;
using static TorchSharp.torch;

namespace Harness.Tests.Golden;

public sealed class SafeTensorsFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("harness-st-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Round_trip_keeps_names_dtypes_shapes_and_values()
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(7);
        var written = new Dictionary<string, Tensor>
        {
            ["f32"] = randn([3, 4], generator: gen),
            ["f64"] = randn([5], ScalarType.Float64, generator: gen),
            ["i64"] = arange(0, 6, ScalarType.Int64).reshape(2, 3),
            ["i32"] = tensor(new[] { -1, 0, int.MaxValue }),
            ["u8"] = tensor(new byte[] { 0, 128, 255 }),
            ["bf16"] = randn([2, 2], generator: gen).to(ScalarType.BFloat16),
            ["f16"] = randn([4], generator: gen).to(ScalarType.Float16),
            ["scalar"] = tensor(3.5f),
            ["empty"] = zeros([0, 3]),
        };
        var path = Path.Combine(_dir, "round.safetensors");

        SafeTensorsFile.Write(path, written);
        var read = SafeTensorsFile.Read(path);

        Assert.Equal(written.Keys.Order(), read.Keys.Order());
        foreach (var (name, t) in written)
        {
            Assert.Equal(t.dtype, read[name].dtype);
            Assert.Equal(t.shape, read[name].shape);
            Assert.True(t.equal(read[name]).all().item<bool>(), name);
        }
    }

    [Fact]
    public void A_header_length_beyond_the_file_is_reported_with_the_file_name()
    {
        var path = Path.Combine(_dir, "huge-header.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1_000_000);
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<TraceFormatException>(() => SafeTensorsFile.Read(path));

        Assert.Contains("huge-header.safetensors", e.Message);
        Assert.Contains("header length", e.Problem);
    }

    [Fact]
    public void A_file_shorter_than_the_length_prefix_is_reported()
    {
        var path = Path.Combine(_dir, "tiny.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);

        var e = Assert.Throws<TraceFormatException>(() => SafeTensorsFile.Read(path));

        Assert.Equal(path, e.FilePath);
    }

    [Fact]
    public void A_corrupt_json_header_is_reported()
    {
        var path = Path.Combine(_dir, "bad-json.safetensors");
        File.WriteAllBytes(path, WithHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], "));

        var e = Assert.Throws<TraceFormatException>(() => SafeTensorsFile.Read(path));

        Assert.Contains("bad-json.safetensors", e.Message);
        Assert.Contains("JSON", e.Problem);
    }

    [Fact]
    public void Truncated_data_is_reported_not_read_past_the_end()
    {
        using var scope = NewDisposeScope();
        var path = Path.Combine(_dir, "truncated.safetensors");
        SafeTensorsFile.Write(path, new Dictionary<string, Tensor> { ["w"] = ones(8, 8) });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);

        var e = Assert.Throws<TraceFormatException>(() => SafeTensorsFile.Read(path));

        Assert.Contains("truncated.safetensors", e.Message);
        Assert.Contains("'w'", e.Problem);
    }

    [Theory]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 12]}}", "needs 16")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 0]}}", "outside")]
    [InlineData("{\"w\": {\"dtype\": \"C64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", "unsupported dtype")]
    [InlineData("{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", "shape[0]")]
    [InlineData("[1, 2]", "not a JSON object")]
    public void Inconsistent_entries_are_reported(string header, string expected)
    {
        var path = Path.Combine(_dir, "inconsistent.safetensors");
        File.WriteAllBytes(path, WithHeader(header, dataBytes: 16));

        var e = Assert.Throws<TraceFormatException>(() => SafeTensorsFile.Read(path));

        Assert.Contains(expected, e.Problem);
        Assert.Contains("inconsistent.safetensors", e.Message);
    }

    private static byte[] WithHeader(string json, int dataBytes = 0)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }
}
