/**
 * What a run prints and writes: one table (console and README markdown) with
 * a line per row, and the JSON holding every figure down to each round.
 */
import { cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import type { RowResult, VariantResult, WorkloadResult } from './harness';
import { formatFigure, type Quartiles } from './stats';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGB: number;
  freeMemoryGB: number;
  loadAverage: number[];
  os: string;
  node: string;
}

export interface RunInfo {
  generatedAt: string;
  mode: 'quick' | 'full';
  command: string;
  filter: string | null;
  /** `null` outside a git checkout. */
  revision: { commit: string; libChanged: boolean } | null;
  durationSeconds: number;
  machine: Machine;
  backend: { kind: string; reason: string };
  charts: Array<{ path: string; title: string }>;
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGB: round(totalmem() / 2 ** 30, 1),
    freeMemoryGB: round(freemem() / 2 ** 30, 1),
    loadAverage: loadavg().map((l) => round(l, 2)),
    os: `${platform()} ${release()}`,
    node: process.version,
  };
}

export const RATIO_NOTE =
  'ratio = baseline time ÷ rxmongo time, the median of same-round ratios (1.00 = as fast, 0.50 = twice the time); ' +
  'spread = its interquartile range over the rounds; times are per unit, wall · CPU (this process only: the server runs in its own).';

/** What the figures share, said next to them. */
export function sharedServerNote(kind: string): string {
  const base = 'Both sides use the same server in the same rounds, with the same connection options and documents.';
  if (kind !== 'wire') return base;
  return (
    `${base} The server is rxmongo's wire test server (a TypeScript test double in its own process on the same cores), ` +
    "slower per round trip than mongod: that dilutes a per-call overhead in the ratios, and absolute times say nothing about MongoDB. " +
    'Set MONGODB_URI to measure against a real replica set.'
  );
}

interface Cells {
  row: string;
  rxmongo: string;
  baseline: string;
  ratio: string;
  spread: string;
  target: string;
  verdict: string;
  notes: string;
}

function cells(r: RowResult): Cells {
  const notes: string[] = [];
  if (r.baseline.label !== 'raw driver') notes.push(`baseline: ${r.baseline.label}`);
  for (const ref of r.references) notes.push(`${ref.variant.label}: ${fmtRatio(ref.ratio.median)}`);
  for (const [name, value] of Object.entries(r.figures)) notes.push(`${name} ${formatFigure(value)}`);
  return {
    row: `${r.label}${r.vs ? ` vs ${r.vs}` : ''} (per ${r.unit})`,
    rxmongo: cost(r.candidate),
    baseline: cost(r.baseline),
    ratio: r.paced ? 'paced' : fmtRatio(r.ratio.median),
    spread: r.paced ? '—' : spread(r.ratio),
    target: r.targets.map((t) => `${t.text}${t.value === undefined ? '' : `: ${t.value}`}${mark(t.met, ' ')}`).join('; ') || '—',
    verdict: mark(r.met, ''),
    notes: notes.join('; '),
  };
}

const HEADER: Cells = {
  row: 'row',
  rxmongo: 'rxmongo (wall · CPU)',
  baseline: 'baseline (wall · CPU)',
  ratio: 'ratio',
  spread: 'spread (IQR)',
  target: 'target',
  verdict: '✓/✗',
  notes: 'figures',
};

export function formatTable(results: WorkloadResult[]): string {
  const lines: Cells[] = [HEADER];
  for (const w of results) {
    if (w.error) lines.push({ ...blank(), row: w.title, notes: `FAILED: ${w.error}` });
    for (const r of w.rows) lines.push(cells(r));
  }
  const keys = Object.keys(HEADER) as Array<keyof Cells>;
  const widths = keys.map((k) => (k === 'notes' ? 0 : Math.max(...lines.map((l) => [...l[k]].length))));
  const text = lines.map((l) => keys.map((k, i) => (i === 0 ? pad(l[k], widths[i]) : k === 'notes' ? l[k] : padStart(l[k], widths[i]))).join('  '));
  return [text[0], '-'.repeat(Math.min(text[0].length + 20, 180)), ...text.slice(1)].join('\n');
}

