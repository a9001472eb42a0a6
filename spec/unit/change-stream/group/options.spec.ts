import { firstValueFrom } from 'rxjs';
import { MemoryCheckpointStore, RxChangeStream, type RxWatchOptions } from '../../../../lib';

const open = (): never => {
  throw new Error('a spec of options must not open a cursor');
};
const store = new MemoryCheckpointStore();
const grouped = (group: unknown, checkpoint: unknown = { store, key: 'g' }): RxChangeStream =>
  new RxChangeStream(open, [], { checkpoint, group } as RxWatchOptions);

describe('watch() option group', () => {
  it('accepts partitions 1 to 1024 and leaseMS 1 to 2^31 - 1', () => {
    expect(() => grouped({ partitions: 1 })).not.toThrow();
    expect(() => grouped({ partitions: 1024, leaseMS: 2 ** 31 - 1 })).not.toThrow();
    expect(() => grouped({ partitions: 16, leaseMS: 1 })).not.toThrow();
  });

  it.each([
    [{}, TypeError, 'group.partitions must be given as an integer from 1 to 1024, got undefined'],
    [{ partitions: '8' }, TypeError, 'group.partitions must be given as an integer from 1 to 1024, got "8"'],
    [{ partitions: NaN }, TypeError, 'got NaN'],
    [{ partitions: 0 }, RangeError, 'group.partitions must be an integer from 1 to 1024, got 0'],
    [{ partitions: 1025 }, RangeError, 'got 1025'],
    [{ partitions: 2.5 }, RangeError, 'got 2.5'],
    [{ partitions: 4, leaseMS: 0 }, RangeError, 'group.leaseMS must be an integer from 1 to 2147483647, got 0'],
    [{ partitions: 4, leaseMS: 2 ** 31 }, RangeError, 'got 2147483648'],
    [{ partitions: 4, leaseMS: Infinity }, RangeError, 'got Infinity'],
    [{ partitions: 4, lease: 10 }, TypeError, 'watch() option group has unknown key "lease" (known: partitions, leaseMS)'],
    [null, TypeError, 'watch() option group must be an object, got null'],
    [8, TypeError, 'watch() option group must be an object, got 8'],
  ])('rejects %p', (group, type, message) => {
    expect(() => grouped(group)).toThrow(type);
    expect(() => grouped(group)).toThrow(message);
  });

  it('needs a checkpoint whose store lists leases, and sets the leases itself', () => {
    expect(() => new RxChangeStream(open, [], { group: { partitions: 4 } })).toThrow(
      new TypeError('watch() option group needs the checkpoint option: the store and key its members share'),
    );
    // A user's store implementing the required methods only (leases is optional in the contract).
    const { load, acquire, renew, save, release } = MemoryCheckpointStore.prototype;
    const plain = { load, acquire, renew, save, release };
    expect(() => grouped({ partitions: 4 }, { store: plain, key: 'g' })).toThrow(
      new TypeError('watch() option group needs checkpoint.store to list leases, to see the other members; an object has no leases(prefix) method'),
    );
    expect(() => grouped({ partitions: 4 }, { store, key: 'g', lease: { ttlMS: 1000 } })).toThrow(
      'watch() options group and checkpoint.lease cannot be combined: group.leaseMS sets the leases of a group',
    );
  });

  it('is read with consume() only: a plain subscriber gets a TypeError, connect() throws one', async () => {
    const stream = grouped({ partitions: 4 });
    await expect(firstValueFrom(stream)).rejects.toThrow(/read with consume\(\) in each member/);
    expect(() => stream.connect()).toThrow(TypeError);
  });

  it('consume() validates its handler and options before anything runs', () => {
    const stream = grouped({ partitions: 4 });
    expect(() => stream.consume(42 as never)).toThrow(TypeError);
    expect(() => stream.consume(() => {}, { highWaterMark: 0 })).toThrow(RangeError);
    expect(() => stream.consume(() => {}, { bogus: 1 } as never)).toThrow(TypeError);
  });
});
