import { BSON, Collection, Db, MongoInvalidArgumentError, type ClientSession, type Document } from 'mongodb';
import { firstValueFrom, lastValueFrom, toArray, type Observable } from 'rxjs';
import { COLLECTION_MEMBERS } from '../../../lib/client/collection';
import { DATABASE_MEMBERS } from '../../../lib/client/database';
import { DocumentTooLargeError, InvalidNameError } from '../../../lib/errors';
import type { ClientContext } from '../../../lib/driver/context';
import { abortableCall, call, CALL, collectionResult, CURSOR, installMembers, PROPERTY } from '../../../lib/client/members';
import { ANY, DOCUMENT, DOCUMENTS, FILTER, NAME, options } from '../../../lib/client/arguments';
import { DRIVER_SESSION, unwrapSessions, withSignal } from '../../../lib/driver/sessions';
import { RxClientSession } from '../../../lib/client/session';
import { Deferred, fakeContext, FakeCursor, settle } from '../driver/fakes';

/** A driver object recording its calls. */
class FakeDriverObject {
  readonly calls: { name: string; args: unknown[] }[] = [];
  pending: Deferred<string> | undefined;
  get label(): string {
    return 'driver-label';
  }
  async insert(...args: unknown[]): Promise<string> {
    this.calls.push({ name: 'insert', args });
    return 'inserted';
  }
  async lookup(...args: unknown[]): Promise<string> {
    this.calls.push({ name: 'lookup', args });
    this.pending = new Deferred<string>();
    return this.pending.promise;
  }
  scan(...args: unknown[]) {
    this.calls.push({ name: 'scan', args });
    return new FakeCursor([[1, 2], [3]]).asCursor();
  }
  async remove(...args: unknown[]): Promise<string> {
    this.calls.push({ name: 'remove', args });
    return 'removed';
  }
  async put(...args: unknown[]): Promise<string> {
    this.calls.push({ name: 'put', args });
    return 'put';
  }
  /** The limit its bulk writer refuses documents at, as the driver's does (measuring each one itself). */
  maxBsonObjectSize = 16 * 1024 * 1024;
  async putMany(...args: unknown[]): Promise<string> {
    for (const doc of args[0] as Document[]) {
      if (BSON.calculateObjectSize(doc) >= this.maxBsonObjectSize) throw new MongoInvalidArgumentError(`Document is larger than the maximum size ${this.maxBsonObjectSize}`);
    }
    this.calls.push({ name: 'putMany', args });
    return 'put';
  }
  async rename(...args: unknown[]): Promise<unknown> {
    this.calls.push({ name: 'rename', args });
    return { renamedTo: args[0] };
  }
}

class Host {
  constructor(
    readonly driver: FakeDriverObject,
    readonly context: ClientContext,
  ) {}
}
const TABLE = {
  label: PROPERTY,
  insert: CALL,
  lookup: abortableCall(ANY, options('projection', 'signal', 'batchSize')),
  scan: CURSOR,
  remove: call(FILTER, options('ordered')),
  put: call(DOCUMENT),
  putMany: call(DOCUMENTS),
  rename: collectionResult(NAME),
  drop: call(NAME),
} as const;
installMembers(Host.prototype, TABLE, (_host, collection) => ({ adopted: collection }) as never);

type Installed = Host & {
  readonly label: string;
  insert(...args: unknown[]): Observable<string>;
  lookup(...args: unknown[]): Observable<string>;
  scan(...args: unknown[]): Observable<number>;
  remove(...args: unknown[]): Observable<string>;
  put(...args: unknown[]): Observable<string>;
  putMany(...args: unknown[]): Observable<string>;
  rename(...args: unknown[]): Observable<unknown>;
  drop(...args: unknown[]): Observable<unknown>;
};

function host(maxBsonObjectSize?: number): { host: Installed; driver: FakeDriverObject } {
  const driver = new FakeDriverObject();
  if (maxBsonObjectSize !== undefined) driver.maxBsonObjectSize = maxBsonObjectSize;
  return { host: new Host(driver, fakeContext(undefined, { maxBsonObjectSize }).context) as Installed, driver };
}

