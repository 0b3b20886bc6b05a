/**
 * The Recorder's keyring: the X25519 key pairs that SASF data keys are wrapped to.
 *
 * A key directory holds, for each key:
 *   <keyId>.private.pem   PKCS#8 PEM, mode 0600; with a passphrase, encrypted PKCS#8
 *                         (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC, as OpenSSL writes it)
 *   <keyId>.public.pem    SPKI PEM, mode 0644: what media servers are given
 * and, for the keyring as a whole:
 *   keyring.json          which keys exist, when they were made and retired, which one is active
 *   active.public.pem     a copy of the active public key at a stable path (point media servers here)
 * The directory is created 0700. Rotation never deletes a private key: recordings made with an old
 * key must still decrypt. Deleting an old private key is an explicit act (crypto-shredding).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CapstanError } from '../errors.ts';
import { parsePrivateKeyPem, parsePublicKeyPem, readKeyFile } from './key-files.ts';
import { isKeyId, keyIdOf } from './key-id.ts';

export const KEYRING_FILE = 'keyring.json';
export const ACTIVE_PUBLIC_KEY_FILE = 'active.public.pem';

const KeyringEntry = z.object({
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  createdAt: z.iso.datetime(),
  retiredAt: z.iso.datetime().optional(),
  encrypted: z.boolean(),
});
const Keyring = z.object({
  format: z.literal('capstan-keyring'),
  version: z.literal(1),
  active: z.string().regex(/^[0-9a-f]{16}$/).nullable(),
  keys: z.array(KeyringEntry),
});
type Keyring = z.infer<typeof Keyring>;
type KeyringEntry = z.infer<typeof KeyringEntry>;

export interface RecorderKeyInfo {
  /** 16 hex digits: SHA-256 of the raw public key, truncated (the id SASF headers carry). */
  keyId: string;
  createdAt: Date;
  /** When a rotation replaced it as the active key; undefined for keys never active or still active. */
  retiredAt: Date | undefined;
  /** New recordings are encrypted to the active key. */
  active: boolean;
  /** The private key is passphrase-protected. */
  encrypted: boolean;
  /** False when the private key file was removed: recordings made with this key can no longer be decrypted. */
  hasPrivateKey: boolean;
  privateKeyPath: string;
  publicKeyPath: string;
  publicKeyPem: string;
}

export interface GenerateKeyOptions {
  /** Encrypt the private key with this passphrase. Default: none (the file is protected by mode 0600 only). */
  passphrase?: string;
  /** Make the new key the active one. Default: only when the keyring has no active key yet (use rotateKey to switch). */
  activate?: boolean;
}

export interface RotateKeyOptions {
  /** Passphrase for the new private key. Default: none. */
  passphrase?: string;
}

const privateKeyPath = (dir: string, keyId: string): string => join(dir, `${keyId}.private.pem`);
const publicKeyPath = (dir: string, keyId: string): string => join(dir, `${keyId}.public.pem`);

function storeError(message: string, dir: string, cause?: unknown): CapstanError {
  return new CapstanError('CAPSTAN_ERR_KEY_STORE', message, { cause, details: { dir } });
}

async function readKeyring(dir: string): Promise<Keyring> {
  let text: string;
  try {
    text = await readFile(join(dir, KEYRING_FILE), 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { format: 'capstan-keyring', version: 1, active: null, keys: [] };
    throw storeError(`Cannot read the keyring in ${dir}: ${(cause as Error).message}`, dir, cause);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw storeError(`${join(dir, KEYRING_FILE)} is not valid JSON`, dir, cause);
  }
  const result = Keyring.safeParse(parsed);
  if (!result.success) throw storeError(`${join(dir, KEYRING_FILE)} is not a Capstan keyring: ${result.error.message}`, dir, result.error);
  return result.data;
}

/** Writes a file atomically (temp + rename) so a crash never leaves a half-written keyring. */
async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, data, { mode, flag: 'wx' });
  await chmod(temp, mode); // the umask may have narrowed it; make it exact
  await rename(temp, path);
}

