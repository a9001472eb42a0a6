import { createHash } from 'node:crypto';

/**
 * Which partitions each member of a group should own: a pure function of
 * the partition count and the set of live member ids, so every member
 * computes the same answer from the same membership without a leader.
 *
 * Fair: every member gets ⌊P/N⌋ or ⌈P/N⌉ partitions (P mod N of them the
 * larger share). Sticky: each (member, partition) pair has a fixed
 * pseudo-random score, and pairs are granted best score first while the
 * member has room (rendezvous hashing with bounded loads). A member that
 * joins or leaves changes only the pairs its own scores or the new shares
 * displace, so a rebalance moves few partitions beyond those that must move
 * (measured in the unit spec), and moves nothing while membership holds.
 *
 * Returns a map from each member id (deduplicated) to its partitions in
 * ascending order.
 */
export function assignPartitions(partitions: number, members: Iterable<string>): Map<string, number[]> {
  const ids = [...new Set(members)].sort();
  const shares = new Map<string, number[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return shares;
  const base = Math.floor(partitions / ids.length);
  let larger = partitions % ids.length;

  const pairs: Array<{ partition: number; id: string; score: number }> = [];
  for (const id of ids) {
    for (let partition = 0; partition < partitions; partition++) pairs.push({ partition, id, score: score(id, partition) });
  }
  pairs.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : a.partition - b.partition));

  const owned = new Array<boolean>(partitions).fill(false);
  for (const { partition, id } of pairs) {
    if (owned[partition]) continue;
    const share = shares.get(id) as number[];
    if (share.length > base || (share.length === base && larger === 0)) continue;
    if (share.length === base) larger -= 1;
    share.push(partition);
    owned[partition] = true;
  }
  for (const share of shares.values()) share.sort((a, b) => a - b);
  return shares;
}

/** A stable 48-bit score of a (member, partition) pair, the same on every machine. */
function score(id: string, partition: number): number {
  return createHash('sha256').update(`${partition}\u0000${id}`).digest().readUIntBE(0, 6);
}