describe('installMembers', () => {
  it('forwards properties to the driver, read-only', () => {
    const { host: h } = host();
    expect(h.label).toBe('driver-label');
    expect(() => {
      (h as { label: string }).label = 'x';
    }).toThrow(TypeError);
  });

  it('calls the driver at subscribe, not at the call, with the same arguments', async () => {
    const { host: h, driver } = host();
    const insert$ = h.insert({ a: 1 }, { ordered: true });
    expect(driver.calls).toEqual([]);
    await expect(firstValueFrom(insert$)).resolves.toBe('inserted');
    await firstValueFrom(insert$);
    expect(driver.calls).toEqual([
      { name: 'insert', args: [{ a: 1 }, { ordered: true }] },
      { name: 'insert', args: [{ a: 1 }, { ordered: true }] },
    ]);
  });

  it('adds a per-subscriber signal at the options index of abortable calls, filling missing arguments', async () => {
    const { host: h, driver } = host();
    const subscription = h.lookup().subscribe();
    const [call] = driver.calls;
    expect(call.args[0]).toBeUndefined();
    const signal = (call.args[1] as { signal: AbortSignal }).signal;
    expect(signal).toBeInstanceOf(AbortSignal);
    subscription.unsubscribe();
    expect(signal.aborted).toBe(true);
    driver.pending!.reject(signal.reason);
    await settle();
  });

  it('keeps the caller options and combines the caller signal with its own', async () => {
    const { host: h, driver } = host();
    const mine = new AbortController();
    const options = { projection: { a: 1 }, signal: mine.signal };
    const subscription = h.lookup({ a: 1 }, options).subscribe();
    const given = driver.calls[0].args[1] as { projection: unknown; signal: AbortSignal };
    expect(given).not.toBe(options);
    expect(given.projection).toEqual({ a: 1 });
    expect(options).toEqual({ projection: { a: 1 }, signal: mine.signal });
    mine.abort();
    expect(given.signal.aborted).toBe(true);
    subscription.unsubscribe();
    driver.pending!.reject(mine.signal.reason);
    await settle();
  });

  it('turns cursor members into Observables of documents', async () => {
    const { host: h, driver } = host();
    const scan$ = h.scan({ x: 1 });
    expect(driver.calls).toEqual([]);
    await expect(lastValueFrom(scan$.pipe(toArray()))).resolves.toEqual([1, 2, 3]);
  });

  it('adopts collections returned by collection members', async () => {
    const { host: h } = host();
    await expect(firstValueFrom(h.rename('next'))).resolves.toEqual({ adopted: { renamedTo: 'next' } });
  });

  it('validates collection-name arguments at the call', () => {
    const { host: h, driver } = host();
    expect(() => h.rename('a$b')).toThrow(InvalidNameError);
    expect(() => h.drop('')).toThrow(InvalidNameError);
    expect(() => h.drop(7)).toThrow(TypeError);
    expect(driver.calls).toEqual([]);
  });

  it('refuses a missing or non-document write filter at the call; {} still means every document', async () => {
    const { host: h, driver } = host();
    for (const filter of [undefined, null, 42, 'a', [{}]]) {
      expect(() => h.remove(filter)).toThrow(TypeError);
    }
    expect(() => h.remove()).toThrow(/remove\(filter\): a write needs a filter document \(\{\} matches every document\), got undefined/);
    expect(driver.calls).toEqual([]);
    await expect(firstValueFrom(h.remove({}))).resolves.toBe('removed');
  });

  it('refuses an unknown option at the call, naming it, a near match and the known ones', () => {
    const { host: h, driver } = host();
    expect(() => h.remove({}, { orderd: true })).toThrow(
      "remove(options): unknown option 'orderd' (did you mean 'ordered'?); known options: ordered",
    );
    expect(() => h.remove({}, 'ordered')).toThrow('remove(options): options must be an object, got "ordered"');
    expect(() => h.remove({}, null)).toThrow(TypeError);
    expect(driver.calls).toEqual([]);
  });

  it('checks numeric options: a string is a TypeError, NaN or a negative count a RangeError that says so', () => {
    const { host: h } = host();
    expect(() => h.lookup({}, { batchSize: '10' })).toThrow(new TypeError('lookup(options): options.batchSize must be a non-negative integer, got "10"'));
    expect(() => h.lookup({}, { batchSize: NaN })).toThrow(new RangeError('lookup(options): options.batchSize must be a non-negative integer, got NaN'));
    expect(() => h.lookup({}, { batchSize: -1 })).toThrow(RangeError);
    expect(() => h.lookup({}, { batchSize: 1.5 })).toThrow(RangeError);
  });

  it('refuses documents that are not plain objects, naming the one at fault', () => {
    const { host: h, driver } = host();
    expect(() => h.put(null)).toThrow('put(document): the document must be a document (a plain object), got null');
    expect(() => h.put(42)).toThrow('put(document): the document must be a document (a plain object), got 42');
    expect(() => h.put([{}])).toThrow(TypeError);
    expect(() => h.putMany([{ a: 1 }, null])).toThrow('putMany(documents): documents[1] must be a document (a plain object), got null');
    expect(() => h.putMany({ a: 1 })).toThrow(TypeError);
    expect(driver.calls).toEqual([]);
  });

  it('errors the Observable, nothing sent, for a document over the server limit, with its size and the limit', async () => {
    const { host: h, driver } = host(1024);
    const big = { _id: 1, blob: 'x'.repeat(2000) };
    const put$ = h.put(big);
    const error = await firstValueFrom(put$).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DocumentTooLargeError);
    expect(error).toMatchObject({ argument: 'put(document): the document', limit: 1024 });
    expect((error as DocumentTooLargeError).size).toBeGreaterThan(2000);
    expect((error as Error).message).toContain('over the server\'s limit of 1024 bytes');
    // Documents the driver measures itself are measured again only to name the one it refused.
    const many = await firstValueFrom(h.putMany([{ a: 1 }, big])).catch((err: unknown) => err);
    expect(many).toBeInstanceOf(DocumentTooLargeError);
    expect(many).toMatchObject({ argument: 'putMany(documents): documents[1]', limit: 1024 });
    expect(driver.calls).toEqual([]);
    await expect(firstValueFrom(h.put({ small: true }))).resolves.toBe('put');
  });

  it("passes the driver's size refusal through when no document is over the limit by rxmongo's count", async () => {
    const { host: h, driver } = host(1024);
    driver.maxBsonObjectSize = 10; // the driver refuses what the server would take
    const error = await firstValueFrom(h.putMany([{ a: 1 }])).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MongoInvalidArgumentError);
    expect(error).not.toBeInstanceOf(DocumentTooLargeError);
  });

  it('counts the _id the driver adds to an insert against the limit', async () => {
    const { host: h } = host(100);
    // 5 + (1 + 2 + 4 + 77 + 1) = 90 bytes; with the added _id (17) 107.
    const doc = { s: 'y'.repeat(76) };
    await expect(firstValueFrom(h.put({ ...doc, _id: 1 }))).resolves.toBe('put');
    await expect(firstValueFrom(h.put(doc))).rejects.toBeInstanceOf(DocumentTooLargeError);
  });

  it('swaps an RxClientSession option for its driver session without touching the caller object', async () => {
    const { host: h, driver } = host();
    const driverSession = { id: 'fake' } as unknown as ClientSession;
    const session = new RxClientSession(driverSession, fakeContext().context);
    const options = { session, ordered: false };
    await firstValueFrom(h.insert({ a: 1 }, options));
    expect(driver.calls[0].args[1]).toEqual({ session: driverSession, ordered: false });
    expect(options.session).toBe(session);
  });
});

