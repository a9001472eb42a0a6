/**
 * Exactly-once cost: a projection written by `consume(…, { transactional:
 * true })` — each batch of handler writes and its checkpoint in one
 * transaction — against the same projection written by plain `consume()`
 * (each write on its own, the checkpoint saved on its schedule). Both drain
 * the same pre-written history with a `CollectionCheckpointStore` saving
 * every 100 events, and write one upsert per event; each iteration starts a
 * fresh checkpoint key at the history's start and a fresh projection, so
 * what is measured is the handling, not a resume. Transactions are counted
 * from `status$` (`checkpointed`).
 */
import type { ChangeStreamDocument, ChangeStreamInsertDocument, ClientSession, Document } from 'mongodb';
import { takeWhile } from 'rxjs';
import { CollectionCheckpointStore, type CheckpointDocument, type RxChangeStream, type RxCollection } from '../../lib/index';
import type { BenchContext } from '../context';
import { smallDoc } from '../data';
import { figureTarget, type Iteration, type Variant, type Workload, type WorkloadResult } from '../harness';
import { closeStreams, openStreams, whenClosed, type StreamState } from '../streams';

const EVERY = 100;

interface State extends StreamState {
  store: CollectionCheckpointStore;
  projection: RxCollection<Document>;
  iteration: number;
}

/** Counts `checkpointed` reports until the stream closes (for a transactional consumer: its commits). */
function countSaves(stream: RxChangeStream): () => number {
  let saves = 0;
  stream.status$.pipe(takeWhile((s) => s.type !== 'closed')).subscribe((s) => {
    if (s.type === 'checkpointed') saves += 1;
  });
  return () => saves;
}

function consumer(transactional: boolean): Variant<State> {
  return {
    key: transactional ? 'transactional' : 'consume',
    label: transactional ? 'consume({ transactional: true })' : 'consume(), at-least-once',
    async prepare(state) {
      state.iteration += 1;
      await state.projection.driver.deleteMany({});
    },
    async run(state): Promise<Iteration> {
      const { history, rx, store, projection } = state;
      const { start, events } = history;
      const stream = rx.watch([], { checkpoint: { store, key: `bench-${transactional ? 'tx' : 'plain'}-${state.iteration}`, start, every: { events: EVERY } } });
      const saves = countSaves(stream);
      const closed = whenClosed(stream);
      // The history holds inserts only.
      const apply = (change: ChangeStreamDocument<Document>, session?: ClientSession) =>
        projection.updateOne({ _id: (change as ChangeStreamInsertDocument).documentKey._id }, { $inc: { applied: 1 } }, { upsert: true, session });
      let handled = 0;
      await new Promise<void>((resolve, reject) => {
        const done = (): void => {
          handled += 1;
          if (handled === events) {
            queueMicrotask(() => {
              subscription.unsubscribe();
              resolve();
            });
          }
        };
        const subscription = (
          transactional ? stream.consume((change, { session }) => apply(change, session), { transactional: true }) : stream.consume((change) => apply(change))
        ).subscribe({ next: done, error: reject });
      });
      await closed;
      return { ops: handled, counters: { saves: saves() } };
    },
    async check(state) {
      const applied = await state.projection.driver.countDocuments({ applied: 1 });
      if (applied !== state.history.events) throw new Error(`${applied} of ${state.history.events} events applied once`);
    },
  };
}

function perSecond(usPerOp: number | undefined): number | string {
  return usPerOp === undefined || !(usPerOp > 0) ? '?' : Math.round(1e6 / usPerOp);
}

export default function transactional(ctx: BenchContext): Workload<State> {
  const events = ctx.quick ? 500 : 5_000;
  return {
    id: 'transactional',
    title: `exactly-once consume, ${events} events, one upsert each`,
    order: 75,
    budget: ctx.quick ? { warmupRounds: 0, rounds: 1 } : { warmupRounds: 1, rounds: 6 },
    async setup() {
      const streams = await openStreams(ctx, 'transactional', events, smallDoc);
      const db = streams.history.pair.rx.db(streams.history.dbName);
      const store = new CollectionCheckpointStore(db.collection<CheckpointDocument>('checkpoints').driver);
      return { ...streams, store, projection: db.collection('projection'), iteration: 0 };
    },
    variants: [consumer(false), consumer(true)],
    rows: [
      {
        label: 'consume({ transactional: true }), checkpoint every 100',
        unit: 'event',
        candidate: 'transactional',
        baseline: 'consume',
        vs: 'plain consume()',
        targets: [figureTarget(`≥ ${Math.floor(events / EVERY)} transactions (events/${EVERY})`, 'transactions', (n) => n >= Math.floor(events / EVERY))],
        figures: (r: WorkloadResult) => ({
          transactions: r.variants.transactional?.counters.saves ?? '?',
          'events/s': perSecond(r.variants.transactional?.usPerOp),
          'plain events/s': perSecond(r.variants.consume?.usPerOp),
        }),
      },
    ],
    teardown: closeStreams,
  };
}
