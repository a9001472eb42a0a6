/**
 * The wire test server as its own process (`npm run test-server`): the
 * connection string on the first stdout line, a set the stock driver
 * discovers whole, usage errors with exit code 2, a clean exit on SIGTERM,
 * authentication on with `--user`.
 * Only meaningful for the wire backend's own server, hence the gate.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { MongoClient, type TopologyDescription } from 'mongodb';
import { describeWith } from '../support/backend';

/**
 * What `npm run test-server` runs (`tsx spec/server/cli.ts`), as one node
 * process with tsx's loader: npx and npm do not pass SIGTERM on to the
 * server, so signalling them would say nothing about the server's shutdown.
 */
function run(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'spec/server/cli.ts', ...args], { cwd: process.cwd(), stdio: 'pipe' });
}

async function exitOf(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stdout += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr, stdout };
}

/** The first two stdout lines of a starting server. */
async function firstLines(child: ChildProcessWithoutNullStreams): Promise<[string, string]> {
  const lines = createInterface({ input: child.stdout });
  const got: string[] = [];
  for await (const line of lines) {
    got.push(line);
    if (got.length === 2) break;
  }
  return [got[0], got[1]];
}

describeWith(['topologyControl'], 'npm run test-server (spec/server/cli.ts)', () => {
  jest.setTimeout(60_000);

  it('prints a connection string the driver discovers as a 3-member ReplicaSetWithPrimary, and exits 0 on SIGTERM', async () => {
    const child = run(['--members', '3', '--port', '0']);
    const exited = exitOf(child);
    try {
      const [uri, human] = await firstLines(child);
      expect(uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/\?replicaSet=rs0$/);
      expect(human).toContain('test double');

      const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
      const complete = new Promise<TopologyDescription>((resolve) =>
        client.on('topologyDescriptionChanged', ({ newDescription: d }) => {
          const types = [...d.servers.values()].map((s) => s.type);
          if (d.type === 'ReplicaSetWithPrimary' && types.every((t) => t !== 'Unknown')) resolve(d);
        }),
      );
      try {
        await client.connect();
        const description = await complete;
        expect(description.servers.size).toBe(3);
        expect([...description.servers.values()].map((s) => s.type).sort()).toEqual(['RSPrimary', 'RSSecondary', 'RSSecondary']);
        await client.db('cli').collection('c').insertOne({ ok: true });
        expect(await client.db('cli').collection('c').countDocuments()).toBe(1);
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    const { code, stderr } = await exited;
    expect(stderr).toContain('SIGTERM');
    expect(code).toBe(0);
  });

  it('starts an arbiter and mongos routers on request', async () => {
    for (const [flags, expected] of [
      [['--members', '2', '--arbiter'], /^mongodb:\/\/[^,]+,[^,/]+\/\?replicaSet=rs0$/],
      [['--members', '2', '--mongos'], /^mongodb:\/\/[^,]+,[^,/]+\/$/],
    ] as const) {
      const child = run([...flags, '--port', '0']);
      const exited = exitOf(child);
      try {
        const [uri] = await firstLines(child);
        expect(uri).toMatch(expected);
      } finally {
        child.kill('SIGTERM');
      }
      expect((await exited).code).toBe(0);
    }
  });

  it.each([
    [['--bogus']],
    [['--members', 'three']],
    [['--members', '0']],
    [['--port', '70000']],
    [['--history-size', '-5']],
    [['--user', 'nopassword']],
    [['positional']],
  ])('refuses %j with a usage message and exit code 2', async (args) => {
    const { code, stderr, stdout } = await exitOf(run([...args]));
    expect(code).toBe(2);
    expect(stderr).toContain('Usage:');
    expect(stdout).toBe('');
  });

  it('--user starts the set with authentication on and that user as root', async () => {
    const child = run(['--members', '1', '--port', '0', '--user', 'admin:s3cret']);
    const exited = exitOf(child);
    try {
      const [uri, human] = await firstLines(child);
      expect(human).toContain('authentication required');
      const anonymous = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
      const admin = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, auth: { username: 'admin', password: 's3cret' } });
      try {
        const refused = await anonymous.db('cli').collection('c').findOne({}).catch((e: unknown) => e);
        expect(refused).toMatchObject({ code: 13 });
        await admin.db('cli').collection('c').insertOne({ ok: true });
        expect(await admin.db('cli').collection('c').countDocuments()).toBe(1);
      } finally {
        await anonymous.close();
        await admin.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect((await exited).code).toBe(0);
  });

  it('prints the usage for --help and exits 0', async () => {
    const { code, stdout } = await exitOf(run(['--help']));
    expect(code).toBe(0);
    expect(stdout).toContain('--members');
    expect(stdout).toContain('--history-size');
    expect(stdout).toContain('--auth');
  });
});
