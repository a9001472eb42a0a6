/**
 * Change-stream drain: a pre-written history read to the end by one
 * subscriber (against one raw ChangeStream) and by ten (against one raw
 * ChangeStream with a loop over ten callbacks, and rxjs `share()` over it).
 */
import type { BenchContext } from '../context';
import { smallDoc } from '../data';
import { minRatio, type Workload } from '../harness';
import { closeStreams, FAN_OUT_TARGET, openStreams, rawLoop, rxSubscribers, serverCursors, shared, type StreamState } from '../streams';

export default function drain(ctx: BenchContext): Workload<StreamState> {
  const events = ctx.quick ? 2_000 : 20_000;
  return {
    id: 'drain',
    title: `change-stream drain, ${events} events`,
    order: 30,
    budget: ctx.quick ? { warmupRounds: 1, rounds: 2 } : { warmupRounds: 1, rounds: 9 },
    setup: () => openStreams(ctx, 'drain', events, smallDoc),
    variants: [rawLoop(1), rxSubscribers(1), rawLoop(10), shared(10), rxSubscribers(10)].map((v) => ({ ...v, memory: false })),
    rows: [
      {
        label: `drain ${events / 1000}k, 1 subscriber`,
        unit: 'event',
        candidate: 'rx:1',
        baseline: 'raw:1',
        targets: [minRatio(0.97, '≥ 0.97')],
      },
      {
        label: `drain ${events / 1000}k, 10 subscribers`,
        unit: 'delivered event',
        candidate: 'rx:10',
        baseline: 'raw:10',
        vs: 'raw loop',
        references: ['share:10'],
        targets: [FAN_OUT_TARGET],
        figures: (r) => ({ 'server cursors': serverCursors(r, 'rx:10') ?? '?' }),
      },
    ],
    teardown: closeStreams,
  };
}
