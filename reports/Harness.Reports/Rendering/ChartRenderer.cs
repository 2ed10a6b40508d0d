using System.Globalization;
using Harness.Reports.Charts;
using ScottPlot;

namespace Harness.Reports.Rendering;

/// <summary>
/// Draws chart models with ScottPlot: one colour per optimizer from the report's <see cref="Palette"/>, a
/// line pattern per configuration of the same optimizer, runs that did not complete dashed and marked ×, loss events
/// (<see cref="LineChart.Markers"/>) as outlined triangles.
/// </summary>
public sealed class ChartRenderer(Charts.Palette palette, int width = 900, int height = 540)
{
    private static readonly LinePattern[] Patterns = [LinePattern.Solid, LinePattern.Dashed, LinePattern.Dotted, LinePattern.DenselyDashed];

    public RenderedChart Render(LineChart chart) => Save(chart.Name, chart.Title, Line(chart), chart.Notes);
    public RenderedChart Render(BarChart chart) => Save(chart.Name, chart.Title, Bars(chart), chart.Notes);
    public RenderedChart Render(ParetoChart chart) => Save(chart.Name, chart.Title, Pareto(chart), chart.Notes);
    public RenderedChart Render(Claims.ClaimsChart chart) => Save(Claims.ClaimsChart.FileName, chart.Title, ClaimBars(chart), chart.Notes);

    private RenderedChart Save(string name, string title, Plot plot, IReadOnlyList<string> notes) =>
        new(name, title, plot.GetImageBytes(width, height, ImageFormat.Png), plot.GetSvgXml(width, height), notes);

    private static Plot NewPlot(string title, string x, string y)
    {
        var plot = new Plot();
        plot.Font.Set(ChartFonts.Ensure());
        plot.Title(title, size: 18);
        plot.XLabel(x, size: 14);
        plot.YLabel(y, size: 14);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.Left.TickLabelStyle.FontSize = 12;
        return plot;
    }

    private Color ColorOf(string optimizer) => Color.FromHex(palette.Of(optimizer));

