/**
 * Every alteration of a SASF file is refused with a coded error and yields no audio. With
 * `allowIncomplete`, the only thing a reader may return is a verified prefix of the original body
 * at a chunk boundary, marked incomplete.
 */
import { describe, expect, it } from 'vitest';
import { CapstanError, type ErrorCode } from '../../../core/errors.ts';
import { decryptSasf } from '../../../media/sasf/reader.ts';
import { encodeSample, expectCode, newKeys, pattern, type EncodedSample } from './sasf-fixtures.ts';

const keys = newKeys();
// 700 bytes in 256-byte chunks: 3 data chunks (256, 256, 188) and a final chunk holding a rewrite,
// so the trailer is exercised too. About 1 KB: every bit can be flipped in a second or two.
const body = pattern(700, 7);
const rewrite: [number, Buffer] = [4, Buffer.from('size')];
const sample = encodeSample(body, keys, { writeSize: 50, rewrites: [rewrite] });
const finished = Buffer.from(body);
rewrite[1].copy(finished, rewrite[0]);

/** The prefix of the original body made of the data chunks wholly inside the first `length` bytes. */
function verifiedPrefixLength(s: EncodedSample, length: number): number {
  return s.chunks.filter((c) => !c.final && c.end <= length).reduce((n, c) => n + c.plaintextLength, 0);
}

/**
 * What a reader may do with an altered file: refuse with a coded error from `allowed`, or (only
 * with allowIncomplete) return a verified prefix of the body at a chunk boundary, marked incomplete.
 * Returns what went wrong, or undefined; the loops collect these and assert once (thousands of cases).
 */
async function refusal(file: Buffer, allowed: ErrorCode[]): Promise<string | undefined> {
  try {
    await decryptSasf(file, { privateKey: keys.privateKey });
    return 'decrypted without an error';
  } catch (e) {
    if (!(e instanceof CapstanError)) return `uncoded error ${String(e)}`;
    if (!allowed.includes(e.code)) return `${e.code} (${e.message}), expected ${allowed.join('|')}`;
  }
  try {
    const lenient = await decryptSasf(file, { privateKey: keys.privateKey, allowIncomplete: true });
    if (lenient.complete) return 'allowIncomplete: reported complete';
    if (!body.subarray(0, lenient.plaintext.length).equals(lenient.plaintext)) return 'allowIncomplete: returned bytes that are not the original prefix';
    if (![0, ...sample.chunks.map((c) => verifiedPrefixLength(sample, c.end))].includes(lenient.plaintext.length)) return 'allowIncomplete: not at a chunk boundary';
  } catch (e) {
    if (!(e instanceof CapstanError) || !e.code.startsWith('CAPSTAN_ERR_SASF_')) return `allowIncomplete: unexpected ${String(e)}`;
  }
  return undefined;
}

async function expectRefused(file: Buffer, allowed: ErrorCode[], what: string): Promise<void> {
  expect(await refusal(file, allowed), what).toBeUndefined();
}

function regionOf(offset: number): { name: string; allowed: ErrorCode[] } {
  const h = sample.headerLength;
  if (offset < 8) return { name: 'magic', allowed: ['CAPSTAN_ERR_SASF_FORMAT'] };
  if (offset < 12) return { name: 'version/aead/wrap/reserved', allowed: ['CAPSTAN_ERR_SASF_FORMAT'] };
  if (offset < 16) return { name: 'header length', allowed: ['CAPSTAN_ERR_SASF_FORMAT', 'CAPSTAN_ERR_SASF_TRUNCATED'] };
  if (offset < 34) return { name: 'chunk size/created/rate/channels', allowed: ['CAPSTAN_ERR_SASF_FORMAT', 'CAPSTAN_ERR_SASF_TAMPERED'] };
  if (offset < 42) return { name: 'key id', allowed: ['CAPSTAN_ERR_SASF_WRONG_KEY'] };
  if (offset < 74) return { name: 'ephemeral key', allowed: ['CAPSTAN_ERR_SASF_TAMPERED'] };
  if (offset < 122) return { name: 'wrapped key', allowed: ['CAPSTAN_ERR_SASF_TAMPERED'] };
  if (offset < 161) return { name: 'salt/nonce prefix', allowed: ['CAPSTAN_ERR_SASF_TAMPERED'] };
  if (offset < h) return { name: 'recording id/MIME type', allowed: ['CAPSTAN_ERR_SASF_FORMAT', 'CAPSTAN_ERR_SASF_TAMPERED'] };
  const chunk = sample.chunks.findIndex((c) => offset >= c.start && offset < c.end);
  const c = sample.chunks[chunk]!;
  const label = c.final ? 'final chunk' : `chunk ${chunk}`;
  // A changed length or flag in the (unauthenticated) prefix makes the framing point elsewhere:
  // the chunk fails to verify, or the file looks cut short.
  if (offset < c.start + 4) return { name: `${label} prefix`, allowed: ['CAPSTAN_ERR_SASF_TAMPERED', 'CAPSTAN_ERR_SASF_TRUNCATED'] };
  if (offset >= c.end - 16) return { name: `${label} tag`, allowed: ['CAPSTAN_ERR_SASF_TAMPERED'] };
  return { name: `${label} ciphertext`, allowed: ['CAPSTAN_ERR_SASF_TAMPERED'] };
}

