/**
 * One client connection: splits the byte stream into messages, answers them
 * in order, and keeps streaming `hello` replies on an exhaust monitor
 * connection. As in mongod, a message that cannot be decoded gets an error
 * reply, while a frame whose length cannot be trusted, illegal OP_MSG flag
 * bits or a checksum mismatch close the connection. Unlike mongod, an unknown
 * opCode is answered with a ProtocolError instead of silence, so a client is
 * never left waiting.
 */
import type { Socket } from 'node:net';
import type { ScramConversation } from './auth/scram';
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
  isFireAndForget,
  readHeader,
  type Request,
} from './wire';

export class Connection {
  /** The driver's `appName`, from the handshake; `failCommand` can target it. */
  appName?: string;
  /** The authenticated user (`name@db`), once SCRAM authentication succeeded. */
  user?: string;
  /** A SCRAM conversation between saslStart and saslContinue. */
  sasl?: { conversation: ScramConversation; user: string; db: string };
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
      if (this.pending[0].length < 4) this.pending = [Buffer.concat(this.pending)];
      const length = this.pending[0].readInt32LE(0);
      if (length < HEADER_SIZE + 4 || length > MAX_MESSAGE_SIZE) {
        // The frame boundary is lost: nothing after this can be trusted.
        this.destroy();
        return;
      }
      // Join the chunks only once the whole message is here: a large message
      // arrives in many chunks, and joining on each would copy it over and over.
      if (this.pendingBytes < length) return;
      const head = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
      const message = head.subarray(0, length);
      const rest = head.subarray(length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      // A handler that throws closes the connection instead of leaving a rejected queue that answers nothing more.
      this.queue = this.queue.then(() => this.handle(message)).catch(() => this.destroy());
    }
  }

  private async handle(message: Buffer): Promise<void> {
    if (this.closed) return;
    let request: Request;
    try {
      request = decodeRequest(message);
    } catch (err) {
      const error = err instanceof WireProtocolError ? err : new WireProtocolError(String((err as Error).message));
      if (error.fatal) {
        this.destroy();
        return;
      }
      const header = readHeader(message);
      if (!isFireAndForget(message)) this.send(header, errorReply(error.code, error.message), false, header.opCode === OP_QUERY);
      return;
    }
    let reply: Document | undefined;
    try {
      reply = await dispatch(this, request);
    } catch (err) {
      reply = errorReply(1, `internal error: ${(err as Error).stack ?? err}`);
    }
    if (reply === undefined || request.moreToCome || this.closed) return;
    const streaming = request.exhaustAllowed && reply.ok === 1 && isAwaitableHello(request.command);
    const sentId = this.send(request.header, reply, streaming, request.opCode === OP_QUERY);
    if (streaming) await this.streamHello(request, reply, sentId);
  }

  /**
   * Keeps answering an awaitable hello until the connection closes; each
   * reply waits for a topologyVersion newer than the one last sent and
   * answers the previous reply, as mongod's exhaust stream does. An error
   * reply ends the stream (sent without moreToCome, so the monitor asks again).
   */
  private async streamHello(request: Request, last: Document, lastId: number): Promise<void> {
    while (!this.closed && this.member.responding) {
      const next = { ...request, command: { ...request.command, topologyVersion: last.topologyVersion } };
      const reply = await dispatch(this, next);
      if (reply === undefined || this.closed) return;
      const more = reply.ok === 1;
      lastId = this.send({ requestId: lastId }, reply, more);
      if (!more) return;
      last = reply;
    }
  }

  /** Writes a reply; returns its requestId. */
  private send(header: { requestId: number }, reply: Document, moreToCome: boolean, legacy = false): number {
    if (this.closed) return 0;
    const message = legacy ? encodeReply(header.requestId, reply) : encodeMsg(header.requestId, reply, moreToCome);
    this.socket.write(message);
    return message.readInt32LE(4);
  }
}

function isAwaitableHello(command: Document): boolean {
  const name = Object.keys(command)[0];
  return (name === 'hello' || name === 'isMaster' || name === 'ismaster') && command.topologyVersion !== undefined &&
    command.maxAwaitTimeMS !== undefined;
}
