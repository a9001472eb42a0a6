export {
  type CheckpointStore,
  type Lease,
  type LeaseInfo,
  type AcquireOptions,
  type SaveOptions,
} from './store';
export { MemoryCheckpointStore } from './memory';
export { FileCheckpointStore } from './file';
export { CollectionCheckpointStore, type CheckpointDocument } from './collection';
