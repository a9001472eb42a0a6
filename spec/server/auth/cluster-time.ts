/**
 * Signed cluster times, as a deployment with authentication gives them:
 * every reply's `$clusterTime` carries an HMAC of the time under the
 * deployment's key (and the key's id); a client may gossip back only a
 * time it was given, so a `$clusterTime` newer than the server's whose
 * signature does not verify is TimeProofMismatch (204), and one naming an
 * unknown key KeyNotFound (211). Without authentication the signature is
 * zeros and nothing is checked, as on mongod.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Binary, Long, Timestamp, type Document } from 'bson';
import { CommandError } from '../errors';

export class ClusterTimeKeys {
  private readonly key = randomBytes(20);
  /** mongod's key ids are a time-based int64. */
  readonly keyId = Long.fromBigInt(BigInt(Date.now()) << 20n);

  constructor(readonly enabled: boolean) {}

  /** The `$clusterTime` document for a reply. */
  sign(time: Timestamp): Document {
    if (!this.enabled) return { clusterTime: time, signature: { hash: new Binary(Buffer.alloc(20)), keyId: Long.ZERO } };
    return { clusterTime: time, signature: { hash: new Binary(this.proof(time)), keyId: this.keyId } };
  }

  /** Checks a client's `$clusterTime` when authentication is on; `current` is the server's time. */
  validate(given: unknown, current: Timestamp): void {
    if (!this.enabled || given === undefined || given === null || typeof given !== 'object') return;
    const { clusterTime, signature } = given as Document;
    if (!(clusterTime instanceof Timestamp)) throw new CommandError('TypeMismatch', "BSON field '$clusterTime.clusterTime' is the wrong type, expected type 'timestamp'");
    // A time the server already reached was not forged to move it forward: mongod does not check it.
    if (clusterTime.lessThanOrEqual(current)) return;
    const keyId = (signature as Document | undefined)?.keyId;
    const hash = (signature as Document | undefined)?.hash as Binary | undefined;
    if (!Long.isLong(keyId) || !keyId.equals(this.keyId)) {
      throw new CommandError('KeyNotFound', `Cache Reader No keys found for HMAC that is valid for time: ${clusterTime.toString()} with id: ${String(keyId)}`);
    }
    const bytes = hash ? Buffer.from(hash.buffer.subarray(0, hash.position)) : Buffer.alloc(0);
    const expected = this.proof(clusterTime);
    if (bytes.length !== expected.length || !timingSafeEqual(bytes, expected)) {
      throw new CommandError('TimeProofMismatch', 'Time proof mismatch');
    }
  }

  private proof(time: Timestamp): Buffer {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64BE(time.toBigInt());
    return createHmac('sha1', this.key).update(bytes).digest();
  }
}
