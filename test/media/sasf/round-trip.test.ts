import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SasfEncoder } from '../../../media/sasf/encoder.ts';
import { encryptSasfFile } from '../../../media/sasf/encrypt-file.ts';
import { inspectSasf } from '../../../media/sasf/inspect.ts';
import { probeAudioHeader } from '../../../media/sasf/probe.ts';
import { SasfReader, decryptSasf, decryptSasfFile } from '../../../media/sasf/reader.ts';
import { expectCode, ffmpegDecode, ffmpegMake, metadata, newKeys } from './sasf-fixtures.ts';

const keys = newKeys();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sasf-rt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Op = { kind: 'write'; length: number } | { kind: 'flush' };

describe('SASF round trip', () => {
  it('gives back any payload, however it was written, flushed and chunked, with both AEADs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.array(fc.oneof(fc.record({ kind: fc.constant('write' as const), length: fc.integer({ min: 0, max: 700 }) }), fc.constant<Op>({ kind: 'flush' })), {
          maxLength: 20,
        }),
        fc.constantFrom(256, 257, 1000, 4096),
        fc.constantFrom('aes-256-gcm' as const, 'chacha20-poly1305' as const),
        async (payload, ops, chunkSize, aead) => {
          const body = Buffer.from(payload);
          const encoder = new SasfEncoder({ publicKey: keys.publicKey, metadata, chunkSize, aead });
          const parts = [encoder.headerBytes];
          let at = 0;
          for (const op of ops) {
            if (op.kind === 'flush') parts.push(...encoder.flush());
            else {
              parts.push(...encoder.push(body.subarray(at, at + op.length)));
              at = Math.min(body.length, at + op.length);
            }
          }
          parts.push(...encoder.push(body.subarray(at)));
          parts.push(...encoder.finish());
          const result = await decryptSasf(Buffer.concat(parts), { privateKey: keys.privateKey });
          expect(result.complete).toBe(true);
          expect(result.plaintext).toEqual(body);
          expect(result.header.aead).toBe(aead);
          expect(result.header.recordingId).toBe(metadata.recordingId);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('applies rewrites of already-written bytes, the later over the earlier, only in a finished file', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 2000 }),
        fc.array(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 0, maxLength: 60 })), { maxLength: 3 }),
        async (payload, rewrites) => {
          const body = Buffer.from(payload);
          const expected = Buffer.from(body);
          const encoder = new SasfEncoder({ publicKey: keys.publicKey, metadata, chunkSize: 300 });
          const parts = [encoder.headerBytes, ...encoder.push(body)];
          for (const [at, data] of rewrites) {
            const offset = at % body.length;
            const slice = Buffer.from(data).subarray(0, body.length - offset);
            encoder.rewrite(offset, slice);
            slice.copy(expected, offset);
          }
          parts.push(...encoder.finish());
          const { plaintext } = await decryptSasf(Buffer.concat(parts), { privateKey: keys.privateKey });
          expect(plaintext).toEqual(expected);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses a rewrite of bytes not yet written, or too large for the final chunk', () => {
    const encoder = new SasfEncoder({ publicKey: keys.publicKey, metadata, chunkSize: 256 });
    encoder.push(Buffer.alloc(1000));
    expect(() => encoder.rewrite(999, Buffer.alloc(2))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_SASF_WRITE' }));
    expect(() => encoder.rewrite(0, Buffer.alloc(245))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_SASF_WRITE' }));
    encoder.rewrite(0, Buffer.alloc(232)); // 12 + 12 + 232 = 256: exactly fits
  });

  it('encrypts an empty recording to a complete file with no data chunks', async () => {
    const encoder = new SasfEncoder({ publicKey: keys.publicKey, metadata });
    const file = Buffer.concat([encoder.headerBytes, ...encoder.finish()]);
    const result = await decryptSasf(file, { privateKey: keys.privateKey });
    expect(result).toMatchObject({ complete: true, chunkCount: 0 });
    expect(result.plaintext.length).toBe(0);
  });

  it('streams a large file chunk by chunk, knowing it is complete before the first chunk', async () => {
    const body = Buffer.alloc(3 * 65_536 + 123, 0x5a);
    const encoder = new SasfEncoder({ publicKey: keys.publicKey, metadata });
    const path = join(dir, 'large.sasf');
    await writeFile(path, Buffer.concat([encoder.headerBytes, ...encoder.push(body), ...encoder.finish()]));
    const reader = await SasfReader.open(path, { privateKey: keys.privateKey });
    expect(reader.complete).toBe(true);
    expect(reader.chunkCount).toBe(4);
    const sizes: number[] = [];
    for await (const chunk of reader.chunks()) sizes.push(chunk.length);
    await reader.close();
    await reader.close(); // idempotent
    expect(sizes).toEqual([65_536, 65_536, 65_536, 123]);
  });
});

