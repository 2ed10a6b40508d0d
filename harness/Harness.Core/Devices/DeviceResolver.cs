using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Core.Devices;

/// <summary>A device that was asked for but cannot be used here (e.g. <c>cuda</c> on a host without a GPU).</summary>
public sealed class DeviceUnavailableException(string message) : Exception(message);

/// <summary>Turns <c>auto | cpu | cuda | cuda:N</c> into a TorchSharp device.</summary>
public static class DeviceResolver
{
    /// <summary>True for the device spellings a config or --device may use: auto, cpu, cuda, cuda:N.</summary>
    public static bool IsValidSyntax(string d) =>
        d is "auto" or "cpu" or "cuda" || (d.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(d[5..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _));

    public static Device Resolve(string requested)
    {
        switch (requested)
        {
            case "cpu":
                return CPU;
            case "auto":
                return cuda.is_available() ? CUDA : CPU;
        }
        if (requested == "cuda" || requested.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new DeviceUnavailableException(
                    $"device '{requested}' requested but CUDA is not available (this build loads the CPU libtorch; see README, 'Running on a GPU server')");
            var ordinal = requested == "cuda" ? 0 : int.Parse(requested[5..], System.Globalization.CultureInfo.InvariantCulture);
            if (ordinal >= cuda.device_count())
                throw new DeviceUnavailableException($"device '{requested}' requested but only {cuda.device_count()} CUDA device(s) exist");
            return new Device(DeviceType.CUDA, ordinal);
        }
        throw new DeviceUnavailableException($"unknown device '{requested}' (expected auto, cpu, cuda or cuda:N)");
    }
}