describe('unwrapSessions / withSignal', () => {
  it('leaves arguments without an RxClientSession as they are', () => {
    const doc = { session: 'a field of the document' };
    const args = [doc, [1, 2], null, 3];
    const out = unwrapSessions(args);
    expect(out).toEqual(args);
    expect(out[0]).toBe(doc);
  });

  it('copies the list only when it swaps a session, never the caller\'s own objects', () => {
    const plain = [{ ordered: false }];
    expect(unwrapSessions(plain)).toBe(plain);
    const driverSession = { id: 'driver session' };
    const options = { session: { [DRIVER_SESSION]: driverSession }, ordered: true };
    const args = [{ a: 1 }, options];
    const out = unwrapSessions(args);
    expect(out).not.toBe(args);
    expect(out).toEqual([{ a: 1 }, { session: driverSession, ordered: true }]);
    expect(args[1]).toBe(options);
    expect(options.session[DRIVER_SESSION]).toBe(driverSession);
  });

  it('pads the argument list up to the options index', () => {
    const signal = new AbortController().signal;
    expect(withSignal([], 2, signal)).toEqual([undefined, undefined, { signal }]);
  });
});

describe('member tables cover the driver', () => {
  /** Driver members deliberately not in a table, each with its reason in the table's doc comment. */
  const EXCLUDED = {
    Collection: ['constructor', 'fullNamespace', 'watch', 'initializeOrderedBulkOp', 'initializeUnorderedBulkOp', 'count'],
    Db: ['constructor', 'admin', 'collection', 'watch'],
  };

  it.each([
    ['Collection', Collection.prototype, COLLECTION_MEMBERS],
    ['Db', Db.prototype, DATABASE_MEMBERS],
  ] as const)('every member of the driver %s is mapped or excluded on purpose', (name, prototype, table) => {
    const driverMembers = Object.getOwnPropertyNames(prototype).sort();
    const covered = [...Object.keys(table), ...EXCLUDED[name]].sort();
    expect(covered).toEqual(driverMembers);
  });

  it('maps driver getters as properties and driver methods as Observables', () => {
    for (const [prototype, table] of [
      [Collection.prototype, COLLECTION_MEMBERS],
      [Db.prototype, DATABASE_MEMBERS],
    ] as const) {
      for (const [member, spec] of Object.entries(table)) {
        const isGetter = Object.getOwnPropertyDescriptor(prototype, member)?.get !== undefined;
        expect([member, spec.kind === 'property']).toEqual([member, isGetter]);
      }
    }
  });
});
