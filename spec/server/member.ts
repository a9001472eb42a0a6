/**
 * One member of a test replica set: a TCP listener on 127.0.0.1, its own
 * connections, cursors and fail points, and the set's shared store.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Long, ObjectId, type Document } from 'bson';
import type { ReplicaSet } from './cluster';
import { Connection } from './connection';
import { CursorRegistry } from './cursors';
import { FailPoints } from './fail-points';
import { OperationRegistry } from './operations';
import { ServerParameters } from './parameters';

export type Role = 'primary' | 'secondary' | 'arbiter' | 'mongos';

export class Member {
  role: Role;
  responding = true;
  /** Identifies this process in topologyVersion; a restart would change it. */
  readonly processId = new ObjectId();
  topologyVersionCounter = 0n;
  readonly cursors = new CursorRegistry();
  readonly failPoints = new FailPoints();
  readonly operations = new OperationRegistry();
  /** `replSetFreeze` (or a stepdown) keeps this member from being elected until then (epoch ms). */
  frozenUntil = 0;
  /** Server parameters (`getParameter`, `setParameter`). */
  readonly parameters = new ServerParameters();
  readonly connections = new Set<Connection>();
  private server?: Server;
  private port = 0;
  private nextConnectionId = 1;

  constructor(
    readonly rs: ReplicaSet,
    role: Role,
  ) {
    this.role = role;
  }

  get address(): string {
    return `${this.rs.host}:${this.port}`;
  }

  get topologyVersion(): Document {
    return { processId: this.processId, counter: Long.fromBigInt(this.topologyVersionCounter) };
  }

  async listen(port: number): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.rs.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  /** Stops or resumes answering: stopping refuses new connections and drops open ones. */
  async setResponding(responding: boolean): Promise<void> {
    if (responding === this.responding) return;
    this.responding = responding;
    if (responding) await this.listen(this.port);
    else await this.closeListener();
  }

  async stop(): Promise<void> {
    this.responding = false;
    await this.closeListener();
    this.cursors.closeAll();
  }

  private accept(socket: Socket): void {
    const connection = new Connection(this, socket, this.nextConnectionId++);
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
  }

  private async closeListener(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
