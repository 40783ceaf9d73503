/**
 * Key Vault object store: secrets and RSA keys with versions, attributes, tags and soft-delete
 * state, per vault. Pure data + crypto; the HTTP layer (service.ts) enforces auth and shapes.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  constants,
  type KeyObject,
} from 'node:crypto';
import forge from 'node-forge';

export interface ObjectAttributes {
  enabled: boolean;
  /** Unix seconds. */
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

export interface SecretVersion extends ObjectAttributes {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
}

export interface KeyVersion extends ObjectAttributes {
  version: string;
  kty: 'RSA' | 'RSA-HSM';
  keySize: number;
  keyOps: string[];
  /** PKCS#8 PEM of the private key (the simulator's "HSM"). */
  privatePem: string;
  n: string;
  e: string;
  tags?: Record<string, string>;
}

export interface DeletedInfo {
  /** Unix seconds. */
  deletedDate: number;
  scheduledPurgeDate: number;
}

export interface StoredObject<V> {
  /** Name as first created (names are case-insensitive). */
  name: string;
  versions: V[];
  deleted?: DeletedInfo;
}

export interface VaultObjects {
  secrets: Record<string, StoredObject<SecretVersion>>;
  keys: Record<string, StoredObject<KeyVersion>>;
}

export const KEY_OPS_ALL = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'];
export const WRAP_ALGORITHMS = ['RSA-OAEP', 'RSA-OAEP-256', 'RSA1_5'] as const;
export type WrapAlgorithm = (typeof WRAP_ALGORITHMS)[number];

export function newVersion(): string {
  return randomBytes(16).toString('hex');
}

export function latest<V extends ObjectAttributes>(obj: StoredObject<V>): V {
  return obj.versions[obj.versions.length - 1]!;
}

/** RSA key generation runs off the event loop (4096-bit keys take a while). */
export function generateRsa(bits: number, publicExponent = 0x10001): Promise<{ privatePem: string; n: string; e: string }> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: bits, publicExponent }, (err, _publicKey, privateKey) => {
      if (err) return reject(err);
      resolve(describeRsa(privateKey));
    });
  });
}

export function describeRsa(privateKey: KeyObject): { privatePem: string; n: string; e: string } {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as { n: string; e: string };
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), n: jwk.n, e: jwk.e };
}

export function importRsaJwk(jwk: Record<string, unknown>): { privatePem: string; n: string; e: string; bits: number } {
  const key = createPrivateKey({ key: { ...jwk, kty: 'RSA' } as import('node:crypto').JsonWebKey, format: 'jwk' });
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  return { ...describeRsa(key), bits };
}

export function wrap(key: KeyVersion, alg: WrapAlgorithm, plaintext: Buffer): Buffer {
  const publicKey = createPublicKey(createPrivateKey(key.privatePem));
  if (alg === 'RSA1_5') return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, plaintext);
  return publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: alg === 'RSA-OAEP-256' ? 'sha256' : 'sha1' },
    plaintext,
  );
}

export function unwrap(key: KeyVersion, alg: WrapAlgorithm, wrapped: Buffer): Buffer {
  if (alg === 'RSA1_5') {
    // Node refuses PKCS#1 v1.5 private decryption (Marvin attack mitigation); forge still does it.
    const forgeKey = forge.pki.privateKeyFromPem(pkcs1Pem(key.privatePem));
    return Buffer.from(forgeKey.decrypt(wrapped.toString('binary'), 'RSAES-PKCS1-V1_5'), 'binary');
  }
  return privateDecrypt(
    {
      key: createPrivateKey(key.privatePem),
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: alg === 'RSA-OAEP-256' ? 'sha256' : 'sha1',
    },
    wrapped,
  );
}

function pkcs1Pem(pkcs8Pem: string): string {
  return createPrivateKey(pkcs8Pem).export({ type: 'pkcs1', format: 'pem' }).toString();
}
