import { resolveObserve } from '../../../../lib/change-stream/observe/options';
import { resolveWatchOptions } from '../../../../lib/change-stream/options';

describe('the observe and headroom options', () => {
  it('have defaults: samples every second, a one-hour margin read every minute, OpenTelemetry on', () => {
    expect(resolveObserve(undefined, undefined)).toEqual({
      sampleMS: 1000,
      name: undefined,
      openTelemetry: true,
      headroom: { marginMS: 3_600_000, every: 60_000, given: false },
    });
    expect(resolveWatchOptions([], { observe: { sampleMS: 50, name: 'orders', openTelemetry: false }, headroom: { marginMS: Infinity } }).observe).toEqual({
      sampleMS: 50,
      name: 'orders',
      openTelemetry: false,
      headroom: { marginMS: Infinity, every: 60_000, given: true },
    });
  });

  it.each([
    [{ observe: 5 }, TypeError, 'observe must be an object, got 5'],
    [{ observe: { sample: 5 } }, TypeError, 'observe has no option "sample"'],
    [{ observe: { sampleMS: 0 } }, RangeError, 'observe.sampleMS must be a duration from 1'],
    [{ observe: { sampleMS: '1s' } }, TypeError, 'observe.sampleMS must be a number'],
    [{ observe: { name: '' } }, TypeError, 'observe.name must be a non-empty string, got ""'],
    [{ observe: { openTelemetry: 'yes' } }, TypeError, 'observe.openTelemetry must be a boolean'],
    [{ headroom: [] }, TypeError, 'headroom must be an object'],
    [{ headroom: { margin: 1 } }, TypeError, 'headroom has no option "margin"'],
    [{ headroom: { marginMS: -1 } }, RangeError, 'headroom.marginMS must be a duration from 0'],
    [{ headroom: { every: NaN } }, RangeError, 'headroom.every must be a duration from 1'],
    [{ headroom: { every: Infinity } }, RangeError, 'headroom.every must be a duration from 1'],
  ])('reject %p at the call', (options, type, message) => {
    expect(() => resolveWatchOptions([], options)).toThrow(type);
    expect(() => resolveWatchOptions([], options)).toThrow(message);
  });
});
