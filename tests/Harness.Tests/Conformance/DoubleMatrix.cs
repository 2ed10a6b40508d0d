namespace Harness.Tests.Conformance;

/// <summary>Plain double-precision matrix arithmetic for the hand-computed reference checks (no TorchSharp).</summary>
internal static class DoubleMatrix
{
    public static double[,] Multiply(double[,] x, double[,] y)
    {
        var (n, k, m) = (x.GetLength(0), x.GetLength(1), y.GetLength(1));
        var r = new double[n, m];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < m; j++)
                for (var l = 0; l < k; l++)
                    r[i, j] += x[i, l] * y[l, j];
        return r;
    }

    public static double[,] Transpose(double[,] x)
    {
        var r = new double[x.GetLength(1), x.GetLength(0)];
        for (var i = 0; i < x.GetLength(0); i++)
            for (var j = 0; j < x.GetLength(1); j++)
                r[j, i] = x[i, j];
        return r;
    }

    /// <summary>a·x + b·y, element-wise.</summary>
    public static double[,] Combine(double a, double[,] x, double b, double[,] y)
    {
        var r = new double[x.GetLength(0), x.GetLength(1)];
        for (var i = 0; i < x.GetLength(0); i++)
            for (var j = 0; j < x.GetLength(1); j++)
                r[i, j] = a * x[i, j] + b * y[i, j];
        return r;
    }

    public static double FrobeniusNorm(double[,] x) => Math.Sqrt(x.Cast<double>().Sum(v => v * v));

    public static float[] Flatten(double[,] x) => x.Cast<double>().Select(v => (float)v).ToArray();

    public static double[,] FromRows(double[][] rows)
    {
        var r = new double[rows.Length, rows[0].Length];
        for (var i = 0; i < rows.Length; i++)
            for (var j = 0; j < rows[0].Length; j++)
                r[i, j] = rows[i][j];
        return r;
    }
}
