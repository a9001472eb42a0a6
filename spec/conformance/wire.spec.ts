/**
 * The wire protocol byte by byte, over raw sockets: the legacy OP_QUERY
 * handshake answered with OP_REPLY, OP_MSG kind-1 document sequences, the
 * checksum flag, moreToCome (fire-and-forget) requests, and malformed
 * messages. The first block holds on a real mongod (plain TCP, no auth);
 * the second covers answers particular to the wire test server.
 */
import { MongoClient } from 'mongodb';
import { ReplicaSet } from '../server';
import { describeWith, driverClient, uniqueDbName } from '../support/backend';
import {
  CHECKSUM_PRESENT,
  MORE_TO_COME,
  OP_MSG,
  OP_REPLY,
  WireClient,
  opMsg,
  opQuery,
  rawFrame,
  sectionBytes,
} from './wire-client';

/** A command as OP_MSG section bytes, with `$db`. */
const body = (db: string, command: Record<string, unknown>) => sectionBytes([{ kind: 0, doc: { ...command, $db: db } }]);

function behavesLikeMongod(primaryAddress: () => string): void {
  let wire: WireClient;

  beforeEach(async () => {
    wire = await WireClient.open(primaryAddress());
  });

  afterEach(() => wire.close());

  it('answers a legacy OP_QUERY hello with an OP_REPLY', async () => {
    const query = opQuery('admin', { isMaster: 1, helloOk: true, client: {
      application: { name: 'wire-spec' },
      driver: { name: 'rxmongo-wire-spec', version: '0' },
      os: { type: 'Linux' },
    } });
    wire.send(query);
    const reply = await wire.next();
    expect(reply.opCode).toBe(OP_REPLY);
    expect(reply.responseTo).toBe(query.requestId);
    expect(reply.doc.ok).toBe(1);
    expect(reply.doc.ismaster).toBe(true);
    expect(reply.doc.maxWireVersion).toBeGreaterThanOrEqual(17);
  });

  it('refuses a handshake whose client metadata names no driver, as mongod does', async () => {
    wire.send(opQuery('admin', { isMaster: 1, helloOk: true, client: { application: { name: 'wire-spec' } } }));
    const reply = await wire.next();
    expect(reply.doc.ok).toBe(0);
    expect(reply.doc.errmsg).toMatch(/Missing required sub-document 'driver'/);
  });

  it('refuses commands other than the handshake over OP_QUERY', async () => {
    wire.send(opQuery('admin', { ping: 1 }));
    const reply = await wire.next();
    expect(reply.opCode).toBe(OP_REPLY);
    expect(reply.doc).toMatchObject({ ok: 0, code: 352, codeName: 'UnsupportedOpQueryCommand' });
  });

  it('answers OP_MSG with OP_MSG, responseTo set to the request', async () => {
    const message = opMsg(body('admin', { ping: 1 }));
    wire.send(message);
    const reply = await wire.next();
    expect(reply).toMatchObject({ opCode: OP_MSG, responseTo: message.requestId, flags: 0 });
    expect(reply.doc.ok).toBe(1);
  });

  it('folds kind-1 document sequences into the command', async () => {
    const db = uniqueDbName('wire');
    const docs = [{ _id: 1, a: 'x' }, { _id: 2, a: 'y' }, { _id: 3, a: 'z' }];
    wire.send(opMsg(sectionBytes([
      { kind: 0, doc: { insert: 'seq', $db: db } },
      { kind: 1, id: 'documents', docs },
    ])));
    expect((await wire.next()).doc).toMatchObject({ ok: 1, n: 3 });
    const found = await wire.command(db, { find: 'seq', filter: {}, sort: { _id: 1 } });
    expect(found.doc.cursor.firstBatch).toEqual(docs);
    await wire.command(db, { dropDatabase: 1 });
  });

  it('checks a correct checksum and answers', async () => {
    wire.send(opMsg(body('admin', { ping: 1 }), { checksum: 'good' }));
    const reply = await wire.next();
    expect(reply.doc.ok).toBe(1);
  });

  it('closes the connection on a checksum mismatch', async () => {
    wire.send(opMsg(body('admin', { ping: 1 }), { checksum: 'bad' }));
    expect(await wire.closedWithin(5_000)).toBe(true);
  });

  it('closes the connection on an unknown required flag bit', async () => {
    wire.send(opMsg(body('admin', { ping: 1 }), { flags: 1 << 4 }));
    expect(await wire.closedWithin(5_000)).toBe(true);
  });

  it('sends nothing back for a moreToCome (w: 0) write, and performs it', async () => {
    const db = uniqueDbName('wire');
    wire.send(opMsg(body(db, { insert: 'w0', documents: [{ _id: 'fire-and-forget' }], writeConcern: { w: 0 } }), {
      flags: MORE_TO_COME,
    }));
    const ping = opMsg(body('admin', { ping: 1 }));
    wire.send(ping);
    // Replies come in order, so the first one answering the ping proves the write got none.
    const reply = await wire.next();
    expect(reply.responseTo).toBe(ping.requestId);
    const found = await wire.command(db, { find: 'w0', filter: {} });
    expect(found.doc.cursor.firstBatch).toEqual([{ _id: 'fire-and-forget' }]);
    await wire.command(db, { dropDatabase: 1 });
  });

  it('answers an unknown command with CommandNotFound and keeps the connection', async () => {
    const reply = await wire.command('admin', { noSuchCommand: 1 });
    expect(reply.doc).toMatchObject({ ok: 0, code: 59, codeName: 'CommandNotFound' });
    expect(reply.doc.errmsg).toContain('noSuchCommand');
    expect((await wire.command('admin', { ping: 1 })).doc.ok).toBe(1);
  });

  it('answers an argument of the wrong type with TypeMismatch', async () => {
    const reply = await wire.command('admin', { getMore: 'not-a-cursor-id', collection: 'c' });
    expect(reply.doc).toMatchObject({ ok: 0, code: 14, codeName: 'TypeMismatch' });
  });

  it('answers an admin-only command on another database with Unauthorized', async () => {
    const reply = await wire.command('test', { configureFailPoint: 'failCommand', mode: 'off' });
    expect(reply.doc).toMatchObject({ ok: 0, code: 13, codeName: 'Unauthorized' });
  });

  it.each([
    ['an unknown section kind', Buffer.concat([body('admin', { ping: 1 }), Buffer.from([7, 0, 0, 0, 0])]), 40432],
    ['no body section', sectionBytes([{ kind: 1, id: 'documents', docs: [{ a: 1 }] }]), 40587],
    ['two body sections', Buffer.concat([body('admin', { ping: 1 }), body('admin', { ping: 1 })]), 40430],
    [
      'a field given in the body and as a sequence',
      sectionBytes([{ kind: 0, doc: { insert: 'c', documents: [], $db: 'test' } }, { kind: 1, id: 'documents', docs: [{}] }]),
      40433,
    ],
    ['no $db', sectionBytes([{ kind: 0, doc: { ping: 1 } }]), 40571],
  ])('answers a message with %s with an error and keeps the connection', async (_what, sections, code) => {
    const message = opMsg(sections);
    wire.send(message);
    const reply = await wire.next();
    expect(reply.responseTo).toBe(message.requestId);
    expect(reply.doc).toMatchObject({ ok: 0, code });
    expect(typeof reply.doc.errmsg).toBe('string');
    expect((await wire.command('admin', { ping: 1 })).doc.ok).toBe(1);
  });

  it('answers a body whose BSON overruns the message with an error', async () => {
    const good = body('admin', { ping: 1 });
    const bad = Buffer.from(good);
    bad.writeInt32LE(good.length + 100, 1); // the document claims more bytes than the message holds
    wire.send(opMsg(bad));
    const reply = await wire.next();
    expect(reply.doc.ok).toBe(0);
    expect(typeof reply.doc.code).toBe('number');
    expect((await wire.command('admin', { ping: 1 })).doc.ok).toBe(1);
  });

  it.each([
    ['negative', -1],
    ['shorter than a header', 8],
    ['beyond maxMessageSizeBytes', 64 * 1024 * 1024],
  ])('closes the connection on a %s message length', async (_what, length) => {
    const frame = Buffer.alloc(16);
    frame.writeInt32LE(length, 0);
    frame.writeInt32LE(1, 4);
    frame.writeInt32LE(OP_MSG, 12);
    wire.send(frame);
    expect(await wire.closedWithin(5_000)).toBe(true);
  });
}

