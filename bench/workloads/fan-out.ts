/**
 * Fan-out: one change stream handed to K subscribers, K = 1 … 3000, against
 * what a user would write instead: one raw ChangeStream with a loop over K
 * callbacks (the baseline) and rxjs `share()` over it. Time per delivered
 * event, server cursors (1 whatever K is the point), and live memory per
 * subscriber per event, sampled when the queues are fullest (a subscriber's
 * first event) in untimed runs of each variant.
 */
import type { Chart } from '../chart';
import type { BenchContext } from '../context';
import { smallDoc } from '../data';
import { figureTarget, type Row, type Workload, type WorkloadResult } from '../harness';
import { closeStreams, FAN_OUT_TARGET, openStreams, rawLoop, rxSubscribers, serverCursors, shared, type StreamState } from '../streams';

const KS = [1, 10, 100, 1000, 3000];
const SIDES = [
  { prefix: 'raw', name: 'raw stream + loop over K callbacks' },
  { prefix: 'share', name: 'rxjs share() over a raw stream' },
  { prefix: 'rx', name: 'rxmongo watch(), K subscribers' },
] as const;

const PER_EXTRA = 'rx B/extra sub/event';

const ONE_CURSOR = figureTarget('1 server cursor', 'server cursors', (n) => n === 1);
const QUEUED_MEMORY = figureTarget('≤ 8 B per subscriber per queued event', PER_EXTRA, (b) => b <= 8, ' B');

export default function fanOut(ctx: BenchContext): Workload<StreamState> {
  const events = ctx.quick ? 100 : 1_000;
  /** Live memory per subscriber per event at K, for one side. */
  const bytes = (r: WorkloadResult, prefix: string, k: number): number | undefined => {
    const peak = r.variants[`${prefix}:${k}`]?.memory?.peakBytes;
    return peak === undefined ? undefined : peak / (k * events);
  };
  /** What each subscriber beyond the first adds, per event: the part a shared queue would not have. */
  const perExtra = (r: WorkloadResult, k: number): number | undefined => {
    const at = r.variants[`rx:${k}`]?.memory?.peakBytes;
    const one = r.variants['rx:1']?.memory?.peakBytes;
    return k > 1 && at !== undefined && one !== undefined ? (at - one) / ((k - 1) * events) : undefined;
  };

  const rows = KS.map(
    (k): Row => ({
      label: `fan-out K=${k}`,
      unit: 'delivered event',
      candidate: `rx:${k}`,
      baseline: `raw:${k}`,
      vs: k > 1 ? 'raw loop' : undefined,
      references: [`share:${k}`],
      // Memory per extra subscriber is checked from K = 100: below, the one copy of the events
      // and a collection's noise (~1 MB) outweigh K subscribers' share of a few bytes per event.
      targets: [...(k >= 10 && k <= 1000 ? [FAN_OUT_TARGET] : []), ONE_CURSOR, ...(k >= 100 ? [QUEUED_MEMORY] : [])],
      figures: (r) => {
        const out: Record<string, number | string> = { 'server cursors': serverCursors(r, `rx:${k}`) ?? '?' };
        for (const side of SIDES) {
          const b = bytes(r, side.prefix, k);
          if (b !== undefined) out[`${side.prefix} B/sub/event`] = b;
        }
        const extra = perExtra(r, k);
        if (extra !== undefined) out[PER_EXTRA] = extra;
        return out;
      },
    }),
  );

  return {
    id: 'fan-out',
    title: `fan-out, ${events} events to K subscribers`,
    order: 50,
    budget: ctx.quick ? { warmupRounds: 1, rounds: 2 } : { warmupRounds: 1, rounds: 8 },
    setup: () => openStreams(ctx, 'fan_out', events, smallDoc),
    variants: KS.flatMap((k) => [rawLoop(k), shared(k), rxSubscribers(k)]),
    rows,
    teardown: closeStreams,
    chart: (r): Chart => ({
      id: 'fan-out',
      title: `Fan-out: ${events} change events to K subscribers`,
      xLabel: 'K subscribers',
      panels: [
        {
          title: 'time per delivered event (µs, median of rounds)',
          yLabel: 'µs per subscriber per event',
          series: SIDES.map((side) => ({
            name: side.name,
            points: KS.flatMap((k) => {
              const v = r.variants[`${side.prefix}:${k}`];
              return v ? [{ x: k, y: v.usPerOp }] : [];
            }),
          })),
        },
        {
          title: 'live memory at the first delivery (bytes)',
          yLabel: 'bytes per subscriber per event',
          series: SIDES.map((side) => ({
            name: side.name,
            points: KS.flatMap((k) => {
              const b = bytes(r, side.prefix, k);
              return b !== undefined ? [{ x: k, y: b }] : [];
            }),
          })),
        },
      ],
    }),
  };
}