describe('a tampered SASF file', () => {
  it('decrypts untouched, as the baseline for everything below', async () => {
    expect(sample.chunks.map((c) => [c.plaintextLength, c.final])).toEqual([[256, false], [256, false], [188, false], [28, true]]);
    const result = await decryptSasf(sample.file, { privateKey: keys.privateKey });
    expect(result.plaintext).toEqual(finished);
    expect(result.complete).toBe(true);
  });

  it('is refused when any single bit of it is flipped: header, wrapped key, every chunk, every tag', async () => {
    const seen = new Set<string>();
    const failures: string[] = [];
    for (let offset = 0; offset < sample.file.length; offset++) {
      const region = regionOf(offset);
      seen.add(region.name);
      // Every bit of the structured parts (header, chunk prefixes, tags); in ciphertext, where the
      // AEAD treats every bit alike, one bit per byte (rotating) keeps the test around a second.
      const bits = region.name.endsWith('ciphertext') ? [offset % 8] : [0, 1, 2, 3, 4, 5, 6, 7];
      for (const bit of bits) {
        const file = Buffer.from(sample.file);
        file[offset]! ^= 1 << bit;
        const problem = await refusal(file, region.allowed);
        if (problem !== undefined) failures.push(`bit ${bit} of byte ${offset} (${region.name}): ${problem}`);
      }
    }
    expect(failures).toEqual([]);
    // The walk covered every part of the file.
    for (const part of ['magic', 'key id', 'wrapped key', 'chunk 0 ciphertext', 'chunk 2 tag', 'final chunk ciphertext', 'final chunk prefix']) expect(seen).toContain(part);
  });

  it('cut at every byte is refused as truncated, or with allowIncomplete gives exactly the whole chunks before the cut', async () => {
    const failures: string[] = [];
    const codeOf = async (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'no error',
        (e: unknown) => (e instanceof CapstanError ? e.code : String(e)),
      );
    for (let length = 0; length < sample.file.length; length++) {
      const cut = sample.file.subarray(0, length);
      const strict = await codeOf(decryptSasf(cut, { privateKey: keys.privateKey }));
      if (strict !== 'CAPSTAN_ERR_SASF_TRUNCATED') failures.push(`cut at ${length}: ${strict}`);
      if (length < sample.headerLength) {
        // Nothing to recover without a whole header.
        const lenient = await codeOf(decryptSasf(cut, { privateKey: keys.privateKey, allowIncomplete: true }));
        if (lenient !== 'CAPSTAN_ERR_SASF_TRUNCATED') failures.push(`cut at ${length}, allowIncomplete: ${lenient}`);
        continue;
      }
      const result = await decryptSasf(cut, { privateKey: keys.privateKey, allowIncomplete: true });
      // No rewrites in an incomplete file: they live in the final chunk.
      if (result.complete || !result.plaintext.equals(body.subarray(0, verifiedPrefixLength(sample, length)))) {
        failures.push(`cut at ${length}, allowIncomplete: complete=${result.complete}, ${result.plaintext.length} bytes`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('with anything appended is refused, even with allowIncomplete', async () => {
    const lastData = sample.chunks[2]!;
    const final = sample.chunks[3]!;
    const appendages = [
      Buffer.alloc(1),
      pattern(16, 3),
      sample.file.subarray(lastData.start, lastData.end), // a copy of a real chunk
      sample.file.subarray(final.start, final.end), // a second final chunk
      sample.file, // a whole second file
    ];
    for (const extra of appendages) {
      const file = Buffer.concat([sample.file, extra]);
      await expectCode(() => decryptSasf(file, { privateKey: keys.privateKey }), 'CAPSTAN_ERR_SASF_TAMPERED');
      await expectCode(() => decryptSasf(file, { privateKey: keys.privateKey, allowIncomplete: true }), 'CAPSTAN_ERR_SASF_TAMPERED');
    }
  });

  it('with its chunks reordered, duplicated, dropped or promoted to final is refused', async () => {
    const [c0, c1, c2, fin] = sample.chunks.map((c) => sample.file.subarray(c.start, c.end)) as [Buffer, Buffer, Buffer, Buffer];
    const header = sample.file.subarray(0, sample.headerLength);
    const promoted = Buffer.from(c2);
    promoted.writeUInt32BE((promoted.readUInt32BE(0) | 0x8000_0000) >>> 0, 0); // claim the last data chunk is final
    const variants: Record<string, Buffer> = {
      swapped: Buffer.concat([header, c1, c0, c2, fin]),
      duplicated: Buffer.concat([header, c0, c0, c1, c2, fin]),
      'middle dropped': Buffer.concat([header, c0, c2, fin]),
      'first dropped': Buffer.concat([header, c1, c2, fin]),
      'final moved': Buffer.concat([header, c0, c1, fin, c2]),
      'data only, last promoted to final': Buffer.concat([header, c0, c1, promoted]),
    };
    for (const [name, file] of Object.entries(variants)) await expectRefused(file, ['CAPSTAN_ERR_SASF_TAMPERED'], name);
  });

  it('mixed with another file encrypted to the same key is refused: swapped headers, swapped chunks', async () => {
    // Same key, same metadata, same body: only the per-file data key, salt and nonce prefix differ.
    const other = encodeSample(body, keys, { writeSize: 50, rewrites: [rewrite] });
    const piece = (s: EncodedSample, i: number): Buffer => s.file.subarray(s.chunks[i]!.start, s.chunks[i]!.end);
    const headerOf = (s: EncodedSample): Buffer => s.file.subarray(0, s.headerLength);
    const variants: Record<string, Buffer> = {
      "other file's header": Buffer.concat([headerOf(other), sample.file.subarray(sample.headerLength)]),
      "other file's chunk 1": Buffer.concat([headerOf(sample), piece(sample, 0), piece(other, 1), piece(sample, 2), piece(sample, 3)]),
      "other file's final chunk": Buffer.concat([headerOf(sample), piece(sample, 0), piece(sample, 1), piece(sample, 2), piece(other, 3)]),
      "other file's header, this file's final chunk": Buffer.concat([headerOf(other), piece(other, 0), piece(other, 1), piece(other, 2), piece(sample, 3)]),
    };
    for (const [name, file] of Object.entries(variants)) await expectRefused(file, ['CAPSTAN_ERR_SASF_TAMPERED'], name);
  });

  it('with its metadata changed but every length kept is refused (the header is bound to every chunk)', async () => {
    const file = Buffer.from(sample.file);
    const at = sample.file.indexOf('rec-0001');
    file.write('rec-0002', at, 'ascii');
    await expectRefused(file, ['CAPSTAN_ERR_SASF_TAMPERED'], 'recording id');
  });

  it('is refused with a different private key, naming the key the file needs', async () => {
    const e = await expectCode(() => decryptSasf(sample.file, { privateKey: newKeys().privateKey }), 'CAPSTAN_ERR_SASF_WRONG_KEY');
    expect(e.details).toMatchObject({ fileKeyId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    await expectCode(() => decryptSasf(sample.file, { privateKey: keys.publicKey }), 'CAPSTAN_ERR_KEY_INVALID');
  });
});
