/**
 * `npm run bench [-- --quick] [-- --filter <substring>] [-- --out <file>]`
 *
 * rxmongo against the raw `mongodb` driver on the same server in the same
 * run: every workload runs both sides interleaved after a warm-up, and the
 * figures are medians over the rounds. Prints a table and writes
 * `bench-results.json`. Targets are reported, never asserted; the exit code
 * is non-zero only when a workload itself fails.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startBenchBackend } from './backend';
import { createContext, type BenchContext } from './context';
import { runWorkload, type AnyWorkload, type Budget, type WorkloadResult } from './harness';
import { describeMachine, formatFindings, formatReadmeSection, formatTable, sharedServerNote, toJson, type Finding } from './report';
import { changeStreamWorkloads, changeStreamFindings } from './workloads/change-stream';
import { memoryWorkloads, memoryFindings } from './workloads/memory';
import { multiDocWorkloads } from './workloads/multi-doc';
import { singleDocWorkloads } from './workloads/single-doc';
import { topologyWorkloads, topologyFindings } from './workloads/topology';

/** A workload family: its workloads, and the findings that span them. */
interface Family {
  workloads(ctx: BenchContext): AnyWorkload[];
  findings?(results: WorkloadResult[]): Finding[];
}

const FAMILIES: Family[] = [
  { workloads: singleDocWorkloads },
  { workloads: multiDocWorkloads },
  { workloads: changeStreamWorkloads, findings: changeStreamFindings },
  { workloads: topologyWorkloads, findings: topologyFindings },
  { workloads: memoryWorkloads, findings: memoryFindings },
];

const BUDGETS: Record<'quick' | 'full', Budget> = {
  quick: { warmupRounds: 2, minRounds: 3, maxRounds: 3, minMs: 0 },
  full: { warmupRounds: 2, minRounds: 10, maxRounds: 40, minMs: 15_000 },
};

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
      if (value === undefined) throw new Error(`${arg} needs a value`);
      if (arg === '--filter') args.filter = value.toLowerCase();
      else args.out = value;
    } else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run bench -- [--quick] [--filter <substring>] [--out <file>]');
      process.exit(0);
    } else {
      throw new Error(`unknown argument '${arg}' (try --help)`);
    }
  }
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const machine = describeMachine();
  console.log(`rxmongo bench${args.quick ? ' (quick)' : ''}: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.loadAverage.join(' ')}`);

  const backend = await startBenchBackend();
  console.log(`backend: ${backend.kind} (${backend.reason})`);
  console.log(`note: ${sharedServerNote(backend.kind)}\n`);

  const ctx = createContext(backend, args.quick);
  const budget = BUDGETS[args.quick ? 'quick' : 'full'];
  const results: WorkloadResult[] = [];
  const findings: Finding[] = [];
  try {
    for (const family of FAMILIES) {
      const selected = family.workloads(ctx).filter((w) => matches(w, args.filter));
      const familyResults: WorkloadResult[] = [];
      for (const workload of selected) {
        process.stdout.write(`running ${workload.family} / ${workload.name} …`);
        const t0 = performance.now();
        const result = await runWorkload(workload, budget);
        console.log(` ${result.error ? `FAILED: ${result.error}` : 'done'} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
        familyResults.push(result);
      }
      results.push(...familyResults);
      if (familyResults.length > 0) findings.push(...(family.findings?.(familyResults) ?? []));
    }
  } finally {
    await backend.stop();
  }

  const seconds = (performance.now() - started) / 1000;
  console.log(`\n${formatTable(results)}\n`);
  if (findings.length > 0) console.log(`targets and findings:\n${formatFindings(findings)}\n`);
  console.log(`backend: ${backend.kind}. ${sharedServerNote(backend.kind)}`);
  console.log(`ratio = rxmongo median ops/s ÷ raw median ops/s; spread = interquartile range ÷ median; CPU is this process only (the server runs in its own).`);

  const out = resolve(args.out);
  const generatedAt = new Date().toISOString();
  const mode = args.quick ? 'quick' : 'full';
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        generatedAt,
        mode,
        filter: args.filter ?? null,
        durationSeconds: Math.round(seconds * 10) / 10,
        machine,
        backend: { kind: backend.kind, reason: backend.reason },
        note: sharedServerNote(backend.kind),
        budget,
        results: toJson(results, backend.kind),
        findings,
        readmeSection: formatReadmeSection({ results, findings, machine, backend, mode, date: generatedAt }),
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${out} (${seconds.toFixed(1)} s in all)`);
  return results.some((r) => r.error) ? 1 : 0;
}

function matches(workload: AnyWorkload, filter: string | undefined): boolean {
  if (!filter) return true;
  return `${workload.family} / ${workload.name}`.toLowerCase().includes(filter);
}

// No process.exit on success: the run ends by itself once every client is
// closed. Should something stay open, the unref'd timer fires (it alone
// would not keep the process alive), says so and fails the run.
main()
  .catch((err: unknown) => {
    console.error(err);
    return 1;
  })
  .then((code) => {
    process.exitCode = code;
    setTimeout(() => {
      console.error('bench: handles still open 5 s after the run (a client or cursor was not closed)');
      process.exit(code || 1);
    }, 5_000).unref();
  });
