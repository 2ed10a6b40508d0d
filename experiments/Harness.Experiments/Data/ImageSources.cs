using System.IO.Compression;

namespace Harness.Experiments.Data;

/// <summary>
/// Train and test images by <c>dataset:</c> value: <c>digits</c> (sklearn's 8x8 digits, bundled: the
/// first 1,500 rows train, the last 297 test), a prepared dataset (<c>mnist</c>, <c>fashion-mnist</c>)
/// from the cache, or a folder holding MNIST-style IDX files (<c>train-images-idx3-ubyte[.gz]</c>, …) or
/// the CIFAR-10 binary batches (<c>data_batch_1..5.bin</c>, <c>test_batch.bin</c>).
/// </summary>
public static class ImageSources
{
    public const string Digits = "digits";
    private const int DigitsTrain = 1500;

    public static bool LooksValid(string dataset) =>
        dataset == Digits || PreparedData.Find(dataset) is { Kind: PreparedKind.Images }
        || dataset.IndexOfAny(['/', '\\']) >= 0 || dataset.StartsWith('.');

    /// <exception cref="DataException">Missing or malformed files, or a dataset that is not prepared.</exception>
    public static (ImageSet Train, ImageSet Test) Load(string dataset, DataLocations where)
    {
        ArgumentNullException.ThrowIfNull(where);
        if (dataset == Digits) return LoadDigits();
        string folder;
        if (PreparedData.Find(dataset) is { Kind: PreparedKind.Images } prepared)
        {
            folder = prepared.Directory(where.CacheDirectory
                ?? throw new DataException(dataset, "prepared datasets live in the cache, and no cache directory was given"));
            if (!System.IO.Directory.Exists(folder))
                throw new DataException(folder, $"dataset '{dataset}' is not prepared; run `./run.sh data prepare {dataset}` first");
        }
        else
        {
            folder = where.Resolve(dataset);
            if (!System.IO.Directory.Exists(folder)) throw new DataException(folder, "image dataset folder not found");
        }
        if (File.Exists(Path.Combine(folder, "data_batch_1.bin"))) return LoadCifar(folder);
        return (LoadIdx(folder, "train"), LoadIdx(folder, "t10k"));
    }

    private static string IdxPath(string folder, string name)
    {
        var plain = Path.Combine(folder, name);
        return File.Exists(plain) ? plain : plain + ".gz";
    }

    private static ImageSet LoadIdx(string folder, string prefix)
    {
        var imagesPath = IdxPath(folder, $"{prefix}-images-idx3-ubyte");
        var labelsPath = IdxPath(folder, $"{prefix}-labels-idx1-ubyte");
        var (imageDims, pixels) = IdxFile.Read(imagesPath);
        var (labelDims, labels) = IdxFile.Read(labelsPath);
        if (imageDims.Length != 3) throw new DataException(imagesPath, $"expected 3 dimensions (count, rows, columns), got {imageDims.Length}");
        if (labelDims.Length != 1) throw new DataException(labelsPath, $"expected 1 dimension (count), got {labelDims.Length}");
        if (imageDims[0] != labelDims[0])
            throw new DataException(labelsPath, $"{labelDims[0]} labels for {imageDims[0]} images in {imagesPath}");
        if (imageDims[0] == 0) throw new DataException(imagesPath, "holds no images");
        return new ImageSet(pixels, labels, 1, imageDims[1], imageDims[2], CheckLabels(labelsPath, labels, 10));
    }

    /// <summary>CIFAR-10 binary: records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major 32x32).</summary>
    private static (ImageSet Train, ImageSet Test) LoadCifar(string folder)
    {
        var train = Enumerable.Range(1, 5).Select(i => Path.Combine(folder, $"data_batch_{i}.bin")).ToList();
        return (ReadCifar(train), ReadCifar([Path.Combine(folder, "test_batch.bin")]));
    }

    private static ImageSet ReadCifar(IReadOnlyList<string> files)
    {
        const int record = 1 + 3 * 32 * 32;
        var pixels = new List<byte>();
        var labels = new List<byte>();
        foreach (var f in files)
        {
            if (!File.Exists(f)) throw new DataException(f, "CIFAR-10 batch not found");
            var bytes = File.ReadAllBytes(f);
            if (bytes.Length == 0 || bytes.Length % record != 0)
                throw new DataException(f, $"truncated: {bytes.Length} bytes is not a whole number of {record}-byte CIFAR-10 records");
            for (var at = 0; at < bytes.Length; at += record)
            {
                labels.Add(bytes[at]);
                pixels.AddRange(bytes.AsSpan(at + 1, record - 1).ToArray());
            }
        }
        var labelArray = labels.ToArray();
        return new ImageSet([.. pixels], labelArray, 3, 32, 32, CheckLabels(files[0], labelArray, 10));
    }

    private static int CheckLabels(string path, byte[] labels, int classes)
    {
        var max = labels.Length == 0 ? 0 : labels.Max();
        if (max >= classes) throw new DataException(path, $"label {max} is outside 0..{classes - 1}");
        return classes;
    }

    /// <summary>The bundled sklearn digits: 64 values 0..16 and a label per CSV row; pixels scaled to 0..255.</summary>
    public static (ImageSet Train, ImageSet Test) LoadDigits()
    {
        using var compressed = typeof(ImageSources).Assembly.GetManifestResourceStream("Harness.Images.digits.csv.gz")
            ?? throw new InvalidOperationException("the digits resource is not embedded");
        using var reader = new StreamReader(new GZipStream(compressed, CompressionMode.Decompress));
        var rows = new List<byte[]>();
        while (reader.ReadLine() is { } line)
            if (line.Length > 0) rows.Add([.. line.Split(',').Select(v => byte.Parse(v, System.Globalization.CultureInfo.InvariantCulture))]);
        ImageSet Slice(IEnumerable<byte[]> part)
        {
            var list = part.ToList();
            var pixels = new byte[list.Count * 64];
            var labels = new byte[list.Count];
            for (var i = 0; i < list.Count; i++)
            {
                for (var j = 0; j < 64; j++) pixels[i * 64 + j] = (byte)(list[i][j] * 255 / 16);
                labels[i] = list[i][64];
            }
            return new ImageSet(pixels, labels, 1, 8, 8, 10);
        }
        return (Slice(rows.Take(DigitsTrain)), Slice(rows.Skip(DigitsTrain)));
    }
}
