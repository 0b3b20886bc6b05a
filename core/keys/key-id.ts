/**
 * X25519 key helpers shared by the Recorder's keyring (core/keys) and the SASF format (media/sasf):
 * the raw 32-byte public key and the key id that SASF headers carry.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { CapstanError } from '../errors.ts';

/** Bytes of a key id; shown as twice as many lowercase hex digits. */
export const KEY_ID_BYTES = 8;

/** The raw 32-byte X25519 public key (RFC 7748 u-coordinate) of a public or private KeyObject. */
export function rawX25519PublicKey(key: KeyObject): Buffer {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'x25519') {
    throw new CapstanError('CAPSTAN_ERR_KEY_INVALID', `Expected an X25519 key, got ${publicKey.asymmetricKeyType ?? publicKey.type}`, {
      details: { keyType: publicKey.asymmetricKeyType ?? publicKey.type },
    });
  }
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = Buffer.from(jwk.x ?? '', 'base64url');
  if (raw.length !== 32) throw new CapstanError('CAPSTAN_ERR_KEY_INVALID', 'X25519 public key is not 32 bytes');
  return raw;
}

/** A KeyObject for a raw 32-byte X25519 public key (as stored in a SASF header). */
export function x25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/**
 * The key id of a Recorder key: the first 8 bytes of SHA-256 over the raw X25519 public key, as 16
 * lowercase hex digits. Derived from the public key alone so a media server (which holds only the
 * public key) and the Recorder (which holds the private key) compute the same id.
 */
export function keyIdOf(key: KeyObject): string {
  return keyIdOfRaw(rawX25519PublicKey(key));
}

export function keyIdOfRaw(rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

/** True when `id` has the shape of a key id (it does not say such a key exists). */
export function isKeyId(id: string): boolean {
  return /^[0-9a-f]{16}$/.test(id);
}
