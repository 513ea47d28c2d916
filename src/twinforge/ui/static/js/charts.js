// History charts (uPlot): series on a shared time axis, optional bands (forecast, RUL interval).

// [{name, points: [{time, value}]}] -> uPlot's aligned columns [xs, ys1, ys2, ...]
export function aligned(series) {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => Date.parse(p.time) / 1000)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const cols = series.map((s) => {
    const col = new Array(xs.length).fill(null);
    for (const p of s.points) if (typeof p.value === "number") col[index.get(Date.parse(p.time) / 1000)] = p.value;
    return col;
  });
  return [xs, ...cols];
}

const COLORS = ["#1f6feb", "#d1495b", "#2e7d32", "#8e44ad", "#e67e22", "#00838f"];

// One new value of column `col` at time x (seconds), kept in time order: a live point may land
// before the forecast's future points, and uPlot needs its x values sorted.
export function addPoint(plot, x, col, value) {
  const data = plot.data.map((c) => Array.from(c));
  const xs = data[0];
  let i = xs.length;
  while (i > 0 && xs[i - 1] > x) i--;
  if (i > 0 && xs[i - 1] === x) data[col][i - 1] = value;
  else { for (const c of data) c.splice(i, 0, null); xs[i] = x; data[col][i] = value; }
  plot.setData(data);
}

// series: [{name, points, axis: "y"|"y2", dash, band: [lowName, highName] index refs, color}];
// xmin/xmax (seconds) fix the time axis to the range asked for (one point no longer spans years);
// unit labels the value axis.
export function chart(el, series, { height = 220, width, xmin, xmax, unit } = {}) {
  const data = aligned(series);
  const w = width || Math.max(300, el.clientWidth || 600);
  const uses2 = series.some((s) => s.axis === "y2");
  const opts = {
    width: w, height,
    scales: {
      x: { time: true, range: (u, lo, hi) => {
        // past xmax only as far as the data goes (uPlot pads a lone point's range by years)
        const xs = u.data[0]; const last = xs.length ? xs[xs.length - 1] : hi;
        const a = xmin ?? lo, b = xmax == null ? hi : Math.max(xmax, last ?? xmax);
        return a === b || a == null ? [(a ?? 0) - 1800, (b ?? 0) + 1800] : [a, b];
      } },
      y: { auto: true }, ...(uses2 ? { y2: { auto: true } } : {}) },
    series: [{}, ...series.map((s, i) => ({
      label: s.name, scale: s.axis || "y", spanGaps: true, stroke: s.color || COLORS[i % COLORS.length],
      width: s.width || 1.5, dash: s.dash, points: { show: s.points.length < 60 },
      fill: s.fill,
    }))],
    axes: [{}, { scale: "y", label: unit || undefined, size: unit ? 62 : undefined },
      ...(uses2 ? [{ scale: "y2", side: 1, grid: { show: false } }] : [])],
    bands: series.flatMap((s, i) => (s.bandWith !== undefined ? [{ series: [i + 1, s.bandWith + 1], fill: "rgba(31,111,235,0.12)" }] : [])),
    cursor: { drag: { x: true, y: false } },
  };
  const plot = new uPlot(opts, data, el);
  const ro = new ResizeObserver(() => { const nw = el.clientWidth; if (nw && Math.abs(nw - plot.width) > 4) plot.setSize({ width: nw, height }); });
  ro.observe(el);
  return { plot, destroy: () => { ro.disconnect(); plot.destroy(); }, series };
}
