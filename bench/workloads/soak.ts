/**
 * Soak: `consume()` over a long history with a handler slower than the
 * reader (it sleeps 1 ms every 10 events), against the raw driver with the
 * same read-ahead (`batchSize` = consume's `highWaterMark`) awaiting the
 * same handler. Live memory is sampled every 1/50 of the run: a flat heap
 * has a trend near 0 bytes per event; events piling up show as what each
 * leaves behind. Both sides are paced by the handler: their times are not
 * compared.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchContext } from '../context';
import { smallDoc } from '../data';
import type { Probe } from '../memory';
import { figureTarget, type Workload, type WorkloadResult } from '../harness';
import { closeStreams, openStreams, whenClosed, type StreamState } from '../streams';

const READ_AHEAD = 100;
const PAUSE_EVERY = 10;
const PAUSE_MS = 1;
const TREND = 'rx B/event (trend)';

/** The handler both sides run: every PAUSE_EVERY-th event waits PAUSE_MS. */
function handle(n: number): Promise<void> | undefined {
  return n % PAUSE_EVERY === 0 ? sleep(PAUSE_MS) : undefined;
}

/** Samples live memory every 1/50 of the run, and at its end. */
function sampler(probe: Probe, events: number): (handled: number) => void {
  const every = Math.max(1, Math.floor(events / 50));
  return (handled) => {
    if (probe.live && (handled % every === 0 || handled === events)) probe.sample(handled);
  };
}

export default function soak(ctx: BenchContext): Workload<StreamState> {
  const events = ctx.quick ? 5_000 : 100_000;
  return {
    id: 'soak',
    title: `consume() with a slow handler, ${events} events`,
    order: 60,
    budget: { warmupRounds: 0, rounds: 1 },
    memory: 'timed',
    setup: () => openStreams(ctx, 'soak', events, smallDoc),
    variants: [
      {
        key: 'raw',
        label: `raw ChangeStream, batchSize ${READ_AHEAD}, next() + await handler`,
        memory: true,
        async run({ history }, probe) {
          const sample = sampler(probe, events);
          const stream = history.coll.watch([], { startAtOperationTime: history.start, batchSize: READ_AHEAD });
          let handled = 0;
          try {
            while (handled < events) {
              await stream.next();
              const pending = handle(handled + 1);
              if (pending) await pending;
              handled += 1;
              sample(handled);
            }
          } finally {
            await stream.close();
          }
          return { ops: handled };
        },
      },
      {
        key: 'rx',
        label: `rxmongo consume(), highWaterMark ${READ_AHEAD}`,
        memory: true,
        async run({ history, rx }, probe) {
          const sample = sampler(probe, events);
          const stream = rx.watch([], { startAtOperationTime: history.start });
          const closed = whenClosed(stream);
          let handled = 0;
          // consume() ends only on error or unsubscribe: stop it once the last event is handled.
          await new Promise<void>((resolve, reject) => {
            const subscription = stream
              .consume(
                () => {
                  const pending = handle(handled + 1);
                  const done = (): void => {
                    handled += 1;
                    sample(handled);
                    if (handled === events) {
                      queueMicrotask(() => {
                        subscription.unsubscribe();
                        resolve();
                      });
                    }
                  };
                  if (!pending) return done();
                  return pending.then(done);
                },
                { highWaterMark: READ_AHEAD },
              )
              .subscribe({ error: reject });
          });
          await closed;
          return { ops: handled };
        },
      },
    ],
    rows: [
      {
        label: `soak: consume() ${events / 1000}k events, slow handler`,
        unit: 'event',
        candidate: 'rx',
        baseline: 'raw',
        vs: 'raw, same read-ahead',
        paced: true,
        targets: [figureTarget('live heap flat: < 40 B/event', TREND, (b) => b < 40, ' B')],
        figures: (r) => soakFigures(r),
      },
    ],
    teardown: closeStreams,
  };
}

function soakFigures(r: WorkloadResult): Record<string, number> {
  const out: Record<string, number> = {};
  const rx = r.variants.rx?.memory;
  const raw = r.variants.raw?.memory;
  if (rx) out[TREND] = rx.trendPerUnit;
  if (raw) out['raw B/event (trend)'] = raw.trendPerUnit;
  if (rx) out['rx peak live MB'] = rx.peakBytes / 2 ** 20;
  if (raw) out['raw peak live MB'] = raw.peakBytes / 2 ** 20;
  return out;
}
