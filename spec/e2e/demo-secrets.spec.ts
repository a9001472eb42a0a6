/**
 * The demos print which deployment they use, never its password: `npm run
 * demo` run as a user runs it, with a MONGODB_URI carrying credentials.
 */
import { backend } from '../support/backend';
import { DemoProcess } from './demo-process';

const PASSWORD = 'pw-that-must-not-print';

/** The run's backend with `alice:<PASSWORD>` as its user info (any it had replaced). */
function uriWithPassword(): string {
  const uri = backend().uri;
  const authority = uri.indexOf('://') + 3;
  const hosts = uri.slice(authority).replace(/^[^/?]*@/, '');
  return `${uri.slice(0, authority)}alice:${PASSWORD}@${hosts}`;
}

describe('npm run demo with credentials in MONGODB_URI', () => {
  let demo: DemoProcess | undefined;

  afterEach(async () => {
    demo?.signal('SIGKILL');
    await demo?.exit;
  });

  it('prints the connection string with the password masked, and nowhere else', async () => {
    demo = new DemoProcess('demos/main.ts', ['--port', '0'], { MONGODB_URI: uriWithPassword(), RXMONGO_TEST_BACKEND: 'uri' });
    const [, printed] = await demo.waitFor(/^mongodb: (\S+)$/m, 60_000);
    expect(printed).toMatch(/^mongodb:\/\/alice:\*\*\*\*@/);
    // Let it try the deployment with those credentials for a moment, then stop it as Ctrl-C does.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    demo.signal('SIGINT');
    await demo.exit;
    expect(demo.output).not.toContain(PASSWORD);
  }, 90_000);
});