async function writeKeyring(dir: string, keyring: Keyring): Promise<void> {
  try {
    await writeAtomic(join(dir, KEYRING_FILE), `${JSON.stringify(keyring, null, 2)}\n`, 0o644);
  } catch (cause) {
    throw storeError(`Cannot write the keyring in ${dir}: ${(cause as Error).message}`, dir, cause);
  }
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw storeError(`Cannot create the key directory ${dir}: ${(cause as Error).message}`, dir, cause);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function infoOf(dir: string, keyring: Keyring, entry: KeyringEntry): Promise<RecorderKeyInfo> {
  const pub = publicKeyPath(dir, entry.keyId);
  return {
    keyId: entry.keyId,
    createdAt: new Date(entry.createdAt),
    retiredAt: entry.retiredAt === undefined ? undefined : new Date(entry.retiredAt),
    active: keyring.active === entry.keyId,
    encrypted: entry.encrypted,
    hasPrivateKey: await exists(privateKeyPath(dir, entry.keyId)),
    privateKeyPath: privateKeyPath(dir, entry.keyId),
    publicKeyPath: pub,
    publicKeyPem: await readKeyFile(pub),
  };
}

async function activate(dir: string, keyring: Keyring, keyId: string, now: Date): Promise<void> {
  const previous = keyring.keys.find((k) => k.keyId === keyring.active);
  if (previous !== undefined && previous.keyId !== keyId) previous.retiredAt = now.toISOString();
  keyring.active = keyId;
  try {
    await writeAtomic(join(dir, ACTIVE_PUBLIC_KEY_FILE), await readKeyFile(publicKeyPath(dir, keyId)), 0o644);
  } catch (cause) {
    if (cause instanceof CapstanError) throw cause;
    throw storeError(`Cannot write ${ACTIVE_PUBLIC_KEY_FILE} in ${dir}: ${(cause as Error).message}`, dir, cause);
  }
}

/** Generates a key pair in `dir` (created 0700 if needed). */
export async function generateKey(dir: string, options: GenerateKeyOptions = {}): Promise<RecorderKeyInfo> {
  await ensureDir(dir);
  const keyring = await readKeyring(dir);
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const keyId = keyIdOf(publicKey);
  const encrypted = options.passphrase !== undefined && options.passphrase !== '';
  const privatePem = encrypted
    ? privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: options.passphrase! })
    : privateKey.export({ type: 'pkcs8', format: 'pem' });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' });
  try {
    // 'wx': never overwrite a key file, even one left by an interrupted run.
    await writeFile(privateKeyPath(dir, keyId), privatePem, { mode: 0o600, flag: 'wx' });
    await chmod(privateKeyPath(dir, keyId), 0o600);
    await writeFile(publicKeyPath(dir, keyId), publicPem, { mode: 0o644, flag: 'wx' });
    await chmod(publicKeyPath(dir, keyId), 0o644);
  } catch (cause) {
    throw storeError(`Cannot write the key files in ${dir}: ${(cause as Error).message}`, dir, cause);
  }
  const now = new Date();
  const entry: KeyringEntry = { keyId, createdAt: now.toISOString(), encrypted };
  keyring.keys.push(entry);
  if (options.activate ?? (keyring.active === null)) await activate(dir, keyring, keyId, now);
  // The keyring is written last: it is the commit point (key files without an entry are inert).
  await writeKeyring(dir, keyring);
  return infoOf(dir, keyring, entry);
}

