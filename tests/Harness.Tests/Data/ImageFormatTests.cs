using Harness.Cli;
using Harness.Experiments.Data;
using Harness.Tests.Core;

namespace Harness.Tests.Data;

public sealed class ImageFormatTests
{
    private static void WriteIdxPair(string folder, string prefix, int count)
    {
        var pixels = Enumerable.Range(0, count * 4).Select(i => (byte)i).ToArray();
        IdxFile.Write(Path.Combine(folder, $"{prefix}-images-idx3-ubyte"), [count, 2, 2], pixels);
        IdxFile.Write(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte"), [count], Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray());
    }

    [Fact]
    public void Idx_folders_load_train_and_test_and_gzip_is_detected()
    {
        using var dir = new TestConfigs.TempDir();
        WriteIdxPair(dir.Path, "train", 12);
        WriteIdxPair(dir.Path, "t10k", 5);
        var labels = Path.Combine(dir.Path, "t10k-labels-idx1-ubyte");
        using (var gz = new System.IO.Compression.GZipStream(File.Create(labels + ".gz"), System.IO.Compression.CompressionLevel.Fastest))
            gz.Write(File.ReadAllBytes(labels));
        File.Delete(labels);
        var (train, test) = ImageSources.Load(".", new DataLocations(dir.Path, null));
        Assert.Equal((12, 5), (train.Count, test.Count));
        Assert.Equal((1, 2, 2), (train.Channels, train.Height, train.Width));
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4 }, test.Labels);
        Assert.Equal(new byte[] { 4, 5, 6, 7 }, train.Pixels[4..8]);
    }

    [Fact]
    public void Bad_image_files_give_data_errors_naming_the_file()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "x-idx3-ubyte");
        File.WriteAllBytes(path, [0, 0, 9, 3, 0, 0, 0, 1]);
        Assert.Contains("wrong magic number 0x00000903", Assert.Throws<DataException>(() => IdxFile.Read(path)).Message);
        IdxFile.Write(path, [3, 2, 2], new byte[11]);
        var cut = Assert.Throws<DataException>(() => IdxFile.Read(path));
        Assert.Equal(path, cut.Path);
        Assert.Contains("truncated: the header says 3x2x2 = 12 bytes of data but the file has 11", cut.Message);

        var cifar = Path.Combine(dir.Path, "cifar");
        Directory.CreateDirectory(cifar);
        for (var i = 1; i <= 5; i++) File.WriteAllBytes(Path.Combine(cifar, $"data_batch_{i}.bin"), new byte[2 * 3073]);
        File.WriteAllBytes(Path.Combine(cifar, "test_batch.bin"), new byte[3073 + 10]);
        Assert.Contains("test_batch.bin: truncated: 3083 bytes is not a whole number of 3073-byte CIFAR-10 records",
            Assert.Throws<DataException>(() => ImageSources.Load(cifar, DataLocations.None)).Message);
        File.WriteAllBytes(Path.Combine(cifar, "test_batch.bin"), new byte[3073]);
        var (train, test) = ImageSources.Load(cifar, DataLocations.None);
        Assert.Equal((10, 1, 3, 32), (train.Count, test.Count, train.Channels, train.Width));

        Assert.Contains("not prepared; run `./run.sh data prepare mnist` first",
            Assert.Throws<DataException>(() => ImageSources.Load("mnist", new DataLocations(null, dir.Path))).Message);
    }

    [Fact]
    public void The_cli_turns_a_data_error_into_exit_code_2()
    {
        var code = CliErrors.Guard(() => throw new DataException("/data/x.bin", "token file not found"));
        Assert.Equal(2, code);
    }
}
