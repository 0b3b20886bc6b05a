/**
 * The SASF envelope: a fresh random data key per recording, wrapped to the Recorder's X25519 public
 * key so that the media server that wrote the file cannot read it back.
 *
 * Construction (the X25519 recipient of age, https://age-encryption.org/v1, and the shape of HPKE
 * base mode, RFC 9180, with AES-256-GCM):
 *   ephemeral = X25519 key pair, fresh per file
 *   shared    = X25519(ephemeral.private, recipient.public)        (refused if all zero)
 *   wrapKey   = HKDF-SHA256(ikm = shared, salt = ephemeral.public ‖ recipient.public,
 *                           info = "capstan-sasf/v1 x25519 wrap", L = 32)
 *   wrapped   = AES-256-GCM(wrapKey, nonce = 12 zero bytes, aad = "", dataKey)   (32 + 16 bytes)
 * The zero nonce is safe because each wrap key encrypts exactly one message: it is derived from an
 * ephemeral key that is never reused (age does the same with ChaCha20-Poly1305).
 */
import { createCipheriv, createDecipheriv, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';
import { CapstanError } from '../../core/errors.ts';
import { keyIdOfRaw, rawX25519PublicKey, x25519PublicKeyFromRaw } from '../../core/keys/key-id.ts';
import { SASF_DATA_KEY_BYTES, SASF_TAG_BYTES, type SasfHeader } from './format.ts';

const WRAP_INFO = Buffer.from('capstan-sasf/v1 x25519 wrap', 'ascii');
const ZERO_NONCE = Buffer.alloc(12);

export interface WrappedDataKey {
  keyId: string;
  ephemeralPublicKey: Buffer;
  wrappedKey: Buffer;
}

function wrapKeyFor(shared: Buffer, ephemeralPublic: Buffer, recipientPublic: Buffer): Buffer {
  // An all-zero shared secret means a low-order point: it would make the wrap key public.
  if (shared.every((b) => b === 0)) {
    throw new CapstanError('CAPSTAN_ERR_SASF_TAMPERED', 'The key wrap uses an invalid ephemeral key');
  }
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeralPublic, recipientPublic]), WRAP_INFO, 32));
}

/** Wraps `dataKey` (32 bytes) to the recipient's X25519 public key. */
export function wrapDataKey(recipientPublicKey: KeyObject, dataKey: Buffer): WrappedDataKey {
  if (recipientPublicKey.type !== 'public') {
    // Media servers must hold public keys only; taking a private key here would hide a misconfiguration.
    throw new CapstanError('CAPSTAN_ERR_KEY_INVALID', 'SASF files are written with the Recorder public key, not a private key');
  }
  if (dataKey.length !== SASF_DATA_KEY_BYTES) throw new CapstanError('CAPSTAN_ERR_INTERNAL', 'Data key must be 32 bytes');
  const recipientRaw = rawX25519PublicKey(recipientPublicKey);
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralRaw = rawX25519PublicKey(ephemeral.publicKey);
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipientPublicKey });
  const wrapKey = wrapKeyFor(shared, ephemeralRaw, recipientRaw);
  const cipher = createCipheriv('aes-256-gcm', wrapKey, ZERO_NONCE, { authTagLength: SASF_TAG_BYTES });
  const wrappedKey = Buffer.concat([cipher.update(dataKey), cipher.final(), cipher.getAuthTag()]);
  shared.fill(0);
  wrapKey.fill(0);
  return { keyId: keyIdOfRaw(recipientRaw), ephemeralPublicKey: ephemeralRaw, wrappedKey };
}

/**
 * Unwraps a header's data key with the Recorder's private key.
 * CAPSTAN_ERR_SASF_WRONG_KEY when the key is not the one the file names; CAPSTAN_ERR_SASF_TAMPERED
 * when it is, yet the wrapped key does not authenticate (the header was altered).
 */
export function unwrapDataKey(privateKey: KeyObject, header: SasfHeader): Buffer {
  if (privateKey.type !== 'private') throw new CapstanError('CAPSTAN_ERR_KEY_INVALID', 'Decrypting SASF needs the Recorder private key');
  const recipientRaw = rawX25519PublicKey(privateKey);
  const keyId = keyIdOfRaw(recipientRaw);
  if (keyId !== header.keyId) {
    throw new CapstanError('CAPSTAN_ERR_SASF_WRONG_KEY', `The file is encrypted to key ${header.keyId}, not ${keyId}`, {
      details: { fileKeyId: header.keyId, keyId },
    });
  }
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: x25519PublicKeyFromRaw(header.ephemeralPublicKey) });
  } catch (cause) {
    throw new CapstanError('CAPSTAN_ERR_SASF_TAMPERED', 'The key wrap uses an invalid ephemeral key', { cause });
  }
  const wrapKey = wrapKeyFor(shared, header.ephemeralPublicKey, recipientRaw);
  shared.fill(0);
  try {
    const decipher = createDecipheriv('aes-256-gcm', wrapKey, ZERO_NONCE, { authTagLength: SASF_TAG_BYTES });
    decipher.setAuthTag(header.wrappedKey.subarray(SASF_DATA_KEY_BYTES));
    return Buffer.concat([decipher.update(header.wrappedKey.subarray(0, SASF_DATA_KEY_BYTES)), decipher.final()]);
  } catch (cause) {
    throw new CapstanError('CAPSTAN_ERR_SASF_TAMPERED', 'The wrapped data key does not authenticate: the header was altered', { cause });
  } finally {
    wrapKey.fill(0);
  }
}