/** The keys in `dir`, oldest first. An absent directory is an empty keyring. */
export async function listKeys(dir: string): Promise<RecorderKeyInfo[]> {
  const keyring = await readKeyring(dir);
  const infos = await Promise.all(keyring.keys.map((k) => infoOf(dir, keyring, k)));
  return infos.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

/** The active key. CAPSTAN_ERR_KEY_NOT_FOUND when the keyring has none (run `capstan keys generate`). */
export async function activeKey(dir: string): Promise<RecorderKeyInfo> {
  const keyring = await readKeyring(dir);
  const entry = keyring.keys.find((k) => k.keyId === keyring.active);
  if (entry === undefined) {
    throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', `No active Recorder key in ${dir}: run \`capstan keys generate\``, { details: { dir } });
  }
  return infoOf(dir, keyring, entry);
}

/**
 * Generates a new key and makes it the active one: new recordings are encrypted to it. The
 * previous key is kept (marked retired) so recordings made with it still decrypt.
 */
export async function rotateKey(dir: string, options: RotateKeyOptions = {}): Promise<{ previous: RecorderKeyInfo | undefined; current: RecorderKeyInfo }> {
  const before = await readKeyring(dir);
  const previousId = before.active;
  const current = await generateKey(dir, { ...options, activate: true });
  const previous = previousId === null ? undefined : (await listKeys(dir)).find((k) => k.keyId === previousId);
  return { previous, current };
}

/**
 * Loads a Recorder private key from a key directory (the key `keyId`, default the active one) or
 * from a PEM file (then `keyId`, if given, must match it).
 * Errors: CAPSTAN_ERR_KEY_NOT_FOUND, CAPSTAN_ERR_KEY_PASSPHRASE, CAPSTAN_ERR_KEY_INVALID.
 */
export async function loadPrivateKey(location: string, keyId?: string, passphrase?: string): Promise<KeyObject> {
  if (keyId !== undefined && !isKeyId(keyId)) {
    throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', `"${keyId}" is not a key id (16 hex digits)`, { details: { keyId } });
  }
  let isDir: boolean;
  try {
    isDir = (await stat(location)).isDirectory();
  } catch (cause) {
    throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', `No key file or directory at ${location}`, { cause, details: { path: location } });
  }
  if (!isDir) {
    const key = parsePrivateKeyPem(await readKeyFile(location), passphrase, location);
    const actual = keyIdOf(key);
    if (keyId !== undefined && actual !== keyId) {
      throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', `${location} holds key ${actual}, not ${keyId}`, { details: { path: location, keyId, actual } });
    }
    return key;
  }
  const keyring = await readKeyring(location);
  const id = keyId ?? keyring.active;
  if (id === null || !keyring.keys.some((k) => k.keyId === id)) {
    throw new CapstanError(
      'CAPSTAN_ERR_KEY_NOT_FOUND',
      id === null ? `No active Recorder key in ${location}` : `No key ${id} in ${location} (it has ${keyring.keys.map((k) => k.keyId).join(', ') || 'none'})`,
      { details: { dir: location, keyId: id } },
    );
  }
  const path = privateKeyPath(location, id);
  const key = parsePrivateKeyPem(await readKeyFile(path), passphrase, path);
  if (keyIdOf(key) !== id) throw new CapstanError('CAPSTAN_ERR_KEY_INVALID', `${path} does not hold key ${id}`, { details: { path, keyId: id } });
  return key;
}

/**
 * Loads a Recorder public key for a media server: a key directory (its active key), a PEM file, or
 * PEM text. A private key is refused (CAPSTAN_ERR_KEY_INVALID): media servers hold public keys only.
 */
export async function loadPublicKey(source: string | Buffer | KeyObject): Promise<KeyObject> {
  if (typeof source !== 'string' && !Buffer.isBuffer(source)) {
    if (source.type !== 'public') throw new CapstanError('CAPSTAN_ERR_KEY_INVALID', 'Expected a public key');
    return parsePublicKeyPem(source.export({ type: 'spki', format: 'pem' }).toString());
  }
  const text = source.toString();
  if (text.includes('-----BEGIN')) return parsePublicKeyPem(text);
  let isDir = false;
  try {
    isDir = (await stat(text)).isDirectory();
  } catch (cause) {
    throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', `No public key file or directory at ${text}`, { cause, details: { path: text } });
  }
  const path = isDir ? (await activeKey(text)).publicKeyPath : text;
  return parsePublicKeyPem(await readKeyFile(path), path);
}

/** The active public key of `dir` as PEM, to copy to media servers. */
export async function exportPublicKey(dir: string, keyId?: string): Promise<string> {
  if (keyId === undefined) return (await activeKey(dir)).publicKeyPem;
  const info = (await listKeys(dir)).find((k) => k.keyId === keyId);
  if (info === undefined) throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', `No key ${keyId} in ${dir}`, { details: { dir, keyId } });
  return info.publicKeyPem;
}

export interface PrivateKeyResolverOptions {
  /** Passphrase for passphrase-protected keys (one passphrase for the keyring). Default: none. */
  passphrase?: string;
}

/**
 * A key lookup for SasfReader/decryptSasf: finds the private key a file names in the keyring `dir`,
 * caching each loaded key (decrypting a passphrase-protected key costs a key derivation).
 */
export function privateKeyResolver(dir: string, options: PrivateKeyResolverOptions = {}): (keyId: string) => Promise<KeyObject> {
  const cache = new Map<string, Promise<KeyObject>>();
  return (keyId) => {
    let key = cache.get(keyId);
    if (key === undefined) {
      key = loadPrivateKey(dir, keyId, options.passphrase);
      cache.set(keyId, key);
      key.catch(() => cache.delete(keyId)); // a failure (missing key, wrong passphrase) is not cached
    }
    return key;
  };
}
