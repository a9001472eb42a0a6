/**
 * `npm run bench [-- --quick] [--filter <text>] [--out <file>]`
 *
 * Compiles lib/ and bench/ to JavaScript, then runs this file with plain
 * `node --expose-gc`: rxmongo against the raw `mongodb` driver (or the
 * baseline a user would pick) on one server, interleaved in rounds. Prints
 * a table, writes the JSON (`bench-results.json` unless `--out`) and, next
 * to it, a chart per workload that draws one (`<out>-fan-out.svg`).
 * Targets are reported, never asserted: the exit code is non-zero only when
 * a workload itself fails.
 *
 * Workloads are found, not listed: every module in `workloads/` default-
 * exports `(ctx) => Workload | Workload[]` (see bench/README.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { startBenchBackend } from './backend';
import { renderSvg } from './chart';
import { createContext, type BenchContext } from './context';
import { message, runWorkload, type Workload, type WorkloadFactory, type WorkloadResult } from './harness';
import { collect } from './memory';
import { describeMachine, formatReadmeSection, formatTable, RATIO_NOTE, sharedServerNote, stringify, toJson, type RunInfo } from './report';

interface Args {
  quick: boolean;
  filter?: string;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, out: 'bench-results.json' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') args.quick = true;
    else if (arg === '--filter' || arg === '--out') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new Error(`${arg} needs a value`);
      if (arg === '--filter') args.filter = value.toLowerCase();
      else args.out = value;
    } else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run bench -- [--quick] [--filter <text>] [--out <file.json>]');
      process.exit(0);
    } else {
      throw new Error(`unknown argument '${arg}' (try --help)`);
    }
  }
  return args;
}

function loadWorkloads(ctx: BenchContext): Workload[] {
  const dir = join(__dirname, 'workloads');
  const ext = extname(__filename);
  const workloads: Workload[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(ext) && !f.endsWith(`.d${ext}`))) {
    const factory = (require(join(dir, file)) as { default?: unknown }).default;
    if (typeof factory !== 'function') throw new Error(`workloads/${file} must default-export (ctx) => Workload | Workload[]`);
    const made = (factory as WorkloadFactory)(ctx);
    workloads.push(...(Array.isArray(made) ? made : [made]));
  }
  return workloads.sort((a, b) => a.order - b.order);
}

/** The commit measured, and whether lib/ differs from it: before/after figures must say what they ran. */
function revision(): RunInfo['revision'] {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', 'HEAD'), libChanged: git('status', '--porcelain', '--', 'lib').length > 0 };
  } catch {
    return null; // not a git checkout
  }
}

function matches(workload: Workload, filter: string | undefined): boolean {
  if (!filter) return true;
  return [workload.id, workload.title, ...workload.rows.map((r) => r.label)].some((text) => text.toLowerCase().includes(filter));
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  collect(); // fails at once without --expose-gc
  const started = performance.now();
  const machine = describeMachine();
  console.log(`rxmongo bench${args.quick ? ' (quick)' : ''}: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.loadAverage.join(' ')}`);

  // Read before the run: what was compiled and measured, whatever is edited meanwhile.
  const measured = revision();
  const backend = await startBenchBackend();
  console.log(`backend: ${backend.kind} (${backend.reason})\n`);

  const ctx = createContext(backend, args.quick);
  const results: WorkloadResult[] = [];
  const workloads = loadWorkloads(ctx).filter((w) => matches(w, args.filter));
  try {
    for (const workload of workloads) {
      process.stdout.write(`${workload.title} …`);
      const result = await runWorkload(workload);
      console.log(` ${result.error ? `FAILED: ${result.error}` : 'done'} (${result.seconds.toFixed(1)} s)`);
      results.push(result);
    }
  } finally {
    await backend.stop();
  }

  const out = resolve(args.out);
  mkdirSync(dirname(out), { recursive: true });
  const charts: RunInfo['charts'] = [];
  const generatedAt = new Date().toISOString();
  for (const [i, workload] of workloads.entries()) {
    const chart = !results[i].error ? workload.chart?.(results[i]) : undefined;
    if (!chart) continue;
    chart.note ??= `${generatedAt.slice(0, 10)} · ${args.quick ? 'quick run' : 'full run'} · ${backend.kind} backend · ${machine.cores} cores · Node ${machine.node}`;
    const path = `${out.replace(/\.json$/, '')}-${chart.id}.svg`;
    writeFileSync(path, renderSvg(chart));
    charts.push({ path: relative(process.cwd(), path), title: chart.title });
  }

  const info: RunInfo = {
    generatedAt,
    mode: args.quick ? 'quick' : 'full',
    command: ['npm run bench', ...(args.quick ? ['-- --quick'] : [])].join(' '),
    filter: args.filter ?? null,
    revision: measured,
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    machine,
    backend: { kind: backend.kind, reason: backend.reason },
    charts,
  };
  console.log(`\n${formatTable(results)}\n`);
  console.log(`${RATIO_NOTE}\n${sharedServerNote(backend.kind)}`);
  writeFileSync(out, stringify({ ...toJson(results, info), readmeSection: formatReadmeSection(results, info) }));
  console.log(`wrote ${relative(process.cwd(), out)}${charts.map((c) => `, ${c.path}`).join('')} (${info.durationSeconds} s in all)`);
  return results.some((r) => r.error) ? 1 : 0;
}

// No process.exit on success: the run ends by itself once every client is
// closed. Should something stay open, the unref'd timer fires (it alone
// would not keep the process alive), says so and fails the run.
main()
  .catch((err: unknown) => {
    console.error(`bench: ${message(err)}`);
    return 1;
  })
  .then((code) => {
    process.exitCode = code;
    setTimeout(() => {
      console.error('bench: handles still open 5 s after the run (a client or cursor was not closed)');
      process.exit(code || 1);
    }, 5_000).unref();
  });
