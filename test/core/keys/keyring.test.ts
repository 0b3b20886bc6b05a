import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CapstanError } from '../../../core/errors.ts';
import {
  ACTIVE_PUBLIC_KEY_FILE,
  exportPublicKey,
  generateKey,
  keyIdOf,
  listKeys,
  loadPrivateKey,
  loadPublicKey,
  privateKeyResolver,
  rotateKey,
} from '../../../core/keys/index.ts';
import { SasfEncoder } from '../../../media/sasf/encoder.ts';
import { decryptSasf } from '../../../media/sasf/reader.ts';

let root: string;
let n = 0;
const freshDir = (): string => join(root, `keys${++n}`);

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'capstan-keys-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CapstanError) return e.code;
    throw e;
  }
  return 'no error';
}

/** What a media server does: encrypt to the public key it was given. */
async function recordWith(publicKeySource: string, recordingId: string, body: Buffer): Promise<Buffer> {
  const encoder = new SasfEncoder({
    publicKey: await loadPublicKey(publicKeySource),
    metadata: { recordingId, mimeType: 'audio/PCMU', sampleRate: 8000, channels: 1 },
  });
  return Buffer.concat([encoder.headerBytes, ...encoder.push(body), ...encoder.finish()]);
}

describe('Recorder keys', () => {
  it('generate a key pair: private key 0600 in a 0700 directory, public key exported, first key active', async () => {
    const dir = freshDir();
    const key = await generateKey(dir);
    expect(key.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(key).toMatchObject({ active: true, encrypted: false, hasPrivateKey: true, retiredAt: undefined });
    expect((await stat(key.privateKeyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readFile(key.privateKeyPath, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const pub = createPublicKey(key.publicKeyPem);
    expect(keyIdOf(pub)).toBe(key.keyId); // the id is a hash of the public key
    expect(await readFile(join(dir, ACTIVE_PUBLIC_KEY_FILE), 'utf8')).toBe(key.publicKeyPem);
    expect(await exportPublicKey(dir)).toBe(key.publicKeyPem);
    expect(keyIdOf(await loadPrivateKey(dir))).toBe(key.keyId);
  });

  it('generate a second key without activating it, unless asked', async () => {
    const dir = freshDir();
    const first = await generateKey(dir);
    const second = await generateKey(dir);
    const third = await generateKey(dir, { activate: true });
    const keys = await listKeys(dir);
    expect(keys.map((k) => [k.keyId, k.active])).toEqual([
      [first.keyId, false],
      [second.keyId, false],
      [third.keyId, true],
    ]);
    expect(keys[0]!.retiredAt).toBeInstanceOf(Date);
  });

  it('protect a private key with a passphrase: needed to load it, and a wrong one is refused', async () => {
    const dir = freshDir();
    const key = await generateKey(dir, { passphrase: 'correct horse battery staple' });
    expect(key.encrypted).toBe(true);
    expect(await readFile(key.privateKeyPath, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect(await codeOf(loadPrivateKey(dir))).toBe('CAPSTAN_ERR_KEY_PASSPHRASE');
    expect(await codeOf(loadPrivateKey(dir, key.keyId, 'wrong'))).toBe('CAPSTAN_ERR_KEY_PASSPHRASE');
    const loaded = await loadPrivateKey(dir, key.keyId, 'correct horse battery staple');
    expect(keyIdOf(loaded)).toBe(key.keyId);
    // The same file loads by path too (`capstan sasf decrypt --key FILE`).
    expect(keyIdOf(await loadPrivateKey(key.privateKeyPath, undefined, 'correct horse battery staple'))).toBe(key.keyId);
  });

  it('rotate: new recordings use the new key, old recordings still decrypt through the keyring', async () => {
    const dir = freshDir();
    const first = await generateKey(dir);
    const oldRecording = await recordWith(join(dir, ACTIVE_PUBLIC_KEY_FILE), 'old', Buffer.from('before rotation'));
    const { previous, current } = await rotateKey(dir);
    expect(previous?.keyId).toBe(first.keyId);
    expect(previous?.active).toBe(false);
    expect(previous?.retiredAt).toBeInstanceOf(Date);
    expect(current.active).toBe(true);
    expect(current.keyId).not.toBe(first.keyId);
    // A media server reading the stable active path (or the directory) now gets the new key.
    const newRecording = await recordWith(dir, 'new', Buffer.from('after rotation'));

    const keyring = privateKeyResolver(dir);
    expect((await decryptSasf(oldRecording, { privateKey: keyring })).plaintext.toString()).toBe('before rotation');
    const fresh = await decryptSasf(newRecording, { privateKey: keyring });
    expect(fresh.plaintext.toString()).toBe('after rotation');
    expect(fresh.header.keyId).toBe(current.keyId);
    // The active key alone cannot open the old recording.
    expect(await codeOf(decryptSasf(oldRecording, { privateKey: await loadPrivateKey(dir) }))).toBe('CAPSTAN_ERR_SASF_WRONG_KEY');
  });

  it('refuse a recording whose key was rotated away and deleted, while newer ones still decrypt', async () => {
    const dir = freshDir();
    const first = await generateKey(dir);
    const oldRecording = await recordWith(dir, 'old', Buffer.from('old'));
    await rotateKey(dir);
    const newRecording = await recordWith(dir, 'new', Buffer.from('new'));
    await unlink(first.privateKeyPath); // crypto-shredding the old key
    expect((await listKeys(dir)).find((k) => k.keyId === first.keyId)?.hasPrivateKey).toBe(false);
    const keyring = privateKeyResolver(dir);
    expect(await codeOf(decryptSasf(oldRecording, { privateKey: keyring }))).toBe('CAPSTAN_ERR_KEY_NOT_FOUND');
    expect((await decryptSasf(newRecording, { privateKey: keyring })).plaintext.toString()).toBe('new');
  });

  it('refuse a missing key, a key id not in the keyring, an empty keyring and a mismatched file', async () => {
    const dir = freshDir();
    expect(await listKeys(dir)).toEqual([]);
    expect(await codeOf(loadPrivateKey(dir))).toBe('CAPSTAN_ERR_KEY_NOT_FOUND');
    expect(await codeOf(loadPublicKey(join(dir, 'nope.pem')))).toBe('CAPSTAN_ERR_KEY_NOT_FOUND');
    const key = await generateKey(dir);
    expect(await codeOf(loadPrivateKey(dir, '0000000000000000'))).toBe('CAPSTAN_ERR_KEY_NOT_FOUND');
    expect(await codeOf(loadPrivateKey(dir, 'not-a-key-id'))).toBe('CAPSTAN_ERR_KEY_NOT_FOUND');
    expect(await codeOf(loadPrivateKey(key.privateKeyPath, '0000000000000000'))).toBe('CAPSTAN_ERR_KEY_NOT_FOUND');
  });

  it('refuse to give a media server a private key, and files that are not X25519 keys', async () => {
    const dir = freshDir();
    const key = await generateKey(dir);
    expect(await codeOf(loadPublicKey(key.privateKeyPath))).toBe('CAPSTAN_ERR_KEY_INVALID');
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
    expect(await codeOf(loadPublicKey(garbage))).toBe('CAPSTAN_ERR_KEY_INVALID');
    const ed = generateKeyPairSync('ed25519');
    expect(await codeOf(loadPublicKey(ed.publicKey.export({ type: 'spki', format: 'pem' }).toString()))).toBe('CAPSTAN_ERR_KEY_INVALID');
    const edFile = join(dir, 'ed.pem');
    await writeFile(edFile, ed.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(await codeOf(loadPrivateKey(edFile))).toBe('CAPSTAN_ERR_KEY_INVALID');
  });

  it('refuse a damaged keyring file with a coded error', async () => {
    const dir = freshDir();
    await generateKey(dir);
    await writeFile(join(dir, 'keyring.json'), '{"format":"something else"}');
    expect(await codeOf(listKeys(dir))).toBe('CAPSTAN_ERR_KEY_STORE');
    await writeFile(join(dir, 'keyring.json'), '{not json');
    expect(await codeOf(generateKey(dir))).toBe('CAPSTAN_ERR_KEY_STORE');
  });
});
