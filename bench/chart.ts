/**
 * A small log–log line chart as a standalone SVG string: no browser, no
 * dependency. A workload describes its picture (`Workload.chart`); the run
 * writes it next to the JSON.
 */

interface Series {
  name: string;
  points: Array<{ x: number; y: number }>;
}

interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
}

export interface Chart {
  /** File-name part: `<out>-<id>.svg`. */
  id: string;
  title: string;
  xLabel: string;
  panels: Panel[];
  /** One line under the title (machine, backend, date). */
  note?: string;
}

const COLORS = ['#2b6cb0', '#b7791f', '#c53030', '#2f855a', '#6b46c1'];
const PANEL_W = 440;
const PANEL_H = 300;
const MARGIN = { left: 64, right: 16, top: 34, bottom: 46 };
const HEADER = 52;
const LEGEND = 28;

export function renderSvg(chart: Chart): string {
  const width = chart.panels.length * PANEL_W;
  const names = [...new Set(chart.panels.flatMap((p) => p.series.map((s) => s.name)))];
  const color = (name: string): string => COLORS[names.indexOf(name) % COLORS.length];
  const height = HEADER + PANEL_H + LEGEND;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="20" font-size="15" font-weight="600">${esc(chart.title)}</text>`,
  ];
  if (chart.note) parts.push(`<text x="12" y="38" fill="#555">${esc(chart.note)}</text>`);
  chart.panels.forEach((panel, i) => parts.push(renderPanel(panel, chart.xLabel, i * PANEL_W, HEADER, color)));
  let x = 12;
  for (const name of names) {
    const y = HEADER + PANEL_H + 14;
    parts.push(`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${color(name)}" stroke-width="2.5"/>`);
    parts.push(`<text x="${x + 28}" y="${y + 4}">${esc(name)}</text>`);
    // About 6.5 px per character at 12 px: no text metrics without a browser.
    x += 28 + name.length * 6.5 + 24;
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function renderPanel(panel: Panel, xLabel: string, left: number, top: number, color: (name: string) => string): string {
  const points = panel.series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0);
  const out = [`<g transform="translate(${left},${top})">`, `<text x="${MARGIN.left}" y="16" font-weight="600">${esc(panel.title)}</text>`];
  if (points.length === 0) {
    out.push(`<text x="${MARGIN.left}" y="${PANEL_H / 2}" fill="#555">no data</text></g>`);
    return out.join('\n');
  }
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const [x0, x1] = logRange(xs[0], xs[xs.length - 1]);
  const [y0, y1] = logRange(Math.min(...points.map((p) => p.y)), Math.max(...points.map((p) => p.y)));
  const sx = (x: number): number => MARGIN.left + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * w;
  const sy = (y: number): number => MARGIN.top + h - ((Math.log10(y) - y0) / (y1 - y0 || 1)) * h;

  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
  for (let e = Math.ceil(y0); e <= Math.floor(y1); e++) {
    const y = sy(10 ** e);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + w}" y2="${y}" stroke="#e2e2e2"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${tick(10 ** e)}</text>`);
  }
  for (const x of xs) {
    out.push(`<line x1="${sx(x)}" y1="${MARGIN.top}" x2="${sx(x)}" y2="${MARGIN.top + h}" stroke="#eee"/>`);
    out.push(`<text x="${sx(x)}" y="${MARGIN.top + h + 16}" text-anchor="middle">${tick(x)}</text>`);
  }
  out.push(`<text x="${MARGIN.left + w / 2}" y="${PANEL_H - 8}" text-anchor="middle" fill="#333">${esc(xLabel)}</text>`);
  out.push(
    `<text transform="translate(14,${MARGIN.top + h / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(panel.yLabel)}</text>`,
  );
  for (const series of panel.series) {
    const pts = series.points.filter((p) => p.x > 0 && p.y > 0).sort((a, b) => a.x - b.x);
    if (pts.length === 0) continue;
    const c = color(series.name);
    out.push(
      `<polyline fill="none" stroke="${c}" stroke-width="2.5" points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of pts) {
      out.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.5" fill="${c}"><title>${esc(`${series.name}: ${tick(p.x)} → ${p.y.toPrecision(3)}`)}</title></circle>`);
    }
  }
  out.push('</g>');
  return out.join('\n');
}

/** log10 bounds padded to whole decades where that keeps at least one gridline. */
function logRange(min: number, max: number): [number, number] {
  const lo = Math.log10(min);
  const hi = Math.log10(max);
  const pad = Math.max((hi - lo) * 0.06, 0.05);
  return [Math.min(lo - pad, Math.floor(lo)), Math.max(hi + pad, Math.ceil(hi))];
}

function tick(v: number): string {
  if (v >= 1000) return `${Number((v / 1000).toPrecision(3))}k`;
  if (v >= 1) return String(Number(v.toPrecision(3)));
  return String(Number(v.toPrecision(2)));
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