    private Plot Line(LineChart chart)
    {
        var plot = NewPlot(chart.Title, chart.XLabel, chart.YLabel);
        double X(double x) => chart.LogX ? Math.Log10(x) : x;
        foreach (var s in chart.Series.Where(s => s.BandLabel is not null))
        {
            var fill = plot.Add.FillY(s.Points.Select(p => X(p.X)).ToArray(), s.Points.Select(p => p.Low).ToArray(), s.Points.Select(p => p.High).ToArray());
            fill.FillColor = ColorOf(s.Optimizer).WithAlpha(0.2);
            fill.LineColor = Colors.Transparent;
            fill.LegendText = s.BandLabel!;
        }
        foreach (var s in chart.Series)
        {
            var color = ColorOf(s.Optimizer);
            var line = plot.Add.Scatter(s.Points.Select(p => X(p.X)).ToArray(), s.Points.Select(p => p.Y).ToArray(), color);
            line.LegendText = s.Label;
            line.LineWidth = 2;
            line.MarkerSize = s.Points.Count <= 12 ? 6 : 0;
            line.LinePattern = s.Incomplete is not null ? LinePattern.Dashed : Patterns[s.Variant % Patterns.Length];
            if (s.Incomplete is not null)
            {
                var last = s.Points[^1];
                var m = plot.Add.Marker(X(last.X), last.Y, MarkerShape.Eks, 14, color);
                m.MarkerLineWidth = 3;
            }
            if (s.Best is { } best)
                plot.Add.Marker(X(best.X), best.Y, MarkerShape.FilledDiamond, 14, color);
        }
        // Loss events: a triangle at the run's own value, outlined; the legend names them once.
        foreach (var (m, k) in chart.Markers.Select((m, k) => (m, k)))
        {
            var marker = plot.Add.Marker(X(m.X), m.Y, MarkerShape.FilledTriangleUp, 12, ColorOf(m.Optimizer));
            marker.MarkerLineColor = Colors.Black;
            marker.MarkerLineWidth = 1;
            if (k == 0) marker.LegendText = "loss event (events.csv)";
        }
        if (chart.LogX)
        {
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = v => Math.Pow(10, v).ToString("G3", CultureInfo.InvariantCulture),
            };
        }
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private Plot Bars(BarChart chart)
    {
        var plot = NewPlot(chart.Title, "", chart.YLabel);
        var bars = new List<Bar>();
        var segmentNames = chart.Bars.SelectMany(b => b.Segments.Select(s => s.Name)).Distinct().ToList();
        var stacked = segmentNames.Count > 1;
        if (chart.LogY) return LogBars(chart, plot, stacked);
        for (var i = 0; i < chart.Bars.Count; i++)
        {
            var item = chart.Bars[i];
            var baseColor = ColorOf(item.Optimizer);
            double bottom = 0;
            foreach (var seg in item.Segments)
            {
                var shade = stacked ? Shade(baseColor, segmentNames.IndexOf(seg.Name), segmentNames.Count) : baseColor;
                bars.Add(new Bar { Position = i, ValueBase = bottom, Value = bottom + seg.Value, FillColor = shade, LineColor = Colors.Black.WithAlpha(0.6), LineWidth = 1 });
                bottom += seg.Value;
            }
            if (item.Error is { } e && item.Segments.Count == 1) bars[^1].Error = e;
        }
        plot.Add.Bars(bars);
        var top = chart.Bars.Select(b => b.Total + (b.Error ?? 0)).DefaultIfEmpty(1).Max();
        AnnotateBars(plot, chart, i => chart.Bars[i].Total + (chart.Bars[i].Error ?? 0) + top * 0.02);
        LabelBars(plot, chart);
        plot.Axes.SetLimitsY(0, top * (stacked ? 1.45 : 1.2));
        plot.Axes.SetLimitsX(-0.6, chart.Bars.Count - 0.4);
        if (stacked)
        {
            // Segments are shades of the optimizer colour (light = parameters, dark = peak); the legend shows them in grey.
            foreach (var (name, k) in segmentNames.Select((n, k) => (n, k)))
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = name, FillColor = Shade(Colors.Gray, k, segmentNames.Count) });
            plot.ShowLegend(Alignment.UpperRight);
        }
        return plot;
    }

    // Single-segment bars on a log10 axis: each bar spans log10(1) = 0 to log10(value); ticks read as values.
    private Plot LogBars(BarChart chart, Plot plot, bool stacked)
    {
        if (stacked || chart.Bars.Any(b => b.Error is not null))
            throw new ArgumentException($"chart {chart.Name}: a log-scaled bar chart takes single-segment bars without error bars");
        if (chart.Bars.Any(b => !(b.Total > 0)))
            throw new ArgumentException($"chart {chart.Name}: a log-scaled bar chart needs positive values");
        var logs = chart.Bars.Select(b => Math.Log10(b.Total)).ToArray();
        plot.Add.Bars(chart.Bars.Select((b, i) => new Bar
        {
            Position = i, ValueBase = 0, Value = logs[i], FillColor = ColorOf(b.Optimizer), LineColor = Colors.Black.WithAlpha(0.6), LineWidth = 1,
        }).ToList());
        var low = Math.Min(0, Math.Floor(logs.Min()));
        var high = Math.Max(1, Math.Ceiling(logs.Max() + 0.15));
        AnnotateBars(plot, chart, i => Math.Max(logs[i], 0) + (high - low) * 0.015);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = v => Math.Pow(10, v).ToString("0.###", CultureInfo.InvariantCulture) + chart.Unit,
        };
        LabelBars(plot, chart);
        plot.Axes.SetLimitsY(low, high);
        plot.Axes.SetLimitsX(-0.6, chart.Bars.Count - 0.4);
        return plot;
    }

    // Each bar's annotation, centred above the height y(bar index).
    private static void AnnotateBars(Plot plot, BarChart chart, Func<int, double> y)
    {
        for (var i = 0; i < chart.Bars.Count; i++)
        {
            if (chart.Bars[i].Annotation.Length == 0) continue;
            var text = plot.Add.Text(chart.Bars[i].Annotation, i, y(i));
            text.LabelFontSize = 13;
            text.LabelBold = true;
            text.LabelAlignment = Alignment.LowerCenter;
        }
    }

    // One x tick per bar, carrying its label.
    private static void LabelBars(Plot plot, BarChart chart)
    {
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, chart.Bars.Count).Select(i => (double)i).ToArray(), chart.Bars.Select(b => b.Label).ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
    }

    // One bar per claim at measured ÷ paper, coloured by verdict, with the paper's value as the line at 1 (solid: Skia's SVG writer prints a warning for dash effects).
    private static Plot ClaimBars(Claims.ClaimsChart chart)
    {
        var plot = NewPlot(chart.Title, "", "measured ÷ paper value");
        var n = chart.Items.Count;
        double Y(double ratio) => chart.LogY ? Math.Log10(ratio) : ratio;
        plot.Add.Bars(chart.Items.Select((item, i) => new Bar
        {
            Position = i, ValueBase = 0, Value = Y(item.Ratio), FillColor = Color.FromHex(Claims.ClaimsChart.Colour(item.Verdict)),
            LineColor = Colors.Black.WithAlpha(0.6), LineWidth = 1,
        }).ToList());
        var one = plot.Add.HorizontalLine(Y(1), 2, Colors.Black);
        one.LegendText = "paper value";
        var ys = chart.Items.Select(i => Y(i.Ratio)).Append(Y(1)).Append(0).ToList();
        var (low, high) = (ys.Min(), ys.Max());
        var pad = Math.Max(high - low, 1e-9) * 0.15;
        for (var i = 0; i < n; i++)
        {
            var item = chart.Items[i];
            var c = CultureInfo.InvariantCulture;
            var label = $"{Claims.ClaimsChart.Short(item.Verdict)}\n{item.MeasuredValue.ToString("G3", c)} vs {item.PaperValue.ToString("G3", c)} {item.Unit}";
            var y = Y(item.Ratio);
            var text = plot.Add.Text(label, i, y >= 0 ? y + pad * 0.1 : y - pad * 0.1);
            text.LabelFontSize = 11;
            text.LabelAlignment = y >= 0 ? Alignment.LowerCenter : Alignment.UpperCenter;
        }
        if (chart.LogY)
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = v => Math.Pow(10, v).ToString("G3", CultureInfo.InvariantCulture),
            };
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, n).Select(i => (double)i).ToArray(), chart.Items.Select(i => i.Claim).ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.SetLimitsY(low - pad, high + 2 * pad);
        plot.Axes.SetLimitsX(-0.6, Math.Max(n, 1) - 0.4);
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    /// <summary>Segment k of n: from a light tint to the full colour, so stacked parts stay readable.</summary>
    private static Color Shade(Color c, int k, int n) => c.WithAlpha(0.3 + 0.7 * (k + 1) / n);

    private Plot Pareto(ParetoChart chart)
    {
        var plot = NewPlot(chart.Title, chart.XLabel, chart.YLabel);
        if (chart.Frontier.Count > 1)
        {
            var front = plot.Add.Scatter(chart.Frontier.Select(p => p.X).ToArray(), chart.Frontier.Select(p => p.Y).ToArray(), Colors.Gray);
            front.LinePattern = LinePattern.Dashed;
            front.LineWidth = 2;
            front.MarkerSize = 0;
            front.LegendText = "Pareto frontier";
        }
        foreach (var p in chart.Points)
        {
            var m = plot.Add.Marker(p.X, p.Y, p.OnFrontier ? MarkerShape.FilledCircle : MarkerShape.OpenCircle, 14, ColorOf(p.Optimizer));
            m.LegendText = p.Label + (p.OnFrontier ? " (frontier)" : "");
            var t = plot.Add.Text(p.Label, p.X, p.Y);
            t.LabelFontSize = 12;
            t.LabelAlignment = Alignment.LowerLeft;
            t.LabelOffsetX = 8;
            t.LabelOffsetY = -6;
        }
        plot.Axes.Margins(0.2, 0.2);
        // Points can sit in any corner: the legend goes outside the data area so it never hides one.
        plot.ShowLegend(Edge.Right);
        return plot;
    }
}
