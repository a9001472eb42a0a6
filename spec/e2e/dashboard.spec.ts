/**
 * End to end: `npm run demo` as its own process, its dashboard in headless
 * Chromium (Debian's `chromium`, driven by playwright-core). The page must
 * show the topology and the live events, share one server cursor between
 * tabs, filter, and live through a step-down of the primary with no gap in
 * the feed. Leaves a screenshot in .tmp/e2e/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { backend } from '../support/backend';
import { DemoProcess, REPO } from './demo-process';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** As the machine notes say: no sandbox as root, and no calls home (the network is closed). */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOTS = join(REPO, '.tmp', 'e2e');
const DB = 'rxmongo_demo';
const ADDRESS = /^\S+:\d+$/;

/** The little of the DOM the page functions below touch (the project compiles without lib.dom). */
interface PageElement {
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
};

const haveBrowser = existsSync(CHROMIUM);
const describeBrowser = haveBrowser ? describe : describe.skip;
const title = haveBrowser
  ? 'npm run demo in headless Chromium'
  : `npm run demo in headless Chromium [skipped: no browser at ${CHROMIUM}; install Debian's chromium package or set CHROMIUM_PATH]`;

describeBrowser(title, () => {
  let demo: DemoProcess;
  let url: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const text = (testid: string): Promise<string> => page.locator(`[data-testid=${testid}]`).innerText();
  const number = async (testid: string): Promise<number> => Number(await text(testid));

  beforeAll(async () => {
    // The demo picks its server by the ladder; it skips a rung this run already found missing.
    demo = new DemoProcess('demos/main.ts', ['--port', '0'], { RXMONGO_TEST_BACKEND: backend().kind });
    [, url] = await demo.waitFor(/^dashboard: (http\S+)$/m, 90_000);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 960 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(url);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    demo?.signal('SIGKILL');
  });

  it('says which server it runs on', async () => {
    expect(demo.output).toMatch(new RegExp(`^server: ${backend().kind} \\(`, 'm'));
    await page.waitForFunction(() => document.querySelector('[data-testid=connection]')?.getAttribute('data-state') === 'live');
    expect(await text('backend')).toContain(`watching database ${DB}`);
  });

  it('draws the replica set from the topology subjects, with one primary', async () => {
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=member][data-type=RSPrimary]').length === 1, undefined, {
      timeout: 30_000,
    });
    const primary = await text('primary');
    expect(primary).toMatch(ADDRESS);
    expect(await page.locator('[data-testid=member][data-type=RSPrimary]').getAttribute('data-address')).toBe(primary);
    expect(await page.locator('[data-testid=member]').count()).toBeGreaterThanOrEqual(backend().kind === 'uri' ? 1 : 3);
    expect(await page.locator('[data-testid=member]').first().innerText()).toMatch(/\d+\.\d ms/);
    expect(await text('topology-type')).toContain('ReplicaSetWithPrimary');
  });

  it('streams the load generator’s changes into the feed and the rate chart', async () => {
    // Every kind of write shows up (a replace of a SKU not yet stocked is an upsert, so an insert event, at first).
    const kinds = (attribute: string) => page.locator('[data-testid=event]').evaluateAll((rows, a) => [...new Set(rows.map((r) => r.getAttribute(a)))].sort(), attribute);
    await page.waitForFunction(
      () => new Set([...document.querySelectorAll('[data-testid=event]')].map((r) => r.getAttribute('data-op'))).size === 4,
      undefined,
      { timeout: 30_000 },
    );
    expect(await kinds('data-op')).toEqual(['delete', 'insert', 'replace', 'update']);
    expect(await kinds('data-ns')).toEqual([`${DB}.carts`, `${DB}.inventory`, `${DB}.orders`, `${DB}.payments`]);
    expect(await page.locator('#legend li').count()).toBe(4);
    // The tile starts at 0 and follows the stats events, which may arrive after the first changes.
    await page
      .waitForFunction(() => document.querySelector('[data-testid=cursors]')?.textContent === '1', undefined, { timeout: 15_000 })
      .catch(() => undefined);
    expect(await number('cursors')).toBe(1);
  });

  it('shows the stream’s lag and oplog headroom live', async () => {
    // A lag figure that moves: the tile is redrawn from lag$ samples, not drawn once.
    const lagOf = () => page.locator('[data-testid=lag]').getAttribute('data-ms');
    await page.waitForFunction(() => (document.querySelector('[data-testid=lag]')?.getAttribute('data-ms') ?? '') !== '', undefined, {
      timeout: 15_000,
    });
    const first = await lagOf();
    await page.waitForFunction((old) => document.querySelector('[data-testid=lag]')?.getAttribute('data-ms') !== old, first, { timeout: 15_000 });
    expect(Number(await lagOf())).toBeGreaterThanOrEqual(0);
    expect(Number(await text('unacknowledged'))).toBeGreaterThanOrEqual(0);
    // The headroom tile reads the oplog window of the member read, every 5 s (a deployment at MONGODB_URI may not let it).
    if (backend().kind === 'uri') return;
    await page.waitForFunction(() => document.querySelector('[data-testid=headroom-state]')?.getAttribute('data-state') !== 'unknown', undefined, {
      timeout: 20_000,
    });
    const state = await page.locator('[data-testid=headroom-state]').getAttribute('data-state');
    expect(['ok', 'low']).toContain(state);
    const headroom = Number(await page.locator('[data-testid=headroom]').getAttribute('data-ms'));
    const window = Number(await page.locator('[data-testid=oplog-window]').getAttribute('data-ms'));
    expect(headroom).toBeGreaterThanOrEqual(0);
    expect(window).toBeGreaterThanOrEqual(headroom);
    expect(await text('headroom-note')).toContain('margin 60.0 s');
  }, 60_000);

  it('serves a second tab from the same server cursor', async () => {
    const second = await browser.newPage();
    try {
      await second.goto(url);
      await second.waitForFunction(() => document.querySelectorAll('[data-testid=event]').length >= 5, undefined, { timeout: 30_000 });
      await page.waitForFunction(() => document.querySelector('[data-testid=tabs]')?.textContent === '2', undefined, { timeout: 10_000 });
      expect(await number('cursors')).toBe(1);
    } finally {
      await second.close();
    }
    await page.waitForFunction(() => document.querySelector('[data-testid=tabs]')?.textContent === '1', undefined, { timeout: 10_000 });
  });

  it('filters the feed by collection and operation', async () => {
    await page.locator(`[data-testid=ns-filters] [data-value="${DB}.orders"]`).click();
    await page.locator('[data-testid=op-filters] [data-value=insert]').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=event]').length >= 5, undefined, { timeout: 30_000 });
    const shown = await page.locator('[data-testid=event]').evaluateAll((rows) => rows.map((r) => `${r.getAttribute('data-op')} ${r.getAttribute('data-ns')}`));
    expect(new Set(shown)).toEqual(new Set([`insert ${DB}.orders`]));
    await page.locator('[data-testid=ns-filters] button', { hasText: 'all' }).click();
    await page.locator('[data-testid=op-filters] button', { hasText: 'all' }).click();
    await page.waitForFunction(
      () => new Set([...document.querySelectorAll('[data-testid=event]')].map((r) => r.getAttribute('data-ns'))).size === 4,
      undefined,
      { timeout: 30_000 },
    );
  });

  it('fails over on "step down primary" and the feed goes on without a gap', async () => {
    const before = await text('primary');
    const eventsBefore = await number('events');
    await page.locator('[data-testid=step-down]').click();
    await page.waitForFunction(
      (old) => {
        const now = document.querySelector('[data-testid=primary]')?.textContent ?? '';
        return now !== old && /^\S+:\d+$/.test(now);
      },
      before,
      { timeout: 60_000 },
    );
    const after = await text('primary');
    expect(after).not.toBe(before);
    expect(await page.locator('[data-testid=member][data-type=RSPrimary]').getAttribute('data-address')).toBe(after);
    await page.waitForFunction(() => /new primary/.test(document.querySelector('[data-testid=step-down-status]')?.textContent ?? ''));
    // The failover log comes with the next stats frame.
    await page.waitForFunction(
      (entry) => (document.querySelector('[data-testid=failovers]')?.textContent ?? '').includes(entry),
      `primary ${before} → ${after}`,
      { timeout: 10_000 },
    );

    // Writes go on against the new primary and their events keep arriving, numbered without a gap.
    const target = eventsBefore + 40;
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid=events]')?.textContent) >= n,
      target,
      { timeout: 60_000 },
    );
    expect(await number('gaps')).toBe(0);
    expect(await number('repeats')).toBe(0);
    expect(await number('sequenced')).toBeGreaterThan(0);
    expect(await number('cursors')).toBe(1);

    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 150_000);

  it('stops cleanly on SIGTERM', async () => {
    await browser.close();
    demo.signal('SIGTERM');
    const exit = await demo.exit;
    expect(demo.output).toContain('stopped cleanly');
    expect(exit).toEqual({ code: 0, signal: null });
  }, 60_000);
});
