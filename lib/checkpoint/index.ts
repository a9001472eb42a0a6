export { type CheckpointStore } from './store';
export { MemoryCheckpointStore } from './memory';
export { FileCheckpointStore } from './file';
export { CollectionCheckpointStore, type CheckpointDocument } from './collection';
