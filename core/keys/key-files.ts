/**
 * Reading Recorder key files: X25519 private keys (PKCS#8 PEM, optionally passphrase-encrypted)
 * and public keys (SPKI PEM), with coded errors instead of OpenSSL messages.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CapstanError } from '../errors.ts';

function invalid(message: string, source: string | undefined, cause?: unknown): CapstanError {
  return new CapstanError('CAPSTAN_ERR_KEY_INVALID', message, { cause, details: source === undefined ? {} : { path: source } });
}

export async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', `No key file at ${path}`, { cause, details: { path } });
    }
    throw new CapstanError('CAPSTAN_ERR_KEY_STORE', `Cannot read ${path}: ${(cause as Error).message}`, { cause, details: { path } });
  }
}

/** Parses an X25519 private key PEM. `source` names the file in errors. */
export function parsePrivateKeyPem(pem: string, passphrase: string | undefined, source?: string): KeyObject {
  const encrypted = pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----');
  if (encrypted && (passphrase === undefined || passphrase === '')) {
    throw new CapstanError('CAPSTAN_ERR_KEY_PASSPHRASE', 'The private key is passphrase-protected: give its passphrase', {
      details: source === undefined ? {} : { path: source },
    });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: passphrase ?? '' } : { key: pem, format: 'pem' });
  } catch (cause) {
    if (encrypted) {
      // OpenSSL cannot tell a wrong passphrase from a damaged encrypted key; the passphrase is by far the likelier.
      throw new CapstanError('CAPSTAN_ERR_KEY_PASSPHRASE', 'The passphrase does not open the private key', {
        cause,
        details: source === undefined ? {} : { path: source },
      });
    }
    throw invalid(`Not a PEM private key${source === undefined ? '' : `: ${source}`}`, source, cause);
  }
  if (key.asymmetricKeyType !== 'x25519') throw invalid(`Expected an X25519 private key, got ${key.asymmetricKeyType}`, source);
  return key;
}

/** Parses an X25519 public key PEM (SPKI). A private key is refused: media servers must not hold one. */
export function parsePublicKeyPem(pem: string, source?: string): KeyObject {
  if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(pem)) {
    throw invalid('This is a private key: media servers get the Recorder public key (`capstan keys list` shows where it is)', source);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw invalid(`Not a PEM public key${source === undefined ? '' : `: ${source}`}`, source, cause);
  }
  if (key.asymmetricKeyType !== 'x25519') throw invalid(`Expected an X25519 public key, got ${key.asymmetricKeyType}`, source);
  return key;
}