describe('the wire protocol on the run backend', () => {
  let primary = '';
  let client: MongoClient;

  beforeAll(async () => {
    client = driverClient();
    const hello = await client.db('admin').command({ hello: 1 });
    primary = hello.primary ?? hello.me;
  });

  afterAll(async () => {
    await client.close();
  });

  behavesLikeMongod(() => primary);
});

describeWith(['topologyControl'], 'the wire test server beyond mongod', () => {
  let rs: ReplicaSet;
  let wire: WireClient;

  beforeAll(async () => {
    rs = await ReplicaSet.start({ members: 1 });
  });

  afterAll(async () => {
    await rs.close();
  });

  beforeEach(async () => {
    wire = await WireClient.open(rs.primary!.address);
  });

  afterEach(() => wire.close());

  it('answers an unknown opCode with a ProtocolError instead of leaving the client waiting', async () => {
    const frame = rawFrame(2002, Buffer.alloc(8));
    wire.send(frame);
    const reply = await wire.next();
    expect(reply.responseTo).toBe(frame.requestId);
    expect(reply.doc).toMatchObject({ ok: 0, code: 17, codeName: 'ProtocolError' });
    expect((await wire.command('admin', { ping: 1 })).doc.ok).toBe(1);
  });

  it('answers a checksummed message it cannot decode only by closing, never with a reply', async () => {
    wire.send(opMsg(body('admin', { ping: 1 }), { checksum: 'bad' }));
    await expect(wire.next(2_000)).rejects.toThrow('connection closed by the server');
  });

  it('survives a message split across many TCP writes and two messages in one write', async () => {
    const a = opMsg(body('admin', { ping: 1 }));
    const b = opMsg(body('admin', { ping: 1 }), { checksum: 'good' });
    for (let i = 0; i < a.bytes.length; i += 3) wire.send(a.bytes.subarray(i, i + 3));
    wire.send(Buffer.concat([b.bytes, opMsg(body('admin', { ping: 1 })).bytes]));
    const replies = [await wire.next(), await wire.next(), await wire.next()];
    expect(replies.map((r) => r.doc.ok)).toEqual([1, 1, 1]);
    expect(replies[0].responseTo).toBe(a.requestId);
    expect(replies[1].responseTo).toBe(b.requestId);
  });

  it('sends nothing for a malformed moreToCome message and keeps the connection', async () => {
    wire.send(opMsg(Buffer.from([9, 9, 9]), { flags: MORE_TO_COME }));
    const ping = opMsg(body('admin', { ping: 1 }));
    wire.send(ping);
    expect((await wire.next()).responseTo).toBe(ping.requestId);
  });

  it('keeps serving other clients after abusive ones', async () => {
    const abusers = await Promise.all([1, 2, 3].map(() => WireClient.open(rs.primary!.address)));
    abusers[0].send(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    abusers[1].send(opMsg(body('admin', { ping: 1 }), { flags: CHECKSUM_PRESENT | (1 << 5) }));
    abusers[2].send(rawFrame(OP_MSG, Buffer.from([0, 0, 0, 0, 0, 5, 0, 0, 0])));
    for (const a of abusers) a.close();
    expect((await wire.command('admin', { ping: 1 })).doc.ok).toBe(1);
  });
});