describe('every recording format under SASF', () => {
  // The formats of DESIGN "Formats", made by ffmpeg as an outside encoder. TrueSpeech has no
  // encoder in ffmpeg; its case below uses a WAV with the TrueSpeech tag and arbitrary frames.
  const formats = [
    { name: 'L16 stereo WAV', file: 'l16.wav', codec: 'pcm_s16le', channels: 2, mimeType: 'audio/L16' },
    { name: 'µ-law WAV', file: 'pcmu.wav', codec: 'pcm_mulaw', channels: 1, mimeType: 'audio/PCMU' },
    { name: 'A-law dual-channel WAV', file: 'pcma.wav', codec: 'pcm_alaw', channels: 2, mimeType: 'audio/PCMA' },
    { name: 'GSM 06.10 WAV', file: 'gsm.wav', codec: 'libgsm_ms', channels: 1, mimeType: 'audio/GSM' },
    { name: 'Ogg Opus', file: 'opus.opus', codec: 'libopus', channels: 2, mimeType: 'audio/opus' },
  ];

  for (const f of formats) {
    it(`encrypts and decrypts ${f.name} to the identical file, which ffmpeg still plays`, async () => {
      const source = join(dir, f.file);
      await ffmpegMake(source, f.codec, f.channels);
      const sasf = join(dir, `${f.file}.sasf`);
      const written = await encryptSasfFile(source, sasf, { publicKey: keys.publicKey, chunkSize: 4096 });
      expect(written.header).toMatchObject({ mimeType: f.mimeType, sampleRate: 8000, channels: f.channels });

      const inspected = await inspectSasf(sasf);
      expect(inspected).toMatchObject({ mimeType: f.mimeType, complete: true, keyId: written.header.keyId });
      expect(inspected.bodyLength).toBe((await stat(source)).size);

      const out = join(dir, `decrypted-${f.file}`);
      const result = await decryptSasfFile(sasf, out, { privateKey: keys.privateKey });
      expect(result.complete).toBe(true);
      expect(await readFile(out)).toEqual(await readFile(source));
      expect((await stat(out)).mode & 0o777).toBe(0o600);
      const pcm = await ffmpegDecode(out);
      expect(pcm.length).toBeGreaterThan(2 * 8000 * 1.5); // about two seconds of audio
      // The ciphertext is not audio: ffmpeg must not find anything to play in it.
      await expect(ffmpegDecode(sasf)).rejects.toThrow();
    });
  }

  it('encrypts and decrypts a TrueSpeech WAV and probes it as audio/x-truespeech', async () => {
    const header = Buffer.alloc(44);
    header.write('RIFF', 0, 'ascii');
    header.writeUInt32LE(36 + 960, 4);
    header.write('WAVEfmt ', 8, 'ascii');
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(0x0022, 20);
    header.writeUInt16LE(1, 22);
    header.writeUInt32LE(8000, 24);
    header.write('data', 36, 'ascii');
    header.writeUInt32LE(960, 40);
    const wav = Buffer.concat([header, Buffer.alloc(960, 0x42)]);
    expect(probeAudioHeader(wav)).toMatchObject({ mimeType: 'audio/x-truespeech', channels: 1, sampleRate: 8000 });
    const source = join(dir, 'truespeech.wav');
    await writeFile(source, wav);
    await encryptSasfFile(source, join(dir, 'truespeech.sasf'), { publicKey: keys.publicKey, metadata: { recordingId: 'ts-1' } });
    const { plaintext, header: h } = await decryptSasf(join(dir, 'truespeech.sasf'), { privateKey: keys.privateKey });
    expect(plaintext).toEqual(wav);
    expect(h.recordingId).toBe('ts-1');
  });

  it('refuses to encrypt a file it cannot recognise unless told what it is', async () => {
    const source = join(dir, 'noise.bin');
    await writeFile(source, Buffer.alloc(100, 1));
    await expectCode(() => encryptSasfFile(source, join(dir, 'noise.sasf'), { publicKey: keys.publicKey }), 'CAPSTAN_ERR_AUDIO_FILE');
    await expect(stat(join(dir, 'noise.sasf'))).rejects.toThrow();
    const told = await encryptSasfFile(source, join(dir, 'noise.sasf'), {
      publicKey: keys.publicKey,
      metadata: { mimeType: 'audio/PCMU', sampleRate: 8000, channels: 1 },
    });
    expect(told.header.recordingId).toBe('noise');
  });

  it('decrypts to a fresh output path only, leaving no partial file behind when it refuses', async () => {
    const source = join(dir, 'fresh.wav');
    await ffmpegMake(source, 'pcm_mulaw', 1, 1);
    const sasf = join(dir, 'fresh.sasf');
    await encryptSasfFile(source, sasf, { publicKey: keys.publicKey, chunkSize: 1024 });
    const out = join(dir, 'fresh-out.wav');
    await decryptSasfFile(sasf, out, { privateKey: keys.privateKey });
    await expectCode(() => decryptSasfFile(sasf, out, { privateKey: keys.privateKey }), 'CAPSTAN_ERR_CONFLICT');

    // A chunk in the middle altered: the reader has already streamed earlier chunks to the temp
    // file when it finds out, and must remove it.
    const bytes = await readFile(sasf);
    bytes[bytes.length - 200]! ^= 1;
    const tampered = join(dir, 'tampered.sasf');
    await writeFile(tampered, bytes);
    const out2 = join(dir, 'tampered-out.wav');
    await expectCode(() => decryptSasfFile(tampered, out2, { privateKey: keys.privateKey }), 'CAPSTAN_ERR_SASF_TAMPERED');
    expect((await readdir(dir)).filter((n) => n.includes('tampered-out'))).toEqual([]);
  });
});
