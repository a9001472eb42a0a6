/**
 * MongoDB wire protocol framing: the messages a driver sends (OP_QUERY for
 * the first handshake, OP_MSG afterwards) and the replies we send back.
 */
import { BSON, type Document } from 'bson';
import { fromWire } from './values';

const OP_REPLY = 1;
export const OP_QUERY = 2004;
const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

const MSG_CHECKSUM_PRESENT = 1 << 0;
const MSG_MORE_TO_COME = 1 << 1;
const MSG_EXHAUST_ALLOWED = 1 << 16;
/** Bits a server must understand; any other bit in 0–15 makes the message invalid. */
const MSG_KNOWN_REQUIRED_BITS = MSG_CHECKSUM_PRESENT | MSG_MORE_TO_COME;

export const HEADER_SIZE = 16;
export const MAX_MESSAGE_SIZE = 48_000_000;

export interface Header {
  length: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

/** A decoded request: the command document with kind-1 sequences folded in. */
export interface Request {
  header: Header;
  opCode: typeof OP_QUERY | typeof OP_MSG;
  /** Database the command targets (`$db`, or the OP_QUERY namespace). */
  db: string;
  command: Document;
  moreToCome: boolean;
  exhaustAllowed: boolean;
}

const PROTOCOL_ERROR = 17;
const INVALID_BSON = 22;
const ILLEGAL_OP_MSG_FLAG = 223;
const CHECKSUM_MISMATCH = 288;

/**
 * A message that cannot be decoded. mongod answers most with an error reply
 * and goes on; a `fatal` one (bad flags, bad checksum) closes the connection.
 */
export class WireProtocolError extends Error {
  constructor(
    message: string,
    readonly code: number = PROTOCOL_ERROR,
    readonly fatal = false,
  ) {
    super(message);
  }
}

export function readHeader(buf: Buffer, offset = 0): Header {
  return {
    length: buf.readInt32LE(offset),
    requestId: buf.readInt32LE(offset + 4),
    responseTo: buf.readInt32LE(offset + 8),
    opCode: buf.readInt32LE(offset + 12),
  };
}

/** Decodes one whole message (header included). */
export function decodeRequest(message: Buffer): Request {
  const header = readHeader(message);
  if (header.opCode === OP_MSG) return decodeMsg(header, message);
  if (header.opCode === OP_QUERY) return decodeQuery(header, message);
  if (header.opCode === OP_COMPRESSED) {
    throw new WireProtocolError('OP_COMPRESSED is not supported: no compressor was negotiated');
  }
  throw new WireProtocolError(`Operation isn't supported: opCode ${header.opCode}`);
}

/** Whether an OP_MSG asked for no reply (checked even when the rest cannot be decoded). */
export function isFireAndForget(message: Buffer): boolean {
  return message.length >= HEADER_SIZE + 4 && readHeader(message).opCode === OP_MSG &&
    (message.readUInt32LE(HEADER_SIZE) & MSG_MORE_TO_COME) !== 0;
}

function decodeMsg(header: Header, message: Buffer): Request {
  const flags = message.readUInt32LE(HEADER_SIZE);
  if ((flags & 0xffff & ~MSG_KNOWN_REQUIRED_BITS) !== 0) {
    throw new WireProtocolError(
      `Message contains illegal flags value: 0b${flags.toString(2).padStart(32, '0')}`,
      ILLEGAL_OP_MSG_FLAG,
      true,
    );
  }
  let end = message.length;
  if (flags & MSG_CHECKSUM_PRESENT) {
    end -= 4;
    if (end < HEADER_SIZE + 4) throw new WireProtocolError('OP_MSG is too short for its checksum', CHECKSUM_MISMATCH, true);
    const expected = message.readUInt32LE(end);
    const actual = crc32c(message.subarray(0, end));
    if (expected !== actual) {
      throw new WireProtocolError('OP_MSG checksum does not match contents', CHECKSUM_MISMATCH, true);
    }
  }
  let offset = HEADER_SIZE + 4;
  let body: Document | undefined;
  const sequences: Array<[string, Document[]]> = [];
  while (offset < end) {
    const kind = message[offset];
    offset += 1;
    if (kind === 0) {
      if (body) throw new WireProtocolError('Multiple body sections in message', 40430);
      const size = checkedDocSize(message, offset, end);
      body = deserialize(message, offset, size);
      offset += size;
    } else if (kind === 1) {
      if (offset + 4 > end) throw new WireProtocolError('OP_MSG kind-1 section is truncated');
      const size = message.readInt32LE(offset);
      const sectionEnd = offset + size;
      if (size < 5 || sectionEnd > end) throw new WireProtocolError('OP_MSG kind-1 section overruns the message');
      let cursor = offset + 4;
      const nul = message.indexOf(0, cursor);
      if (nul < 0 || nul >= sectionEnd) throw new WireProtocolError('OP_MSG kind-1 identifier is not terminated');
      const identifier = message.toString('utf8', cursor, nul);
      cursor = nul + 1;
      const docs: Document[] = [];
      while (cursor < sectionEnd) {
        const docSize = checkedDocSize(message, cursor, sectionEnd);
        docs.push(deserialize(message, cursor, docSize));
        cursor += docSize;
      }
      if (sequences.some(([name]) => name === identifier)) {
        throw new WireProtocolError(`Duplicate document sequence: ${identifier}`, 40431);
      }
      sequences.push([identifier, docs]);
      offset = sectionEnd;
    } else {
      throw new WireProtocolError(`Unknown section kind ${kind}`, 40432);
    }
  }
  if (!body) throw new WireProtocolError('OP_MSG messages must have a body', 40587);
  for (const [identifier, docs] of sequences) {
    if (identifier in body) {
      throw new WireProtocolError(`Duplicate field between body and document sequence ${identifier}`, 40433);
    }
    body[identifier] = docs;
  }
  if (typeof body.$db !== 'string' || body.$db === '') {
    throw new WireProtocolError('OP_MSG requests require a $db argument', 40571);
  }
  const db = body.$db;
  return {
    header,
    opCode: OP_MSG,
    db,
    command: body,
    moreToCome: (flags & MSG_MORE_TO_COME) !== 0,
    exhaustAllowed: (flags & MSG_EXHAUST_ALLOWED) !== 0,
  };
}

function decodeQuery(header: Header, message: Buffer): Request {
  let offset = HEADER_SIZE + 4;
  const nul = message.indexOf(0, offset);
  if (nul < 0) throw new WireProtocolError('OP_QUERY namespace is not terminated');
  const namespace = message.toString('utf8', offset, nul);
  offset = nul + 1 + 8; // numberToSkip, numberToReturn
  const size = checkedDocSize(message, offset, message.length);
  let command = deserialize(message, offset, size);
  if (!namespace.endsWith('.$cmd')) {
    throw new WireProtocolError(`OP_QUERY is only supported for commands, not on '${namespace}'`);
  }
  // Legacy drivers wrap the command as { $query: cmd, $readPreference }.
  if (command.$query && typeof command.$query === 'object') command = command.$query as Document;
  return {
    header,
    opCode: OP_QUERY,
    db: namespace.slice(0, -'.$cmd'.length),
    command,
    moreToCome: false,
    exhaustAllowed: false,
  };
}

function checkedDocSize(buf: Buffer, offset: number, end: number): number {
  if (offset + 5 > end) throw new WireProtocolError('truncated BSON document', INVALID_BSON);
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > end) {
    throw new WireProtocolError(`BSONObj size: ${size} (0x${(size >>> 0).toString(16)}) is invalid`, INVALID_BSON);
  }
  return size;
}

