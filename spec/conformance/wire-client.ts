/**
 * A raw MongoDB wire-protocol client over one TCP socket, for specs that must
 * send exactly the bytes they mean (legacy handshakes, flag bits, malformed
 * frames) — what the driver never would.
 */
import { connect, type Socket } from 'node:net';
import { BSON, type Document } from 'bson';
import { crc32c } from '../server/wire';

export const OP_REPLY = 1;
const OP_QUERY = 2004;
export const OP_MSG = 2013;
export const CHECKSUM_PRESENT = 1;
export const MORE_TO_COME = 2;
export const EXHAUST_ALLOWED = 1 << 16;

export interface Reply {
  requestId: number;
  responseTo: number;
  opCode: number;
  flags: number;
  doc: Document;
}

/** One section of an OP_MSG: a body document, or a kind-1 document sequence. */
export type Section = { kind: 0; doc: Document } | { kind: 1; id: string; docs: Document[] };

let nextId = 1000;

function header(length: number, requestId: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(requestId, 4);
  h.writeInt32LE(0, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

/** Encodes sections as OP_MSG section bytes. */
export function sectionBytes(sections: Section[]): Buffer {
  return Buffer.concat(
    sections.map((s) => {
      if (s.kind === 0) return Buffer.concat([Buffer.from([0]), BSON.serialize(s.doc)]);
      const docs = Buffer.concat(s.docs.map((d) => BSON.serialize(d)));
      const id = Buffer.from(`${s.id}\0`, 'utf8');
      const size = Buffer.alloc(4);
      size.writeInt32LE(4 + id.length + docs.length);
      return Buffer.concat([Buffer.from([1]), size, id, docs]);
    }),
  );
}

/** A whole OP_MSG with the given flags and raw section bytes; `checksum` appends a CRC-32C (or a wrong one). */
export function opMsg(
  body: Buffer,
  options: { flags?: number; checksum?: 'good' | 'bad'; requestId?: number } = {},
): { bytes: Buffer; requestId: number } {
  const requestId = options.requestId ?? nextId++;
  const flags = (options.flags ?? 0) | (options.checksum ? CHECKSUM_PRESENT : 0);
  const flagBytes = Buffer.alloc(4);
  flagBytes.writeUInt32LE(flags >>> 0);
  const length = 16 + 4 + body.length + (options.checksum ? 4 : 0);
  let bytes = Buffer.concat([header(length, requestId, OP_MSG), flagBytes, body]);
  if (options.checksum) {
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(options.checksum === 'good' ? crc32c(bytes) : (crc32c(bytes) ^ 0xffff) >>> 0);
    bytes = Buffer.concat([bytes, crc]);
  }
  return { bytes, requestId };
}

/** A legacy OP_QUERY command on `<db>.$cmd`. */
export function opQuery(db: string, command: Document): { bytes: Buffer; requestId: number } {
  const requestId = nextId++;
  const ns = Buffer.from(`${db}.$cmd\0`, 'utf8');
  const flags = Buffer.alloc(4);
  const skipAndReturn = Buffer.alloc(8);
  skipAndReturn.writeInt32LE(-1, 4); // numberToReturn: one document, as drivers send for commands
  const body = Buffer.concat([flags, ns, skipAndReturn, BSON.serialize(command)]);
  return { bytes: Buffer.concat([header(16 + body.length, requestId, OP_QUERY), body]), requestId };
}

/** An arbitrary frame: a header with any opCode over any payload. */
export function rawFrame(opCode: number, payload: Buffer): { bytes: Buffer; requestId: number } {
  const requestId = nextId++;
  return { bytes: Buffer.concat([header(16 + payload.length, requestId, opCode), payload]), requestId };
}

export class WireClient {
  private buffer = Buffer.alloc(0);
  private readonly replies: Reply[] = [];
  private waiters: Array<() => void> = [];
  private ended = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 4 && this.buffer.length >= this.buffer.readInt32LE(0)) {
        const length = this.buffer.readInt32LE(0);
        this.replies.push(parseReply(this.buffer.subarray(0, length)));
        this.buffer = this.buffer.subarray(length);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to `host:port`. */
  static open(address: string): Promise<WireClient> {
    const [host, port] = splitAddress(address);
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off('error', reject);
        resolve(new WireClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  send(message: { bytes: Buffer } | Buffer): void {
    this.socket.write(Buffer.isBuffer(message) ? message : message.bytes);
  }

  /** Sends an OP_MSG command (adding `$db`) and returns its reply. */
  async command(db: string, command: Document, flags = 0): Promise<Reply> {
    const message = opMsg(sectionBytes([{ kind: 0, doc: { ...command, $db: db } }]), { flags });
    this.send(message);
    return this.next();
  }

  /** The next reply; rejects if the server closes the connection or `ms` pass first. */
  async next(ms = 5_000): Promise<Reply> {
    const deadline = Date.now() + ms;
    while (this.replies.length === 0) {
      if (this.ended) throw new Error('connection closed by the server');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${ms} ms`);
      await this.wait(left);
    }
    return this.replies.shift()!;
  }

  /** Resolves true when the server closes the connection, false if `ms` pass first. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.wait(left);
    }
    return true;
  }

  close(): void {
    this.socket.destroy();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiter = done;
      this.waiters.push(waiter);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

function parseReply(message: Buffer): Reply {
  const requestId = message.readInt32LE(4);
  const responseTo = message.readInt32LE(8);
  const opCode = message.readInt32LE(12);
  if (opCode === OP_REPLY) {
    const flags = message.readInt32LE(16);
    return { requestId, responseTo, opCode, flags, doc: BSON.deserialize(message.subarray(36)) };
  }
  const flags = message.readUInt32LE(16);
  if (message[20] !== 0) throw new Error(`reply starts with section kind ${message[20]}`);
  const size = message.readInt32LE(21);
  return { requestId, responseTo, opCode, flags, doc: BSON.deserialize(message.subarray(21, 21 + size)) };
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}
