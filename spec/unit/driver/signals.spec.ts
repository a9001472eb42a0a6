/**
 * CallSignal: a platform AbortSignal whose abort listeners are kept in an
 * array (cheap to add and remove), yet behaves as the platform's to the
 * driver and to Node's own helpers.
 */
import { addAbortListener } from 'node:events';
import { CallSignal } from '../../../lib/driver/signals';

describe('CallSignal', () => {
  it('is a platform AbortSignal: aborted, reason and throwIfAborted follow abort()', () => {
    const call = new CallSignal();
    expect(call.signal).toBeInstanceOf(AbortSignal);
    expect(call.signal.aborted).toBe(false);
    expect(() => call.signal.throwIfAborted()).not.toThrow();
    call.abort();
    expect(call.signal.aborted).toBe(true);
    expect(call.signal.reason).toBeInstanceOf(DOMException);
    expect(() => call.signal.throwIfAborted()).toThrow(call.signal.reason);
  });

  it('calls each abort listener once, with the signal as this and an abort event, in the order added', () => {
    const call = new CallSignal();
    const calls: string[] = [];
    const first = function (this: AbortSignal, event: Event) {
      calls.push(`first ${event.type} ${this === call.signal}`);
    };
    call.signal.addEventListener('abort', first);
    call.signal.addEventListener('abort', first); // a duplicate is ignored, as by the platform
    call.signal.addEventListener('abort', { handleEvent: (event: Event) => void calls.push(`object ${event.type}`) });
    call.abort();
    call.abort();
    expect(calls).toEqual(['first abort true', 'object abort']);
  });

  it('does not call a removed listener, nor one added after the abort', () => {
    const call = new CallSignal();
    const calls: string[] = [];
    const removed = () => void calls.push('removed');
    call.signal.addEventListener('abort', removed, { once: true });
    call.signal.removeEventListener('abort', removed);
    call.abort();
    call.signal.addEventListener('abort', () => void calls.push('late'));
    expect(calls).toEqual([]);
  });

  it("works with Node's addAbortListener and AbortSignal.any", () => {
    const call = new CallSignal();
    const calls: string[] = [];
    const disposable = addAbortListener(call.signal, () => void calls.push('helper'));
    const combined = AbortSignal.any([call.signal]);
    combined.addEventListener('abort', () => void calls.push('combined'));
    call.abort();
    expect(calls.sort()).toEqual(['combined', 'helper']);
    expect(combined.aborted).toBe(true);
    disposable[Symbol.dispose]();
  });

  it('keeps the platform semantics for a listener tied to another signal', () => {
    const call = new CallSignal();
    const other = new AbortController();
    const calls: string[] = [];
    call.signal.addEventListener('abort', () => void calls.push('tied'), { signal: other.signal });
    other.abort(); // removes the tied listener
    call.abort();
    expect(calls).toEqual([]);
  });

  it('is reusable only while never aborted and no listener is left', () => {
    const call = new CallSignal();
    expect(call.reusable).toBe(true);
    const listener = () => {};
    call.signal.addEventListener('abort', listener);
    expect(call.reusable).toBe(false);
    call.signal.removeEventListener('abort', listener);
    expect(call.reusable).toBe(true);
    call.signal.addEventListener('abort', listener, { signal: new AbortController().signal });
    expect(call.reusable).toBe(false);
    const aborted = new CallSignal();
    aborted.abort();
    expect(aborted.reusable).toBe(false);
  });
});
