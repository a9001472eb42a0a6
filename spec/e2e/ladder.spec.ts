/**
 * The server ladder where mongodb-memory-server cannot download mongod: one
 * quiet attempt, then the failure is remembered, so the next spec run or demo
 * start goes straight to the wire test server without touching the network.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './demo-process';

interface Started {
  code: number | null;
  output: string;
  choice: { kind: string; reason: string };
}

/** Runs spec/fixtures/ladder-start.ts with the memory-server rung pointed at `downloadUrl`. */
function startLadder(downloadUrl: string, downloadDir: string): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name === 'MONGODB_URI' || name === 'RXMONGO_TEST_BACKEND' || name.startsWith('MONGOMS_')) delete env[name];
  }
  // A version no cache holds, fetched from a server that hangs up: the download fails at once.
  Object.assign(env, { MONGOMS_VERSION: '7.0.99', MONGOMS_DOWNLOAD_URL: downloadUrl, MONGOMS_DOWNLOAD_DIR: downloadDir });
  const child = spawn(process.execPath, ['--import', 'tsx', 'spec/fixtures/ladder-start.ts'], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return new Promise((resolve) => {
    child.once('close', (code) => {
      const last = output.trim().split('\n').pop() ?? '';
      let choice = { kind: '', reason: '' };
      try {
        choice = JSON.parse(last) as typeof choice;
      } catch {
        // Left empty: the assertions below print the output.
      }
      resolve({ code, output, choice });
    });
  });
}

describe('the server ladder without a mongod binary', () => {
  let server: Server;
  let connections = 0;
  const sockets = new Set<Socket>();
  let downloadUrl: string;
  let downloadDir: string;

  beforeAll(async () => {
    server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    server.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    downloadUrl = `https://127.0.0.1:${port}/mongodb-linux-x86_64-ubuntu2204-7.0.99.tgz`;
    downloadDir = mkdtempSync(join(tmpdir(), 'rxmongodb-ladder-'));
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(downloadDir, { recursive: true, force: true });
  });

  it('tries the download once, quietly, falls back to the wire server and exits on its own', async () => {
    const first = await startLadder(downloadUrl, downloadDir);
    expect(first.code).toBe(0);
    // One line of output: the ladder's choice. No stack trace, no memory-server warning.
    expect(first.output.trim().split('\n')).toHaveLength(1);
    expect(first.choice.kind).toBe('wire');
    expect(first.choice.reason).toMatch(/^mongodb-memory-server unavailable: cannot download mongod: /);
    expect(connections).toBe(1);
  }, 30_000);

  it('remembers the failure: the next start does not try again', async () => {
    const before = connections;
    const second = await startLadder(downloadUrl, downloadDir);
    expect(second.code).toBe(0);
    expect(second.output.trim().split('\n')).toHaveLength(1);
    expect(second.choice.kind).toBe('wire');
    expect(second.choice.reason).toMatch(/cannot download mongod: .* \(remembered for 10 more min\)/);
    expect(connections).toBe(before);
  }, 30_000);
});
