/**
 * Write concern as a replica set answers it after a write: `w: <n>` above the
 * number of data-bearing members is UnsatisfiableWriteConcern (100); a `w`
 * (number or 'majority') more members than now respond waits for them, up
 * to `wtimeout`, then is WriteConcernTimeout (64). Both come as a
 * `writeConcernError` beside a successful write, as from mongod: the write
 * itself happened. The members share one store, so every responding member
 * has every write at once.
 */
import type { Document } from 'bson';
import type { ReplicaSet } from './cluster';
import type { Connection } from './connection';

/** The writeConcernError for a write's `writeConcern`, once waiting is over; undefined when satisfied. */
export async function awaitWriteConcern(rs: ReplicaSet, connection: Connection, writeConcern: unknown): Promise<Document | undefined> {
  if (!writeConcern || typeof writeConcern !== 'object' || rs.mongos) return undefined;
  const wc = writeConcern as Document;
  const w = wc.w;
  const dataMembers = () => rs.members.filter((m) => m.role === 'primary' || m.role === 'secondary');
  const needed = (): number | undefined => {
    if (typeof w === 'number') return w;
    if (w === 'majority') return Math.floor(dataMembers().length / 2) + 1;
    return undefined;
  };
  if (typeof w === 'number' && w > dataMembers().length) {
    return { code: 100, codeName: 'UnsatisfiableWriteConcern', errmsg: 'Not enough data-bearing nodes', errInfo: { writeConcern: wc } };
  }
  const satisfied = () => dataMembers().filter((m) => m.responding).length >= (needed() ?? 0);
  if (satisfied()) return undefined;
  const wtimeout = typeof wc.wtimeout === 'number' && wc.wtimeout > 0 ? wc.wtimeout : undefined;
  const met = await new Promise<boolean>((resolve) => {
    const done = (result: boolean) => {
      clearTimeout(timer);
      rs.off('topologyChanged', check);
      connection.socket.off('close', closed);
      resolve(result);
    };
    const check = () => satisfied() && done(true);
    const closed = () => done(false);
    const timer = wtimeout === undefined ? undefined : setTimeout(() => done(false), wtimeout);
    rs.on('topologyChanged', check);
    connection.socket.once('close', closed);
  });
  if (met) return undefined;
  return {
    code: 64,
    codeName: 'WriteConcernTimeout',
    errmsg: 'waiting for replication timed out',
    errInfo: { wtimeout: true, writeConcern: wc },
  };
}
