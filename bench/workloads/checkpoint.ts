/**
 * Checkpoint cost: the same `consume()` (a handler that returns at once)
 * with a checkpoint every 1 and every 100 events, against it without one;
 * and a plain `watch()` subscriber with a checkpoint every 100 against it
 * without one. Each iteration saves to a fresh in-memory store, so it
 * starts from the history's start, not from a saved token, and what is
 * measured is rxmongo's own cost of saving. The saves are counted from
 * `status$` (`checkpointed`).
 */
import { takeWhile } from 'rxjs';
import { MemoryCheckpointStore, type RxChangeStream, type RxWatchOptions } from '../../lib/index';
import type { BenchContext } from '../context';
import { smallDoc } from '../data';
import { figureTarget, minRatio, type Iteration, type Variant, type Workload, type WorkloadResult } from '../harness';
import { NO_PROBE } from '../memory';
import { closeStreams, countEvents, openStreams, whenClosed, type StreamState } from '../streams';

type Every = number | undefined;

function options(every: Every): RxWatchOptions {
  return every === undefined ? {} : { checkpoint: { store: new MemoryCheckpointStore(), key: 'bench', every: { events: every } } };
}

/** Counts `checkpointed` reports until the stream closes. */
function countSaves(stream: RxChangeStream): { saves: () => number } {
  let saves = 0;
  stream.status$.pipe(takeWhile((s) => s.type !== 'closed')).subscribe((s) => {
    if (s.type === 'checkpointed') saves += 1;
  });
  return { saves: () => saves };
}

function consumer(every: Every): Variant<StreamState> {
  return {
    key: every === undefined ? 'consume' : `consume/${every}`,
    label: every === undefined ? 'consume(), no checkpoint' : `consume(), checkpoint every ${every}`,
    async run({ history, rx }): Promise<Iteration> {
      const { start, events } = history;
      const stream = rx.watch([], { startAtOperationTime: start, ...options(every) });
      const counter = countSaves(stream);
      const closed = whenClosed(stream);
      let handled = 0;
      await new Promise<void>((resolve, reject) => {
        const subscription = stream
          .consume(() => {
            handled += 1;
            if (handled === events) {
              queueMicrotask(() => {
                subscription.unsubscribe();
                resolve();
              });
            }
          })
          .subscribe({ error: reject });
      });
      await closed;
      return { ops: handled, counters: { saves: counter.saves() } };
    },
  };
}

function watcher(every: Every): Variant<StreamState> {
  return {
    key: every === undefined ? 'watch' : `watch/${every}`,
    label: every === undefined ? 'watch(), no checkpoint' : `watch(), checkpoint every ${every}`,
    async run({ history, rx }): Promise<Iteration> {
      const { start, events } = history;
      const stream = rx.watch([], { startAtOperationTime: start, ...options(every) });
      const counter = countSaves(stream);
      const closed = whenClosed(stream);
      await countEvents(stream, events, NO_PROBE);
      await closed;
      return { ops: events, counters: { saves: counter.saves() } };
    },
  };
}

export default function checkpoint(ctx: BenchContext): Workload<StreamState> {
  const events = ctx.quick ? 2_000 : 20_000;
  const saves = (key: string) => (r: WorkloadResult) => ({ saves: r.variants[key]?.counters.saves ?? '?' });
  const enoughSaves = (every: number) => figureTarget(`≥ ${Math.floor(events / every)} saves (events/${every})`, 'saves', (n) => n >= Math.floor(events / every));
  return {
    id: 'checkpoint',
    title: `checkpoint cost, ${events} events`,
    order: 70,
    budget: ctx.quick ? { warmupRounds: 0, rounds: 2 } : { warmupRounds: 1, rounds: 8 },
    setup: () => openStreams(ctx, 'checkpoint', events, smallDoc),
    variants: [consumer(undefined), consumer(100), consumer(1), watcher(undefined), watcher(100)],
    rows: [
      {
        label: 'consume(), checkpoint every 100',
        unit: 'event',
        candidate: 'consume/100',
        baseline: 'consume',
        vs: 'no checkpoint',
        targets: [minRatio(1 / 1.02, '≤ 2 % over no checkpoint'), enoughSaves(100)],
        figures: saves('consume/100'),
      },
      {
        label: 'consume(), checkpoint every 1',
        unit: 'event',
        candidate: 'consume/1',
        baseline: 'consume',
        vs: 'no checkpoint',
        figures: saves('consume/1'),
      },
      {
        label: 'watch(), checkpoint every 100',
        unit: 'event',
        candidate: 'watch/100',
        baseline: 'watch',
        vs: 'no checkpoint',
        targets: [enoughSaves(100)],
        figures: saves('watch/100'),
      },
    ],
    teardown: closeStreams,
  };
}
