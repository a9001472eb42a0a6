import { MemoryCheckpointStore } from '../../../lib/checkpoint/memory';
import { storeContract } from './contract';

storeContract('MemoryCheckpointStore', {
  ttlMS: 150,
  make: async () => ({ store: new MemoryCheckpointStore(), teardown: async () => {} }),
});
