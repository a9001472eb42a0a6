/**
 * The rxmongo wire test server: an in-process MongoDB wire-protocol replica
 * set for specs, demos and benchmarks where no mongod can be had. A test
 * double, never a product feature.
 */
export { ReplicaSet, type ReplicaSetOptions } from './cluster';
export { Member, type Role } from './member';
export { Store } from './store';
