/**
 * The bench's output: a table on stdout and `bench-results.json`.
 */
import { cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import type { WorkloadResult } from './harness';

/** A target or observation that spans workloads (fan-out cost per extra subscriber, …). */
export interface Finding {
  subject: string;
  value: string;
  target: string;
  met: boolean | null;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGB: number;
  freeMemoryGB: number;
  loadAverage: number[];
  os: string;
  node: string;
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

/** What the figures share, said next to them. */
export function sharedServerNote(kind: string): string {
  const base =
    'Both sides use the same server in the same run, with the same connection options and documents; ' +
    "the server's own cost is in both sides' figures alike.";
  if (kind !== 'wire') return base;
  return (
    `${base} Here the server is the rxmongo wire test server (a TypeScript test double in its own process on the same cores), ` +
    "slower per round trip than mongod: that dilutes the wrapper's per-operation cost in the ratios, and absolute ops/s say nothing about MongoDB. " +
    'Set MONGODB_URI to measure against a real replica set.'
  );
}

export function formatTable(results: WorkloadResult[]): string {
  const header = ['workload', 'raw ops/s', 'rxmongo ops/s', 'ratio', 'target', 'rounds', 'spread raw/rx', 'CPU µs/op raw/rx', 'notes'];
  const rows: string[][] = [header];
  for (const r of results) {
    const notes: string[] = [];
    if (r.error) notes.push(`FAILED: ${r.error}`);
    if (r.rxUnavailable) notes.push(`not available: ${r.rxUnavailable}`);
    if (!r.throughputComparable) notes.push('paced: throughput not compared');
    for (const [k, v] of Object.entries(r.metrics)) notes.push(`${k} ${formatMetric(v)}`);
    const comparable = r.throughputComparable && r.ratio !== undefined;
    rows.push([
      r.name,
      r.raw ? fmtRate(r.raw.opsPerSec) : '—',
      r.rxmongo ? fmtRate(r.rxmongo.opsPerSec) : 'n/a',
      comparable ? `${r.ratio!.toFixed(3)}${mark(r)}` : '—',
      r.target?.text ?? '',
      String(r.raw?.iterations ?? 0),
      `${pct(r.raw?.spreadPct)}/${pct(r.rxmongo?.spreadPct)}`,
      `${num(r.raw?.cpuUsPerOp)}/${num(r.rxmongo?.cpuUsPerOp)}`,
      notes.join('; '),
    ]);
  }
  const widths = header.map((_, c) => Math.max(...rows.map((row) => (c === header.length - 1 ? 0 : row[c].length))));
  return rows
    .map((row, i) => {
      const line = row.map((cell, c) => (c === row.length - 1 ? cell : c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
      return i === 0 ? `${line}\n${'-'.repeat(Math.min(line.length, 160))}` : line;
    })
    .join('\n');
}

/** The README's "Performance" section, from this run's figures. */
export function formatReadmeSection(run: {
  results: WorkloadResult[];
  findings: Finding[];
  machine: Machine;
  backend: { kind: string; reason: string };
  mode: 'quick' | 'full';
  date: string;
}): string {
  const { results, findings, machine, backend } = run;
  const rows = ['| workload | raw ops/s | rxmongo ops/s | ratio | target | notes |', '|---|---:|---:|---:|---|---|'];
  for (const r of results) {
    const notes: string[] = [];
    if (r.error) notes.push(`failed: ${r.error}`);
    if (r.rxUnavailable) notes.push(`not available: ${r.rxUnavailable}`);
    if (!r.throughputComparable) notes.push('paced, throughput not compared');
    for (const [k, v] of Object.entries(r.metrics)) notes.push(`${k} ${formatMetric(v)}`);
    const comparable = r.throughputComparable && r.ratio !== undefined;
    rows.push(
      `| ${r.name} | ${r.raw ? fmtRate(r.raw.opsPerSec) : '—'} | ${r.rxmongo ? fmtRate(r.rxmongo.opsPerSec) : 'n/a'} | ${
        comparable ? r.ratio!.toFixed(2) : '—'
      } | ${r.target?.text ?? ''} | ${notes.join('; ')} |`,
    );
  }
  const targetLines = findings.map((f) => `- ${f.met === null ? '' : f.met ? '✓ ' : '✗ '}${f.subject}: ${f.value} (target: ${f.target})`);
  return [
    '## Performance',
    '',
    `Measured ${run.date.slice(0, 10)} with \`npm run bench${run.mode === 'quick' ? ' -- --quick' : ''}\` on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB, ${machine.os}, Node ${machine.node} (load average ${machine.loadAverage.join(' ')}: a shared machine), against the **${backend.kind}** backend (${backend.reason}).`,
    '',
    sharedServerNote(backend.kind),
    '',
    'Each workload runs the raw `mongodb` driver and rxmongo interleaved, round after round, after a warm-up; figures are medians over the rounds; ratio = rxmongo ÷ raw (above 1: rxmongo faster). CPU is the client process only: the server runs in its own process.',
    '',
    ...rows,
    '',
    ...targetLines,
    '',
    'Reproduce (`bench-results.json` holds every figure, spreads and per-variant counters):',
    '',
    '```sh',
    'npm run bench                      # full run, several minutes',
    'npm run bench -- --quick           # short run (under a minute), as CI does',
    'npm run bench -- --filter fan-out  # only workloads whose family/name contains the text',
    "MONGODB_URI='mongodb://localhost:27017/?replicaSet=rs0' npm run bench   # a real replica set",
    '```',
  ].join('\n');
}

export function formatFindings(findings: Finding[]): string {
  return findings
    .map((f) => `  ${f.met === null ? '·' : f.met ? '✓' : '✗'} ${f.subject}: ${f.value}  (target: ${f.target})`)
    .join('\n');
}

/** The JSON rows: per workload, the figures the issue asks for plus the raw samples' reductions. */
export function toJson(results: WorkloadResult[], backendKind: string): object[] {
  return results.map((r) => ({
    workload: r.name,
    family: r.family,
    unit: r.unit,
    scale: r.scale,
    backend: backendKind,
    rawOpsPerSec: r.raw ? round(r.raw.opsPerSec, 1) : null,
    rxmongoOpsPerSec: r.rxmongo ? round(r.rxmongo.opsPerSec, 1) : null,
    ratio: r.ratio !== undefined && r.throughputComparable ? round(r.ratio, 4) : null,
    pairedRatio: r.pairedRatio !== undefined && r.throughputComparable ? round(r.pairedRatio, 4) : null,
    iterations: r.raw?.iterations ?? 0,
    spread: { rawPct: r.raw ? round(r.raw.spreadPct, 2) : null, rxmongoPct: r.rxmongo ? round(r.rxmongo.spreadPct, 2) : null },
    cpuUsPerOp: { raw: r.raw ? round(r.raw.cpuUsPerOp, 2) : null, rxmongo: r.rxmongo ? round(r.rxmongo.cpuUsPerOp, 2) : null },
    target: r.target?.text ?? null,
    targetMet: r.target?.minRatio !== undefined && r.ratio !== undefined ? r.ratio >= r.target.minRatio : null,
    available: r.rxUnavailable === undefined,
    notAvailableReason: r.rxUnavailable ?? null,
    error: r.error ?? null,
    metrics: r.metrics,
    variants: Object.fromEntries(
      [['raw', r.raw] as const, ['rxmongo', r.rxmongo] as const, ...Object.entries(r.extra)]
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [
          k,
          {
            label: v!.label,
            iterations: v!.iterations,
            opsPerSec: round(v!.opsPerSec, 1),
            p10: round(v!.p10, 1),
            p90: round(v!.p90, 1),
            spreadPct: round(v!.spreadPct, 2),
            cpuUsPerOp: round(v!.cpuUsPerOp, 2),
            counters: v!.counters,
            memory: v!.memory,
          },
        ]),
    ),
  }));
}

function mark(r: WorkloadResult): string {
  if (r.target?.minRatio === undefined || r.ratio === undefined) return '';
  return r.ratio >= r.target.minRatio ? ' ✓' : ' ✗';
}

export function formatMetric(v: number | string | boolean): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 0 : 2);
  return String(v);
}

function fmtRate(v: number): string {
  return v >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

function pct(v: number | undefined): string {
  return v === undefined ? '—' : `${v.toFixed(1)}%`;
}

function num(v: number | undefined): string {
  return v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
