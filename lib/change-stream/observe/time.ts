import { Timestamp, type ResumeToken } from 'mongodb';
import { isTimestamp } from '../options';

/**
 * The cluster time a stream position stands for: a `Timestamp` as is, a
 * resume token by the time at its head; `undefined` for anything else.
 *
 * A token's `_data` is a KeyString whose first value is the cluster time
 * (type byte `0x82`, then the timestamp as a big-endian 64-bit number:
 * seconds, then increment) — in every token format since MongoDB 4.2, for
 * events and for the post-batch tokens of quiet batches alike. The
 * post-batch token is the one time that is the stream's own: how far the
 * server scanned for it. A reply's `operationTime` or `$clusterTime` is the
 * cluster's newest time, which moves with writes the stream has not
 * scanned yet (it reads majority-committed history), so it would hide lag.
 */
export function clusterTimeOf(position: ResumeToken | Timestamp | undefined): Timestamp | undefined {
  if (isTimestamp(position)) return position;
  const data = (position as { _data?: unknown } | null | undefined)?._data;
  if (typeof data !== 'string' || data.length < 18 || !/^82[0-9a-fA-F]{16}/.test(data)) return undefined;
  const value = BigInt(`0x${data.slice(2, 18)}`);
  return new Timestamp({ t: Number(value >> 32n), i: Number(value & 0xffffffffn) });
}

/** A cluster time's seconds as epoch ms (its increment orders, it does not time). */
export function secondsOf(time: Timestamp): number {
  return time.high * 1000;
}

/** The time a change happened, in epoch ms: its `wallTime` (MongoDB 6.0+, ms), else its `clusterTime` (s). */
export function changeTimeOf(change: unknown): { clusterTime: Timestamp | undefined; ms: number | undefined } {
  const event = change as { clusterTime?: unknown; wallTime?: unknown } | null | undefined;
  const clusterTime = isTimestamp(event?.clusterTime) ? event.clusterTime : undefined;
  const wall = event?.wallTime instanceof Date ? event.wallTime.getTime() : NaN;
  return { clusterTime, ms: Number.isFinite(wall) ? wall : clusterTime !== undefined ? secondsOf(clusterTime) : undefined };
}
