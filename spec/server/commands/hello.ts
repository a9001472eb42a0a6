/**
 * `hello` (and the legacy `isMaster`): the handshake, and the awaitable form
 * that streaming monitors park on until the topology changes.
 */
import { Long, type Document } from 'bson';
import { CommandError } from '../errors';
import type { Member } from '../member';
import { MAX_WIRE_VERSION } from '../version';
import type { CommandContext, CommandSpec } from './types';

const TERM = 1;

function hello(ctx: CommandContext, cmd: Document, legacy: boolean): Promise<Document> | Document {
  const client = cmd.client as Document | undefined;
  if (client !== undefined) {
    // mongod refuses a handshake whose metadata lacks the driver's identity.
    if (typeof client.driver !== 'object' || client.driver === null) {
      throw new CommandError('ClientMetadataMissingField', "Missing required sub-document 'driver' in the client metadata document");
    }
    const application = client.application as Document | undefined;
    if (typeof application?.name === 'string') ctx.connection.appName = application.name;
  }
  const known = cmd.topologyVersion as Document | undefined;
  if ((known === undefined) !== (cmd.maxAwaitTimeMS === undefined)) {
    throw new CommandError(
      'Location31368',
      known ? "A request with a 'topologyVersion' must include 'maxAwaitTimeMS'" : "A request with 'maxAwaitTimeMS' must include a 'topologyVersion'",
    );
  }
  if (known === undefined) return withMechanisms(ctx, cmd, describe(ctx, legacy));
  const maxAwaitTimeMS = Number(cmd.maxAwaitTimeMS);
  if (!Number.isInteger(maxAwaitTimeMS) || maxAwaitTimeMS < 0) {
    throw new CommandError('Location31373', 'maxAwaitTimeMS must be a non-negative integer');
  }
  if (typeof known !== 'object' || known === null || known.processId === undefined || known.counter === undefined) {
    throw new CommandError('TypeMismatch', "BSON field 'topologyVersion' must hold 'processId' and 'counter'");
  }
  if (sameProcess(ctx.member, known) && BigInt(String(known.counter)) > ctx.member.topologyVersionCounter) {
    throw new CommandError(
      'Location31382',
      'Received a topology version with the same process ID and a higher counter than the server',
    );
  }
  if (isCurrent(ctx.member, known)) {
    return waitForTopologyChange(ctx, maxAwaitTimeMS).then(() => describe(ctx, legacy));
  }
  return describe(ctx, legacy);
}

/** `saslSupportedMechs: 'db.user'`: the mechanisms that user may authenticate with, so the driver picks one. */
function withMechanisms(ctx: CommandContext, cmd: Document, reply: Document): Document {
  const name = cmd.saslSupportedMechs;
  if (typeof name !== 'string') return reply;
  const dot = name.indexOf('.');
  const record = dot > 0 ? ctx.rs.users.find(name.slice(dot + 1), name.slice(0, dot)) : undefined;
  if (record) reply.saslSupportedMechs = record.mechanisms;
  return reply;
}

function sameProcess(member: Member, known: Document): boolean {
  const processId = known.processId as { equals?(o: unknown): boolean } | undefined;
  return Boolean(processId?.equals?.(member.processId));
}

function isCurrent(member: Member, known: Document): boolean {
  return sameProcess(member, known) && BigInt(String(known.counter)) === member.topologyVersionCounter;
}

/** Resolves on the next topology change, after `ms`, or when the connection closes. */
function waitForTopologyChange(ctx: CommandContext, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      ctx.rs.off('topologyChanged', done);
      ctx.connection.socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    ctx.rs.on('topologyChanged', done);
    ctx.connection.socket.on('close', done);
  });
}

function describe(ctx: CommandContext, legacy: boolean): Document {
  const { member, rs } = ctx;
  const writable = member.role === 'primary' || member.role === 'mongos';
  const reply: Document = {
    helloOk: true,
    [legacy ? 'ismaster' : 'isWritablePrimary']: writable,
    topologyVersion: member.topologyVersion,
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connection.id,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
  };
  if (member.role === 'mongos') return { ...reply, msg: 'isdbgrid' };
  Object.assign(reply, rs.describe(), {
    secondary: member.role === 'secondary',
    me: member.address,
  });
  if (member.role === 'arbiter') reply.arbiterOnly = true;
  if (member.role === 'primary') reply.electionId = rs.electionId;
  const opTime = { ts: rs.store.clusterTime, t: Long.fromNumber(TERM) };
  const date = new Date();
  reply.lastWrite = { opTime, lastWriteDate: date, majorityOpTime: opTime, majorityWriteDate: date };
  return reply;
}

export const HELLO_COMMANDS: CommandSpec[] = [
  { name: 'hello', auth: 'none', anyRole: true, opQuery: true, run: (ctx, cmd) => hello(ctx, cmd, false) },
  { name: 'isMaster', auth: 'none', aliases: ['ismaster'], anyRole: true, opQuery: true, run: (ctx, cmd) => hello(ctx, cmd, true) },
];
