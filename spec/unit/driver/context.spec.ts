import { ClientClosedError } from '../../../lib/errors';
import { Deferred, fakeContext } from './fakes';

describe('ClientContext', () => {
  it('is open until close starts, then refuses operations', async () => {
    const { context } = fakeContext();
    expect(context.closed).toBe(false);
    expect(() => context.assertOpen()).not.toThrow();
    const closing = context.close();
    expect(context.closed).toBe(true);
    expect(() => context.assertOpen()).toThrow(ClientClosedError);
    await closing;
  });

  it('closes the driver once however often it is closed', async () => {
    const { context, driver } = fakeContext();
    await Promise.all([context.close(), context.close()]);
    await context.close();
    expect(driver.closeCalls).toBe(1);
  });

  it('runs registered hooks once, before the driver closes, and skips unregistered ones', async () => {
    const { context, driver } = fakeContext();
    const order: string[] = [];
    const gate = new Deferred();
    context.onClose(async () => {
      await gate.promise;
      order.push(`hook (driver closed ${driver.closeCalls}x)`);
    });
    const unregister = context.onClose(() => {
      order.push('unregistered');
    });
    unregister();
    const closing = context.close();
    gate.resolve();
    await closing;
    await context.close();
    expect(order).toEqual(['hook (driver closed 0x)']);
    expect(driver.closeCalls).toBe(1);
  });

  it('still closes the driver when a hook fails', async () => {
    const { context, driver } = fakeContext();
    context.onClose(() => {
      throw new Error('hook failed');
    });
    await expect(context.close()).resolves.toBeUndefined();
    expect(driver.closeCalls).toBe(1);
  });

  it('runs a hook registered after close at once', async () => {
    const { context } = fakeContext();
    await context.close();
    let ran = false;
    context.onClose(() => {
      ran = true;
    });
    expect(ran).toBe(true);
  });
});

describe('ClientContext and the driver topology', () => {
  it('drops a topology the driver closed after a failed first connection, so the next operation connects afresh', () => {
    const { driver } = fakeContext();
    const dead = { isConnected: () => false };
    driver.topology = dead as never;
    driver.emit('topologyClosed', {});
    expect(driver.topology).toBeUndefined();
  });

  it('leaves a connected topology alone, and stops listening once closed', async () => {
    const { context, driver } = fakeContext();
    const live = { isConnected: () => true };
    driver.topology = live as never;
    driver.emit('topologyClosed', {});
    expect(driver.topology).toBe(live);
    await context.close();
    expect(driver.listenerCount('topologyClosed')).toBe(0);
  });

  it('reads maxBsonObjectSize from a known server, else 16 MiB', () => {
    expect(fakeContext().context.maxBsonObjectSize).toBe(16 * 1024 * 1024);
    expect(fakeContext(undefined, { maxBsonObjectSize: 4096 }).context.maxBsonObjectSize).toBe(4096);
  });

  it('connect() connects the driver, and refuses after close', async () => {
    const { context, driver } = fakeContext();
    await context.connect();
    expect(driver.connectCalls).toBe(1);
    await context.close();
    await expect(context.connect()).rejects.toBeInstanceOf(ClientClosedError);
    expect(driver.connectCalls).toBe(1);
  });
});
