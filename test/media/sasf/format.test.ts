import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CapstanError } from '../../../core/errors.ts';
import {
  SASF_MAGIC,
  SasfHeader,
  SasfTrailer,
  applyRewrites,
  chunkNonce,
  decodeChunkPrefix,
  encodeChunkPrefix,
  type SasfHeaderFields,
} from '../../../media/sasf/format.ts';

const fields: SasfHeaderFields = {
  version: 1,
  aead: 'chacha20-poly1305',
  keyWrap: 'x25519-hkdf-sha256-aes-256-gcm',
  chunkSize: 65_536,
  createdAt: new Date('2025-06-01T12:00:00.123Z'),
  sampleRate: 8000,
  channels: 2,
  keyId: '0123456789abcdef',
  ephemeralPublicKey: randomBytes(32),
  wrappedKey: randomBytes(48),
  salt: randomBytes(32),
  noncePrefix: randomBytes(7),
  recordingId: 'récording-ß-1',
  mimeType: 'audio/PCMU',
};

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CapstanError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('SasfHeader', () => {
  it('serializes to the documented layout and parses back to the same fields', () => {
    const bytes = new SasfHeader(fields).serialize();
    expect(bytes.subarray(0, 8)).toEqual(SASF_MAGIC);
    expect(bytes.readUInt8(8)).toBe(1);
    expect(bytes.readUInt8(9)).toBe(2); // chacha20-poly1305
    expect(bytes.readUInt32BE(12)).toBe(bytes.length);
    expect(bytes.readUInt32BE(16)).toBe(65_536);
    expect(bytes.readBigUInt64BE(20)).toBe(BigInt(fields.createdAt.getTime()));
    expect(bytes.subarray(34, 42).toString('hex')).toBe(fields.keyId);
    expect(bytes.length).toBe(165 + Buffer.byteLength(fields.recordingId) + fields.mimeType.length);
    const { header, headerBytes } = SasfHeader.parse(Buffer.concat([bytes, Buffer.from('chunks follow')]));
    expect(headerBytes).toEqual(bytes);
    expect({ ...header }).toEqual({ ...new SasfHeader(fields) });
  });

  it('refuses a file that is not SASF, or a version it does not know, as a format error', () => {
    const bytes = new SasfHeader(fields).serialize();
    const mutate = (at: number, value: number): Buffer => {
      const b = Buffer.from(bytes);
      b[at] = value;
      return b;
    };
    expect(codeOf(() => SasfHeader.parse(Buffer.from('RIFF....WAVEfmt nothing to see here')))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    expect(codeOf(() => SasfHeader.parse(mutate(8, 2)))).toBe('CAPSTAN_ERR_SASF_FORMAT'); // version 2
    expect(codeOf(() => SasfHeader.parse(mutate(9, 7)))).toBe('CAPSTAN_ERR_SASF_FORMAT'); // unknown AEAD
    expect(codeOf(() => SasfHeader.parse(mutate(10, 0)))).toBe('CAPSTAN_ERR_SASF_FORMAT'); // unknown key wrap
    expect(codeOf(() => SasfHeader.parse(mutate(11, 1)))).toBe('CAPSTAN_ERR_SASF_FORMAT'); // reserved byte
    expect(codeOf(() => SasfHeader.parse(mutate(15, bytes[15]! + 1)))).not.toBe('no error'); // header length
    expect(codeOf(() => SasfHeader.parse(mutate(33, 0)))).toBe('CAPSTAN_ERR_SASF_FORMAT'); // 0 channels... (u16 low byte)
    expect(codeOf(() => SasfHeader.parse(mutate(163, 0xff)))).toBe('CAPSTAN_ERR_SASF_FORMAT'); // invalid UTF-8 in the id
    expect(codeOf(() => SasfHeader.parse(mutate(bytes.length - 1, 0x20)))).toBe('CAPSTAN_ERR_SASF_FORMAT'); // space in MIME type
  });

  it('says a header cut short is truncated, at every length', () => {
    const bytes = new SasfHeader(fields).serialize();
    for (let n = 0; n < bytes.length; n++) expect(codeOf(() => SasfHeader.parse(bytes.subarray(0, n))), `cut at ${n}`).toBe('CAPSTAN_ERR_SASF_TRUNCATED');
  });

  it('refuses metadata that does not fit the header', () => {
    expect(codeOf(() => new SasfHeader({ ...fields, recordingId: '' }))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    expect(codeOf(() => new SasfHeader({ ...fields, recordingId: 'x'.repeat(1025) }))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    expect(codeOf(() => new SasfHeader({ ...fields, mimeType: 'PCMU' }))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    expect(codeOf(() => new SasfHeader({ ...fields, sampleRate: 0 }))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    expect(codeOf(() => new SasfHeader({ ...fields, chunkSize: 255 }))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    expect(codeOf(() => new SasfHeader({ ...fields, chunkSize: 16 * 1024 * 1024 + 1 }))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    expect(codeOf(() => new SasfHeader({ ...fields, salt: randomBytes(31) }))).toBe('CAPSTAN_ERR_SASF_FORMAT');
  });
});

describe('chunk nonce and prefix', () => {
  it('put the prefix, the big-endian index and the final flag where Tink puts them', () => {
    const prefix = Buffer.from('abcdefg');
    expect(chunkNonce(prefix, 0x01020304, false).toString('hex')).toBe(`${prefix.toString('hex')}0102030400`);
    expect(chunkNonce(prefix, 0xffff_ffff, true).toString('hex')).toBe(`${prefix.toString('hex')}ffffffff01`);
    expect(codeOf(() => chunkNonce(prefix, 2 ** 32, false))).toBe('CAPSTAN_ERR_SASF_FORMAT');
  });

  it('carry the length in 31 bits and the final flag in the top bit', () => {
    expect(decodeChunkPrefix(encodeChunkPrefix(65_536, true))).toEqual({ length: 65_536, final: true });
    expect(decodeChunkPrefix(encodeChunkPrefix(0, false))).toEqual({ length: 0, final: false });
  });
});

describe('SasfTrailer', () => {
  it('round-trips the body length and rewrites', () => {
    const t = new SasfTrailer(1000, [{ offset: 0, data: Buffer.from('RIFF') }, { offset: 40, data: Buffer.from([1, 2, 3, 4]) }]);
    const parsed = SasfTrailer.parse(t.serialize());
    expect(parsed.bodyLength).toBe(1000);
    expect(parsed.rewrites).toEqual(t.rewrites);
  });

  it('refuses rewrites outside the body, overruns and trailing bytes', () => {
    const outside = new SasfTrailer(10, [{ offset: 8, data: Buffer.alloc(4) }]).serialize();
    expect(codeOf(() => SasfTrailer.parse(outside))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    const ok = new SasfTrailer(100, [{ offset: 8, data: Buffer.alloc(4) }]).serialize();
    expect(codeOf(() => SasfTrailer.parse(ok.subarray(0, ok.length - 1)))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    expect(codeOf(() => SasfTrailer.parse(Buffer.concat([ok, Buffer.alloc(1)])))).toBe('CAPSTAN_ERR_SASF_FORMAT');
    expect(codeOf(() => SasfTrailer.parse(Buffer.alloc(11)))).toBe('CAPSTAN_ERR_SASF_FORMAT');
  });

  it('applies rewrites in order to the part of each chunk they cover', () => {
    const chunk = Buffer.from('0123456789');
    applyRewrites(chunk, 100, [
      { offset: 95, data: Buffer.from('abcdefg') }, // covers 100..101
      { offset: 108, data: Buffer.from('XYZ') }, // covers 108..109
      { offset: 101, data: Buffer.from('Q') }, // later wins over the first
    ]);
    expect(chunk.toString()).toBe('fQ234567XY');
  });
});