/** The README's performance section, from this run. */
export function formatReadmeSection(results: WorkloadResult[], info: RunInfo): string {
  const { machine, backend } = info;
  const rows = ['| row | rxmongo (wall · CPU) | baseline (wall · CPU) | ratio | spread | target: measured | ✓/✗ |', '|---|--:|--:|--:|--:|---|:-:|'];
  for (const w of results) {
    if (w.error) rows.push(`| ${w.title}: failed (${w.error}) | | | | | | |`);
    for (const r of w.rows) {
      const c = cells(r);
      rows.push(`| ${c.row} | ${c.rxmongo} | ${c.baseline} | ${c.ratio} | ${c.spread} | ${c.target} | ${c.verdict} |`);
    }
  }
  const references = results.flatMap((w) =>
    w.rows
      .filter((r) => r.references.length > 0)
      .map((r) => `- ${r.label}: ${r.references.map((ref) => `${ref.variant.label} ${fmtRatio(ref.ratio.median)}`).join('; ')}`),
  );
  return [
    '## Performance',
    '',
    `Measured ${info.generatedAt.slice(0, 10)}${info.revision ? ` at ${info.revision.commit.slice(0, 7)}${info.revision.libChanged ? ' (lib/ modified)' : ''}` : ''} with \`${info.command}\` (compiled JavaScript, Node ${machine.node}) on ${machine.cpu}, ` +
      `${machine.cores} cores shared with other work (load ${machine.loadAverage.join(' ')}), against the **${backend.kind}** backend. ` +
      sharedServerNote(backend.kind),
    '',
    `Each row runs rxmongo and its baseline interleaved, round after round, in one process; ${RATIO_NOTE} ` +
      "The baseline is the raw driver doing the same thing, except: *raw loop* = one raw ChangeStream with a loop over the K callbacks (what a user writes by hand; rxjs `share()` over it is in the JSON and the chart), *same read-ahead* = a raw ChangeStream with `batchSize` = consume's `highWaterMark`, *no checkpoint* = the same `consume()`/`watch()` without one. " +
      "Targets are the project's; the bench reports them and never fails on a miss.",
    '',
    ...rows,
    '',
    ...(references.length > 0
      ? [
          'The same work written by hand without rxmongo, as references (ratio against the same baseline; rxmongo is the table\'s ratio):',
          '',
          ...references,
          '',
        ]
      : []),
    ...info.charts.map((chart) => `![${chart.title}](${chart.path})`),
    '',
    'Reproduce (the JSON holds every figure — latency quantiles, bytes per subscriber, saves, rxjs `share()` — down to each round):',
    '',
    '```sh',
    'npm run bench                               # full run, about 15 minutes on 2 cores; bench-results.json + bench-results-fan-out.svg',
    'npm run bench -- --quick                    # smoke run (under a minute), as CI does',
    'npm run bench -- --filter fan-out           # only rows whose name contains the text',
    "MONGODB_URI='mongodb://localhost:27017/?replicaSet=rs0' npm run bench   # a real replica set",
    '```',
  ].join('\n');
}

/** The JSON: per row the figures the issue asks for, per workload every variant and round. */
export function toJson(results: WorkloadResult[], info: RunInfo): object {
  const variant = (v: VariantResult) => ({
    label: v.label,
    usPerOp: v.usPerOp,
    cpuUsPerOp: v.cpuUsPerOp,
    p50Us: v.p50Us,
    p99Us: v.p99Us,
    counters: v.counters,
    memory: v.memory ?? null,
  });
  return {
    ...info,
    note: sharedServerNote(info.backend.kind),
    ratioDefinition: RATIO_NOTE,
    rows: results.flatMap((w) =>
      w.rows.map((r) => ({
        workload: w.id,
        row: r.label,
        unit: r.unit,
        paced: r.paced,
        rxmongo: variant(r.candidate),
        baseline: variant(r.baseline),
        ratio: r.paced ? null : r.ratio,
        cpuRatio: r.cpuRatio,
        references: r.references.map((ref) => ({ label: ref.variant.label, ratio: ref.ratio, usPerOp: ref.variant.usPerOp, cpuUsPerOp: ref.variant.cpuUsPerOp })),
        targets: r.targets,
        met: r.met ?? null,
        figures: r.figures,
      })),
    ),
    workloads: results.map((w) => ({
      id: w.id,
      title: w.title,
      budget: w.budget,
      seconds: w.seconds,
      error: w.error ?? null,
      variants: Object.fromEntries(Object.entries(w.variants).map(([key, v]) => [key, { ...variant(v), rounds: v.rounds }])),
    })),
  };
}

/** JSON numbers to 5 significant digits: the noise is far larger. */
export function stringify(value: object): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v) ? Number(v.toPrecision(5)) : v), 2)}\n`;
}

function blank(): Cells {
  return { row: '', rxmongo: '', baseline: '', ratio: '', spread: '', target: '', verdict: '', notes: '' };
}

function cost(v: VariantResult): string {
  return `${fmtUs(v.usPerOp)} · ${fmtUs(v.cpuUsPerOp)}`;
}

function spread(q: Quartiles): string {
  return Number.isFinite(q.q1) ? `${q.q1.toFixed(2)}–${q.q3.toFixed(2)}` : '—';
}

function mark(met: boolean | undefined, sep: string): string {
  return met === undefined ? '' : `${sep}${met ? '✓' : '✗'}`;
}

function fmtRatio(v: number): string {
  return Number.isFinite(v) ? v.toFixed(2) : '—';
}

function fmtUs(us: number): string {
  if (!Number.isFinite(us)) return '—';
  if (us >= 10_000) return `${(us / 1000).toFixed(0)} ms`;
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  return `${us >= 100 ? us.toFixed(0) : us >= 1 ? us.toFixed(1) : us.toFixed(3)} µs`;
}

function pad(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - [...s].length));
}

function padStart(s: string, w: number): string {
  return ' '.repeat(Math.max(0, w - [...s].length)) + s;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
