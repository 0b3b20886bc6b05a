/** The test vector published in docs/sasf.md decrypts as the document says: spec and code agree. */
import { createHash, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { keyIdOf } from '../../../core/keys/key-id.ts';
import { unwrapDataKey } from '../../../media/sasf/envelope.ts';
import { SasfHeader } from '../../../media/sasf/format.ts';
import { decryptSasf } from '../../../media/sasf/reader.ts';

const doc = readFileSync(new URL('../../../docs/sasf.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## Test vector'));
const field = (name: string): string => {
  const m = section.match(new RegExp(`^${name.replace(/[()]/g, '\\$&')}: (.+)$`, 'm'));
  if (!m) throw new Error(`docs/sasf.md test vector has no "${name}" line`);
  return m[1]!.trim();
};
const hexBlock = section.slice(section.indexOf('file (573 bytes, hex):')).split('\n').slice(1);
const file = Buffer.from(hexBlock.slice(0, hexBlock.indexOf('```')).join(''), 'hex');

describe('the docs/sasf.md test vector', () => {
  const scalar = Buffer.from(field('private key (X25519 scalar, hex)'), 'hex');
  const publicRaw = Buffer.from(field('public key (hex)'), 'hex');
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: scalar.toString('base64url'), x: publicRaw.toString('base64url') },
    format: 'jwk',
  });

  it('has the documented key id, data key and header hash', () => {
    expect(file.length).toBe(573);
    expect(keyIdOf(privateKey)).toBe(field('key id'));
    const { header, headerBytes } = SasfHeader.parse(file);
    expect(header).toMatchObject({ keyId: field('key id'), recordingId: 'vector-1', mimeType: 'audio/L16', sampleRate: 8000, channels: 1, chunkSize: 256, aead: 'aes-256-gcm' });
    expect(header.createdAt.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(unwrapDataKey(privateKey, header).toString('hex')).toBe(field('data key'));
    expect(createHash('sha256').update(headerBytes).digest('hex')).toBe(field('header sha256'));
  });

  it('decrypts to the documented plaintext, rewrite applied', async () => {
    const expected = Buffer.from('Capstan SASF test vector. '.repeat(12).slice(0, 300), 'ascii');
    expected.write('CAPSTAN', 0, 'ascii');
    const result = await decryptSasf(file, { privateKey });
    expect(result.complete).toBe(true);
    expect(result.chunkCount).toBe(2);
    expect(result.plaintext).toEqual(expected);
  });
});
