/**
 * A steady mix of writes for the dashboard to show: inserts, updates,
 * replaces and deletes over a few collections of a shop. Inserts carry a
 * per-collection sequence number (1, 2, 3, …) so the dashboard can prove
 * that its change feed lost nothing across a failover.
 */
import { MongoServerError } from 'mongodb';
import { catchError, defer, map, of, repeat, retry, throwError, timer, type Observable } from 'rxjs';
import { ClientClosedError, type RxDatabase } from '../lib';

/** The collections the generator writes to. */
const LOAD_COLLECTIONS = ['orders', 'payments', 'inventory', 'carts'] as const;

export interface LoadOptions {
  /** Pause between writes (ms); default 50, about 20 writes a second. */
  periodMs?: number;
  /** Pause before retrying a failed write (ms); default 250. */
  retryDelayMs?: number;
  random?: () => number;
  /** Told about each failed attempt before it is retried. */
  onRetry?: (error: unknown) => void;
}

/** One write that reached the server. */
export interface Written {
  ns: string;
  op: 'insert' | 'update' | 'replace' | 'delete';
  /** Failed attempts before it succeeded (e.g. while no primary was elected). */
  retries: number;
}

/** Every generated document has a readable string `_id`. */
interface ShopDocument {
  _id: string;
  [field: string]: unknown;
}

interface Stock {
  _id: string;
  stock: number;
  restockedAt?: Date;
}

interface Plan {
  collection: (typeof LOAD_COLLECTIONS)[number];
  op: Written['op'];
  run: () => Observable<unknown>;
}

const SKUS = ['apple', 'bread', 'cheese', 'dates', 'eggs', 'flour', 'grapes', 'honey'];
const DUPLICATE_KEY = 11000;

/**
 * Writes to `db` while subscribed; emits each completed write. Cold: every
 * subscription starts its own numbering (its `_id`s are prefixed with a run
 * id, so runs never collide). A failed write is retried, with the same
 * document, until it succeeds; an insert whose earlier attempt had in fact
 * landed (duplicate key on retry) counts as done, so the numbering stays
 * gapless. Errors only when the client is closed.
 */
export function loadGenerator(db: RxDatabase, options: LoadOptions = {}): Observable<Written> {
  const periodMs = options.periodMs ?? 50;
  const retryDelayMs = options.retryDelayMs ?? 250;
  const random = options.random ?? Math.random;
  return defer(() => {
    const run = Date.now().toString(36);
    const seq = { orders: 0, payments: 0, carts: 0 };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const orders = db.collection<ShopDocument>('orders');
    const payments = db.collection<ShopDocument>('payments');
    const inventory = db.collection<Stock>('inventory');
    const carts = db.collection<ShopDocument>('carts');

    const plans: Array<() => Plan> = [
      () => {
        const n = ++seq.orders;
        const doc = { _id: `${run}-order-${n}`, seq: n, sku: pick(SKUS), qty: 1 + Math.floor(random() * 5), status: 'placed' };
        return { collection: 'orders', op: 'insert', run: () => orders.insertOne(doc) };
      },
      () => {
        const n = ++seq.payments;
        const order = `${run}-order-${Math.max(1, seq.orders)}`;
        const doc = { _id: `${run}-payment-${n}`, seq: n, order, amount: Math.round(random() * 10_000) / 100 };
        return { collection: 'payments', op: 'insert', run: () => payments.insertOne(doc) };
      },
      () => {
        const sku = pick(SKUS);
        return { collection: 'inventory', op: 'update', run: () => inventory.updateOne({ _id: sku }, { $inc: { stock: -1 } }, { upsert: true }) };
      },
      () => {
        const n = ++seq.carts;
        const doc = { _id: `${run}-cart-${n}`, seq: n, items: [pick(SKUS), pick(SKUS)] };
        return { collection: 'carts', op: 'insert', run: () => carts.insertOne(doc) };
      },
      () => {
        const order = `${run}-order-${Math.max(1, seq.orders - 2)}`;
        return { collection: 'orders', op: 'update', run: () => orders.updateOne({ _id: order }, { $set: { status: 'shipped' } }) };
      },
      () => {
        const sku = pick(SKUS);
        const doc = { stock: 100, restockedAt: new Date() };
        return { collection: 'inventory', op: 'replace', run: () => inventory.replaceOne({ _id: sku }, doc, { upsert: true }) };
      },
      () => {
        const cart = `${run}-cart-${Math.max(1, seq.carts - 3)}`;
        return { collection: 'carts', op: 'delete', run: () => carts.deleteOne({ _id: cart }) };
      },
    ];

    let round = 0;
    const next = (): Observable<Written> => {
      const plan = plans[round++ % plans.length]();
      let retries = 0;
      return defer(plan.run).pipe(
        catchError((error: unknown) => (isDuplicateKey(error) && plan.op === 'insert' ? of(null) : throwError(() => error))),
        retry({
          delay: (error: unknown) => {
            if (error instanceof ClientClosedError) return throwError(() => error);
            retries += 1;
            options.onRetry?.(error);
            return timer(retryDelayMs);
          },
        }),
        map(() => ({ ns: `${db.name}.${plan.collection}`, op: plan.op, retries })),
      );
    };
    return defer(next).pipe(repeat({ delay: periodMs }));
  });
}

function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}
