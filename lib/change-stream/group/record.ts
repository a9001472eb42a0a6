import type { ResumeToken, Timestamp } from 'mongodb';
import { ConfigurationError } from '../../errors';

/** Where a partition starts on its first run: a resume token or an operation time. */
export type Origin = ResumeToken | Timestamp;

/**
 * What a group keeps under its own checkpoint key (its partitions live
 * under `${key}/p${i}`): the partition count, fixed for the key's life, and
 * the group's origin, where every partition starts while it has no
 * checkpoint. The first member to join writes it, under the key's lease.
 * Stored as the key's position (stores keep positions as opaque BSON
 * values), so any `CheckpointStore` can hold it.
 */
export interface GroupRecord {
  rxmongoGroup: { partitions: number; origin: Origin };
}

/** Whether a stored position is a group's record (rather than a single consumer's token). */
export function isGroupRecord(value: unknown): value is GroupRecord {
  const group = (value as Partial<GroupRecord> | null | undefined)?.rxmongoGroup;
  return group !== null && typeof group === 'object' && typeof group.partitions === 'number' && group.origin != null;
}

/** The group's origin, after checking the record was made for as many partitions as asked. */
export function originOf(record: GroupRecord, key: string, partitions: number): Origin {
  const recorded = record.rxmongoGroup.partitions;
  if (recorded !== partitions) {
    throw new ConfigurationError(
      `consumer group ${JSON.stringify(key)} has ${recorded} partitions; this member asks for ${partitions} ` +
        '(a group keeps its partition count: use a new checkpoint key to change it)',
    );
  }
  return record.rxmongoGroup.origin;
}
