/**
 * mongod's hashed-index key (`BSONElementHasher::hash64`, seed 0): the MD5
 * of the seed and of a BSON element, read as a little-endian int64 from the
 * first 8 digest bytes. The element contributes its canonical type, then
 * its value bytes; every number (int, long, double, decimal) contributes
 * the same int64, truncated toward zero (NaN as 0, out-of-range values
 * clamped), so `1`, `NumberLong(1)` and `1.9` hash alike; documents and
 * arrays contribute each element with its field name, then an end marker.
 *
 * The value is serialized with the bson library first and the hash is
 * computed over those bytes, exactly as mongod walks its own BSON.
 */
import { createHash, type Hash } from 'node:crypto';
import { BSON, type Document } from 'bson';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** mongod's `canonicalizeBSONType`, by BSON type byte (signed: MinKey is -1). */
const CANONICAL: Record<number, number> = {
  [-1]: -1, 0x7f: 127, 0x06: 0, 0x0a: 5, 0x01: 10, 0x10: 10, 0x12: 10, 0x13: 10, 0x02: 15, 0x0e: 15, 0x03: 20,
  0x04: 25, 0x05: 30, 0x07: 35, 0x08: 40, 0x09: 45, 0x11: 47, 0x0b: 50, 0x0c: 55, 0x0d: 60, 0x0f: 65,
};

/** The hashed-index key of a value (a value missing is hashed as null), as a signed 64-bit integer. */
export function hashedIndexKey(value: unknown): bigint {
  const bytes = Buffer.from(BSON.serialize({ '': value === undefined ? null : value } as Document));
  const md5 = createHash('md5');
  md5.update(int32(0)); // the seed
  hashElement(md5, bytes, 4, false);
  return md5.digest().readBigInt64LE(0);
}

/** Hashes the element at `at`; returns where the next element starts. */
function hashElement(md5: Hash, buf: Buffer, at: number, withName: boolean): number {
  const type = buf.readInt8(at);
  const nameEnd = buf.indexOf(0, at + 1);
  const canonical = CANONICAL[type];
  if (canonical === undefined) throw new Error(`cannot hash BSON type ${type}`);
  md5.update(int32(canonical));
  if (withName) md5.update(buf.subarray(at + 1, nameEnd + 1));
  const value = nameEnd + 1;
  const end = value + valueSize(type, buf, value);
  if (type === 0x03 || type === 0x04) {
    hashElements(md5, buf, value);
  } else if (type === 0x0f) {
    // Code with scope: the code string's characters (with their NUL), then the scope's elements.
    const codeLength = buf.readInt32LE(value + 4);
    md5.update(buf.subarray(value + 8, value + 8 + codeLength));
    hashElements(md5, buf, value + 8 + codeLength);
  } else if (type === 0x01 || type === 0x10 || type === 0x12 || type === 0x13) {
    const n = Buffer.alloc(8);
    n.writeBigInt64LE(numberForHash(type, buf, value));
    md5.update(n);
  } else {
    md5.update(buf.subarray(value, end));
  }
  return end;
}

/** The elements of the document at `at`, each with its field name, then the end-of-object element. */
function hashElements(md5: Hash, buf: Buffer, at: number): void {
  let pos = at + 4;
  while (buf[pos] !== 0) pos = hashElement(md5, buf, pos, true);
  md5.update(int32(0)); // the end-of-object element: canonical type 0, no name, no value
}

/** mongod's `safeNumberLongForHash`: NaN is 0, values beyond int64 clamp, the rest truncate toward zero. */
function numberForHash(type: number, buf: Buffer, at: number): bigint {
  switch (type) {
    case 0x10:
      return BigInt(buf.readInt32LE(at));
    case 0x12:
      return buf.readBigInt64LE(at);
    case 0x01:
      return clampToInt64(buf.readDoubleLE(at));
    default:
      return clampToInt64(Number(new BSON.Decimal128(buf.subarray(at, at + 16)).toString()));
  }
}

function clampToInt64(d: number): bigint {
  if (Number.isNaN(d)) return 0n;
  if (d >= 2 ** 63) return INT64_MAX;
  if (d <= -(2 ** 63)) return INT64_MIN;
  return BigInt(Math.trunc(d));
}

function valueSize(type: number, buf: Buffer, at: number): number {
  switch (type) {
    case 0x01: case 0x09: case 0x11: case 0x12:
      return 8;
    case 0x02: case 0x0d: case 0x0e:
      return 4 + buf.readInt32LE(at);
    case 0x03: case 0x04: case 0x0f:
      return buf.readInt32LE(at);
    case 0x05:
      return 5 + buf.readInt32LE(at);
    case 0x07:
      return 12;
    case 0x08:
      return 1;
    case 0x0b: {
      const pattern = buf.indexOf(0, at);
      return buf.indexOf(0, pattern + 1) + 1 - at;
    }
    case 0x0c:
      return 4 + buf.readInt32LE(at) + 12;
    case 0x10:
      return 4;
    case 0x13:
      return 16;
    default:
      return 0; // undefined, null, MinKey, MaxKey
  }
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}