function deserialize(buf: Buffer, offset: number, size: number): Document {
  try {
    // Every number keeps its BSON type (and a regex its flags), as mongod keeps them.
    return fromWire(BSON.deserialize(buf.subarray(offset, offset + size), { promoteValues: false, bsonRegExp: true }));
  } catch (err) {
    throw new WireProtocolError(`invalid BSON: ${(err as Error).message}`, INVALID_BSON);
  }
}

let nextRequestId = 1;

/** An OP_MSG reply with one kind-0 section. */
export function encodeMsg(responseTo: number, doc: Document, moreToCome = false): Buffer {
  const body = BSON.serialize(doc);
  const header = Buffer.alloc(HEADER_SIZE + 5);
  header.writeInt32LE(HEADER_SIZE + 5 + body.length, 0);
  header.writeInt32LE(nextRequestId++, 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(OP_MSG, 12);
  header.writeUInt32LE(moreToCome ? MSG_MORE_TO_COME : 0, 16);
  header[20] = 0;
  return Buffer.concat([header, body]);
}

/** An OP_REPLY, the answer to an OP_QUERY command. */
export function encodeReply(responseTo: number, doc: Document): Buffer {
  const body = BSON.serialize(doc);
  const header = Buffer.alloc(HEADER_SIZE + 20);
  header.writeInt32LE(header.length + body.length, 0);
  header.writeInt32LE(nextRequestId++, 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(OP_REPLY, 12);
  header.writeInt32LE(0, 16); // responseFlags
  header.writeBigInt64LE(0n, 20); // cursorID
  header.writeInt32LE(0, 28); // startingFrom
  header.writeInt32LE(1, 32); // numberReturned
  return Buffer.concat([header, body]);
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), the OP_MSG checksum. */
export function crc32c(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < buf.length; i++) crc = CRC32C_TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
