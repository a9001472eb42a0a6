/**
 * Memory under a slow consumer: a history far larger than any read-ahead,
 * handled one event at a time by a handler that takes about a millisecond.
 * rxmongo uses `consume()`; the raw driver pulls with `next()`, awaiting the
 * handler before asking for more. Heap and RSS are sampled during each run:
 * if events pile up, memory climbs with the events handled; if reading is
 * paced, it stays flat. Live memory is heap plus external (Buffers) after a
 * full collection (see the harness's sampler).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Document } from 'mongodb';
import { filter, firstValueFrom } from 'rxjs';
import type { RxCollection } from '../../lib';
import type { BenchContext } from '../context';
import type { Workload, WorkloadResult } from '../harness';
import type { Finding } from '../report';
import { dropHistory, writeHistory, type History } from './streams';

const PAYLOAD_BYTES = 8 * 1024;
const HANDLER_MS = 1;

interface State {
  history: History;
  rx: RxCollection;
}

/** An ~8 KB document, so piled-up events show at once. */
function bigDoc(i: number): Document {
  return { seq: i, blob: 'x'.repeat(PAYLOAD_BYTES) };
}

async function slowHandler(): Promise<void> {
  await sleep(HANDLER_MS);
}

export function memoryWorkloads(ctx: BenchContext): Workload<State>[] {
  const events = ctx.quick ? 600 : 4_000;
  return [
    {
      name: `slow consume, ${events} × 8 KB events`,
      family: 'memory',
      unit: 'event',
      scale: events,
      throughputComparable: false,
      sampleMemory: true,
      target: { text: 'memory flat: live memory neither climbs nor holds the history' },
      budget: ctx.quick ? { warmupRounds: 0, minRounds: 2, maxRounds: 2 } : { warmupRounds: 1, minRounds: 4, maxRounds: 4 },
      async setup() {
        const history = await writeHistory(ctx, 'slow_consume', events, bigDoc);
        return { history, rx: history.pair.rx.db(history.dbName).collection('events') };
      },
      raw: {
        label: 'raw driver, next() + await handler',
        async run({ history }) {
          const stream = history.coll.watch([], { startAtOperationTime: history.start });
          let handled = 0;
          try {
            while (handled < history.events) {
              await stream.next();
              await slowHandler();
              handled += 1;
            }
          } finally {
            await stream.close();
          }
          return { ops: handled };
        },
      },
      rxmongo: {
        label: 'rxmongo consume()',
        async run({ history, rx }) {
          let handled = 0;
          const stream = rx.watch([], { startAtOperationTime: history.start });
          const closed = firstValueFrom(stream.status$.pipe(filter((status) => status.type === 'closed')));
          // consume() ends only on error or unsubscribe: stop it once the last event is handled.
          await new Promise<void>((resolve, reject) => {
            const subscription = stream
              .consume(async () => {
                await slowHandler();
                handled += 1;
                if (handled === history.events) {
                  queueMicrotask(() => {
                    subscription.unsubscribe();
                    resolve();
                  });
                }
              })
              .subscribe({ error: reject });
          });
          // As the raw side awaits close(): the cursor is released before the run ends.
          await closed;
          return { ops: handled };
        },
      },
      metrics: memoryMetrics,
      teardown: async ({ history }) => {
        await dropHistory(history);
      },
    },
  ];
}

function memoryMetrics(r: WorkloadResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const side of ['raw', 'rxmongo'] as const) {
    const m = r[side]?.memory;
    if (!m) continue;
    out[`${side} peak live +MB`] = m.liveGrowth / 2 ** 20;
    out[`${side} peak RSS +MB`] = m.rssGrowth / 2 ** 20;
    out[`${side} live trend B/event`] = m.liveSlopePerOp;
  }
  return out;
}

export function memoryFindings(results: WorkloadResult[]): Finding[] {
  const r = results.find((x) => x.family === 'memory');
  const m = r?.rxmongo?.memory;
  if (!r || !m) return [];
  // Flat: live memory does not climb with the events handled. Events piling
  // up would each keep at least their payload; a trend under a quarter of it
  // per event means they do not. The peak is reported against the history it
  // would approach if reading were not paced.
  const payload = r.scale * PAYLOAD_BYTES;
  const flat = m.liveSlopePerOp < PAYLOAD_BYTES / 4;
  return [
    {
      subject: `slow consume of ${mb(payload)} of events: rxmongo peak live memory / its trend / peak RSS`,
      value: `+${mb(m.liveGrowth)} / ${m.liveSlopePerOp.toFixed(0)} B per event / +${mb(m.rssGrowth)} (raw driver: +${mb(r.raw?.memory?.liveGrowth)} / ${r.raw?.memory?.liveSlopePerOp.toFixed(0) ?? '?'} B per event / +${mb(r.raw?.memory?.rssGrowth)})`,
      target: `flat: trend < ${PAYLOAD_BYTES / 4} B per ${PAYLOAD_BYTES / 1024} KB event`,
      met: flat,
    },
  ];
}

function mb(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / 2 ** 20).toFixed(1)} MB`;
}
