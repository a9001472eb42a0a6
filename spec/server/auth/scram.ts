/**
 * The server side of SCRAM (RFC 5802), with SHA-256 (RFC 7677) and SHA-1,
 * as MongoDB uses it: credentials derived when a user is created, and the
 * two-step conversation of `saslStart`/`saslContinue` that proves the
 * client knows the password without sending it. SCRAM-SHA-1 hashes
 * MongoDB's password digest (MD5 of `user:mongo:password`), SCRAM-SHA-256
 * the password itself.
 *
 * Simplified: SASLprep is NFKC normalization without the prohibited-
 * character checks, which the passwords of specs never need.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export type Mechanism = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';
export const MECHANISMS: readonly Mechanism[] = ['SCRAM-SHA-1', 'SCRAM-SHA-256'];

/** What the server keeps of a password for one mechanism. */
export interface ScramCredential {
  iterationCount: number;
  salt: string;
  storedKey: string;
  serverKey: string;
}

const HASH: Record<Mechanism, { name: 'sha1' | 'sha256'; iterations: number; saltBytes: number }> = {
  'SCRAM-SHA-1': { name: 'sha1', iterations: 10_000, saltBytes: 16 },
  'SCRAM-SHA-256': { name: 'sha256', iterations: 15_000, saltBytes: 28 },
};

function hmac(mechanism: Mechanism, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(HASH[mechanism].name, key).update(data).digest();
}

function hash(mechanism: Mechanism, data: Buffer): Buffer {
  return createHash(HASH[mechanism].name).update(data).digest();
}

/** The password as the mechanism hashes it. */
function passwordFor(mechanism: Mechanism, user: string, password: string): string {
  return mechanism === 'SCRAM-SHA-1'
    ? createHash('md5').update(`${user}:mongo:${password}`).digest('hex')
    : password.normalize('NFKC');
}

/** The stored credential for a new password. */
export function deriveCredential(mechanism: Mechanism, user: string, password: string): ScramCredential {
  const { name, iterations, saltBytes } = HASH[mechanism];
  const salt = randomBytes(saltBytes);
  const salted = pbkdf2Sync(passwordFor(mechanism, user, password), salt, iterations, name === 'sha1' ? 20 : 32, name);
  return {
    iterationCount: iterations,
    salt: salt.toString('base64'),
    storedKey: hash(mechanism, hmac(mechanism, salted, 'Client Key')).toString('base64'),
    serverKey: hmac(mechanism, salted, 'Server Key').toString('base64'),
  };
}

/** SCRAM's attribute list `a=1,b=2` as a map. */
function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

/** A user name as SCRAM escapes it (`=2C` for a comma, `=3D` for an equals sign). */
function unescapeName(name: string): string {
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** Thrown for a conversation that cannot go on; the caller answers AuthenticationFailed. */
export class ScramError extends Error {}

/** One SCRAM conversation, from the client's first message to the server's signature. */
export class ScramConversation {
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private credential?: ScramCredential;

  constructor(readonly mechanism: Mechanism) {}

  /** The client's first message (`n,,n=user,r=nonce`): returns the user name it names. */
  start(clientFirst: string): string {
    const gs2 = clientFirst.match(/^([nyp])(?:=[^,]*)?,[^,]*,/);
    if (!gs2 || gs2[1] === 'p') throw new ScramError('channel binding is not supported');
    this.clientFirstBare = clientFirst.slice(gs2[0].length);
    const fields = attributes(this.clientFirstBare);
    const user = fields.get('n');
    const clientNonce = fields.get('r');
    if (!user || !clientNonce) throw new ScramError('client-first-message lacks a user or a nonce');
    this.nonce = clientNonce + randomBytes(24).toString('base64');
    return unescapeName(user);
  }

  /** The server's first message for the user's stored credential. */
  challenge(credential: ScramCredential): string {
    this.credential = credential;
    this.serverFirst = `r=${this.nonce},s=${credential.salt},i=${credential.iterationCount}`;
    return this.serverFirst;
  }

  /** Checks the client's proof; returns the server's final message (its signature). */
  finish(clientFinal: string): string {
    const credential = this.credential;
    if (!credential) throw new ScramError('no conversation in progress');
    const fields = attributes(clientFinal);
    const proof = fields.get('p');
    if (fields.get('r') !== this.nonce || !proof) throw new ScramError('nonce mismatch');
    const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(credential.storedKey, 'base64');
    const clientSignature = hmac(this.mechanism, storedKey, authMessage);
    const clientProof = Buffer.from(proof, 'base64');
    if (clientProof.length !== clientSignature.length) throw new ScramError('proof of the wrong length');
    const clientKey = Buffer.from(clientProof.map((b, i) => b ^ clientSignature[i]));
    if (!timingSafeEqual(hash(this.mechanism, clientKey), storedKey)) throw new ScramError('wrong password');
    const serverSignature = hmac(this.mechanism, Buffer.from(credential.serverKey, 'base64'), authMessage);
    return `v=${serverSignature.toString('base64')}`;
  }
}
