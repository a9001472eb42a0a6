/**
 * Resume tokens: `{ _data: <uppercase hex> }` laid out like mongod's v2
 * KeyString tokens, so that comparing two `_data` strings orders them as the
 * stream does — cluster time, token type (high-water mark before events),
 * txnOpIndex, fromInvalidate, collection UUID, fragment number.
 *
 * The layout follows mongod's up to the UUID (`82` + 8-byte timestamp,
 * version 2, token type, txnOpIndex, fromInvalidate, UUID or null), so tools
 * that read the cluster time out of a token work. mongod then appends the
 * event's documentKey or operationDescription; we leave it out, because one
 * oplog position never holds two events here, and that keeps every token a
 * fixed-grammar string that needs no general KeyString codec.
 */
import { Timestamp, UUID, type Document } from 'bson';
import { CommandError } from '../errors';

/** What a resume token says: a position in the oplog, and which event there. */
export interface TokenData {
  clusterTime: Timestamp;
  /** A position between events (postBatchResumeToken of a quiet stream), not an event. */
  highWaterMark: boolean;
  txnOpIndex: number;
  fromInvalidate: boolean;
  /** Hex of the collection UUID; absent for dropDatabase and high-water marks. */
  uuid?: string;
  /** 0-based fragment of an event split by `$changeStreamSplitLargeEvent`. */
  fragment?: number;
}

const TIMESTAMP = '82';
const VERSION_2 = '2B04';
const ZERO = '29';
const EVENT_TYPE = '2C0100';
const FALSE = '6E';
const TRUE = '6F';
const NULL = '14';
const UUID_PREFIX = '5A1004';
const END = '04';

/** The `_data` hex string of a token. */
export function encodeToken(data: TokenData): string {
  let hex = TIMESTAMP + timestampHex(data.clusterTime) + VERSION_2;
  hex += data.highWaterMark ? ZERO : EVENT_TYPE;
  hex += encodeInt(data.txnOpIndex);
  hex += data.fromInvalidate ? TRUE : FALSE;
  hex += data.uuid ? UUID_PREFIX + data.uuid.toUpperCase() : NULL;
  if (data.fragment !== undefined) hex += encodeInt(data.fragment);
  return hex + END;
}

/** A token as events and replies carry it: `{ _data }`. */
export function tokenDoc(data: TokenData): Document {
  return { _data: encodeToken(data) };
}

/** The token of the position just before `clusterTime`: resuming from it replays everything at or after it. */
export function highWaterMark(clusterTime: Timestamp): string {
  return encodeToken({ clusterTime, highWaterMark: true, txnOpIndex: 0, fromInvalidate: false });
}

/** The token without its fragment number: the event a fragment belongs to. */
export function withoutFragment(data: TokenData): string {
  return encodeToken({ ...data, fragment: undefined });
}

/** Reads a token a client sent; errors as mongod's parser reports them. */
export function parseToken(value: unknown): TokenData {
  const doc = value as Document | null;
  const hex = doc && typeof doc === 'object' ? doc._data : undefined;
  if (typeof hex !== 'string') {
    throw new CommandError(
      'Location40647',
      `Bad resume token: _data of missing or of wrong type. Expected string, got ${describe(value)}`,
    );
  }
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new CommandError('FailedToParse', 'resume token string was not a valid hex string');
  }
  const reader = new Reader(hex.toUpperCase());
  const data: TokenData = {
    clusterTime: reader.timestamp(),
    highWaterMark: false,
    txnOpIndex: 0,
    fromInvalidate: false,
  };
  reader.expect(VERSION_2, 'only version 2 resume tokens of this server are understood');
  const type = reader.int('tokenType');
  if (type !== 0 && type !== 128) reader.fail(`Token type ${type} not recognized`);
  data.highWaterMark = type === 0;
  data.txnOpIndex = reader.int('txnOpIndex');
  const flag = reader.take(1);
  if (flag !== FALSE && flag !== TRUE) reader.fail('Resume Token fromInvalidate is not a boolean.');
  data.fromInvalidate = flag === TRUE;
  if (reader.peek(1) === NULL) {
    reader.take(1);
  } else {
    reader.expect(UUID_PREFIX, 'Expected UUID or null');
    data.uuid = reader.take(16);
  }
  if (reader.peek(1) !== END) data.fragment = reader.int('fragmentNum');
  reader.expect(END, 'invalid oversized resume token');
  if (!reader.done) reader.fail('invalid oversized resume token');
  if (data.highWaterMark && (data.txnOpIndex > 0 || data.fromInvalidate || data.uuid || data.fragment !== undefined)) {
    reader.fail('Invalid high water mark token');
  }
  return data;
}

/** A collection UUID as tokens spell it. */
export function uuidHex(uuid: UUID | undefined): string | undefined {
  return uuid ? uuid.toHexString(false).toUpperCase() : undefined;
}

/** A timestamp as one unsigned 64-bit number (seconds, then increment), as oplog positions are ordered. */
export function timestampKey(ts: Timestamp): bigint {
  return (BigInt(ts.t) << 32n) | BigInt(ts.i);
}

/** The cluster time one tick after `ts`. */
export function nextTimestamp(ts: Timestamp): Timestamp {
  return ts.i >= 0xffffffff ? new Timestamp({ t: ts.t + 1, i: 0 }) : new Timestamp({ t: ts.t, i: ts.i + 1 });
}

function timestampHex(ts: Timestamp): string {
  return timestampKey(ts).toString(16).toUpperCase().padStart(16, '0');
}

/** A non-negative integer as KeyString encodes it: zero, or the value shifted left once in the fewest bytes. */
function encodeInt(n: number): string {
  if (n === 0) return ZERO;
  const shifted = (BigInt(n) << 1n).toString(16).toUpperCase();
  const bytes = Math.ceil(shifted.length / 2);
  return (0x2a + bytes).toString(16).toUpperCase() + shifted.padStart(bytes * 2, '0');
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

class Reader {
  private at = 0;

  constructor(private readonly hex: string) {}

  get done(): boolean {
    return this.at >= this.hex.length;
  }

  peek(bytes: number): string {
    return this.hex.slice(this.at, this.at + bytes * 2);
  }

  take(bytes: number): string {
    const part = this.peek(bytes);
    if (part.length !== bytes * 2) this.fail(this.at === 0 ? 'invalid empty resume token' : 'resume token is truncated');
    this.at += bytes * 2;
    return part;
  }

  expect(part: string, message: string): void {
    if (this.peek(part.length / 2) !== part) this.fail(message);
    this.at += part.length;
  }

  timestamp(): Timestamp {
    if (this.done) this.fail('invalid empty resume token');
    this.expect(TIMESTAMP, 'resume token does not start with a cluster time');
    const value = BigInt(`0x${this.take(8)}`);
    return new Timestamp({ t: Number(value >> 32n), i: Number(value & 0xffffffffn) });
  }

  int(field: string): number {
    const type = parseInt(this.take(1), 16);
    if (type === 0x29) return 0;
    const bytes = type - 0x2a;
    if (bytes < 1 || bytes > 4) this.fail(`Resume Token ${field} is not an integer`);
    const shifted = BigInt(`0x${this.take(bytes)}`);
    if ((shifted & 1n) !== 0n) this.fail(`Resume Token ${field} is not an integer`);
    return Number(shifted >> 1n);
  }

  fail(message: string): never {
    throw new CommandError('FailedToParse', `Invalid resume token: ${message}`);
  }
}
