import { assignPartitions } from '../../../../lib/change-stream/group/assignment';

const ids = (n: number, tag = 'm'): string[] => Array.from({ length: n }, (_, i) => `${tag}-${i}`);

/** Partition → owner. */
function owners(partitions: number, members: string[]): Map<number, string> {
  const owner = new Map<number, string>();
  for (const [id, share] of assignPartitions(partitions, members)) for (const p of share) owner.set(p, id);
  return owner;
}

function moved(partitions: number, before: string[], after: string[]): number {
  const a = owners(partitions, before);
  const b = owners(partitions, after);
  return Array.from({ length: partitions }, (_, p) => p).filter((p) => a.get(p) !== b.get(p)).length;
}

describe('assignPartitions', () => {
  it.each([
    [1, 1],
    [6, 1],
    [6, 3],
    [6, 4],
    [8, 3],
    [10, 4],
    [16, 5],
    [3, 5],
    [1024, 7],
  ])('gives each of %i partitions to exactly one of %i members, ⌊P/N⌋ or ⌈P/N⌉ each', (partitions, n) => {
    const shares = assignPartitions(partitions, ids(n));
    const all = [...shares.values()].flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: partitions }, (_, i) => i));
    const sizes = [...shares.values()].map((s) => s.length);
    expect(Math.min(...sizes)).toBe(Math.floor(partitions / n));
    expect(Math.max(...sizes)).toBe(Math.ceil(partitions / n));
    for (const share of shares.values()) expect(share).toEqual([...share].sort((a, b) => a - b));
  });

  it('depends only on the set of members: order and duplicates do not matter', () => {
    const members = ids(5);
    const reference = assignPartitions(16, members);
    expect(assignPartitions(16, [...members].reverse())).toEqual(reference);
    expect(assignPartitions(16, [...members, members[2], members[0]])).toEqual(reference);
  });

  it('gives nothing to nobody', () => {
    expect(assignPartitions(8, []).size).toBe(0);
  });

  it('moves only the partitions the newcomer takes, or close to it, when a member joins or leaves', () => {
    // 300 membership changes on fixed ids: the partitions that must move are the
    // newcomer's share (join) or the leaver's (leave); count what moves beyond that.
    let needed = 0;
    let total = 0;
    for (let round = 0; round < 150; round++) {
      const members = ids(1 + (round % 6), `r${round}`);
      const joined = [...members, `r${round}-new`];
      needed += assignPartitions(8, joined).get(`r${round}-new`)!.length;
      total += moved(8, members, joined);
      const left = joined.slice(1);
      needed += assignPartitions(8, joined).get(joined[0])!.length;
      total += moved(8, joined, left);
    }
    const excess = (total - needed) / 300;
    console.log(`assignment, 8 partitions: ${total} moved for ${needed} that had to (${excess.toFixed(2)} extra per membership change)`);
    expect(total).toBeGreaterThanOrEqual(needed);
    expect(excess).toBeLessThan(0.75);
  });

  it('moves nothing while the membership holds', () => {
    expect(moved(8, ids(3), ids(3))).toBe(0);
  });
});
