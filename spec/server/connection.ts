/**
 * One client connection: splits the byte stream into messages, answers them
 * in order, and keeps streaming `hello` replies on an exhaust monitor
 * connection. A message that cannot be decoded gets an error reply; only a
 * frame whose length cannot be trusted closes the connection, as mongod does.
 */
import type { Socket } from 'node:net';
import type { Document } from 'bson';
import { dispatch } from './dispatch';
import { errorReply } from './errors';
import type { Member } from './member';
import {
  HEADER_SIZE,
  MAX_MESSAGE_SIZE,
  OP_QUERY,
  WireProtocolError,
  decodeRequest,
  encodeMsg,
  encodeReply,
  readHeader,
  type Request,
} from './wire';

const PROTOCOL_ERROR = 17;

export class Connection {
  /** The driver's `appName`, from the handshake; `failCommand` can target it. */
  appName?: string;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly member: Member,
    readonly socket: Socket,
    readonly id: number,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.receive(chunk));
    socket.on('error', () => this.destroy());
    socket.on('close', () => {
      this.closed = true;
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= 4) {
      const head = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
      this.pending = [head];
      const length = head.readInt32LE(0);
      if (length < HEADER_SIZE + 4 || length > MAX_MESSAGE_SIZE) {
        // The frame boundary is lost: nothing after this can be trusted.
        this.destroy();
        return;
      }
      if (this.pendingBytes < length) return;
      const message = head.subarray(0, length);
      const rest = head.subarray(length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      this.queue = this.queue.then(() => this.handle(message));
    }
  }

  private async handle(message: Buffer): Promise<void> {
    if (this.closed) return;
    let request: Request;
    try {
      request = decodeRequest(message);
    } catch (err) {
      const text = err instanceof WireProtocolError ? err.message : `invalid BSON: ${(err as Error).message}`;
      const code = err instanceof WireProtocolError ? PROTOCOL_ERROR : 22;
      this.send(readHeader(message), errorReply(code, text), false);
      return;
    }
    let reply: Document | undefined;
    try {
      reply = await dispatch(this, request);
    } catch (err) {
      reply = errorReply(1, `internal error: ${(err as Error).stack ?? err}`);
    }
    if (reply === undefined || request.moreToCome || this.closed) return;
    const streaming = request.exhaustAllowed && isAwaitableHello(request.command);
    this.send(request.header, reply, streaming, request.opCode === OP_QUERY);
    if (streaming) await this.streamHello(request, reply);
  }

  /**
   * Keeps answering an awaitable hello until the connection closes; each
   * reply waits for a topologyVersion newer than the one last sent.
   */
  private async streamHello(request: Request, last: Document): Promise<void> {
    while (!this.closed && this.member.responding && last.ok === 1) {
      const next = { ...request, command: { ...request.command, topologyVersion: last.topologyVersion } };
      const reply = await dispatch(this, next);
      if (reply === undefined || this.closed) return;
      this.send(request.header, reply, true);
      last = reply;
    }
  }

  private send(header: { requestId: number }, reply: Document, moreToCome: boolean, legacy = false): void {
    if (this.closed) return;
    this.socket.write(legacy ? encodeReply(header.requestId, reply) : encodeMsg(header.requestId, reply, moreToCome));
  }
}

function isAwaitableHello(command: Document): boolean {
  const name = Object.keys(command)[0];
  return (name === 'hello' || name === 'isMaster' || name === 'ismaster') && command.topologyVersion !== undefined &&
    command.maxAwaitTimeMS !== undefined;
}
