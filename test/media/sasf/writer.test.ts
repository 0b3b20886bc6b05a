import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptSasf } from '../../../media/sasf/reader.ts';
import { SasfWriter } from '../../../media/sasf/writer.ts';
import { expectCode, ffmpegDecode, metadata, newKeys, pattern } from './sasf-fixtures.ts';

const keys = newKeys();
let dir: string;
let n = 0;
const fresh = (): string => join(dir, `w${++n}.sasf`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sasf-w-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `data` in 20 ms frames of 8 kHz 16-bit stereo (640 bytes), as the recorder does. */
function writeFrames(writer: SasfWriter, data: Buffer): void {
  for (let o = 0; o < data.length; o += 640) writer.write(data.subarray(o, o + 640));
}

/** A canonical 44-byte PCM WAV header for `dataBytes` of 8 kHz 16-bit stereo. */
function wavHeader(dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(2, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(32_000, 28);
  h.writeUInt16LE(4, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A 440 Hz tone, 8 kHz 16-bit stereo. */
function tone(frames: number): Buffer {
  const b = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
    b.writeInt16LE(v, 4 * i);
    b.writeInt16LE(v, 4 * i + 2);
  }
  return b;
}

describe('SasfWriter', () => {
  it('puts no plaintext on disk and creates the file 0600', async () => {
    const path = fresh();
    const data = pattern(10_000, 9);
    const writer = await SasfWriter.open(path, { publicKey: keys.publicKey, metadata, chunkSize: 1024 });
    writeFrames(writer, data);
    await writer.close();
    const file = await readFile(path);
    for (let o = 0; o + 16 <= data.length; o += 16) expect(file.includes(data.subarray(o, o + 16))).toBe(false);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await decryptSasf(file, { privateKey: keys.privateKey })).plaintext).toEqual(data);
  });

  it('makes everything written before flush() readable, as an incomplete file, until close() finishes it', async () => {
    const path = fresh();
    const data = pattern(5000, 3);
    const writer = await SasfWriter.open(path, { publicKey: keys.publicKey, metadata, chunkSize: 1024 });
    writeFrames(writer, data.subarray(0, 3000)); // 2 full chunks + 952 bytes pending
    await writer.flush();
    const atFlush = await readFile(path); // what a crash right now would leave

    await expectCode(() => decryptSasf(atFlush, { privateKey: keys.privateKey }), 'CAPSTAN_ERR_SASF_TRUNCATED');
    const recovered = await decryptSasf(atFlush, { privateKey: keys.privateKey, allowIncomplete: true });
    expect(recovered.complete).toBe(false);
    expect(recovered.plaintext).toEqual(data.subarray(0, 3000));
    expect(recovered.chunkCount).toBe(3); // 1024 + 1024 + the short flushed chunk

    writeFrames(writer, data.subarray(3000));
    const result = await writer.close();
    expect(await writer.close()).toBe(result); // idempotent
    expect(result).toMatchObject({ bodyLength: 5000, fileLength: (await stat(path)).size });
    const finished = await decryptSasf(path, { privateKey: keys.privateKey });
    expect(finished.complete).toBe(true);
    expect(finished.plaintext).toEqual(data);
  });

  it('after a SIGKILL, leaves a file that decrypts to at least what was flushed, and only with allowIncomplete', async () => {
    const path = fresh();
    const keyFile = join(dir, 'crash.pub.pem');
    await writeFile(keyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
    const flushed = 6000;
    const extra = 20_000;
    const child = spawn(process.execPath, ['--no-warnings', join(import.meta.dirname, 'crash-writer.ts'), path, keyFile, String(flushed), String(extra)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`crash-writer exited early with ${code}`)));
      child.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('flushed')) resolve();
      });
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    await expectCode(() => decryptSasf(path, { privateKey: keys.privateKey }), 'CAPSTAN_ERR_SASF_TRUNCATED');
    const recovered = await decryptSasf(path, { privateKey: keys.privateKey, allowIncomplete: true });
    const all = pattern(flushed + extra, 42);
    expect(recovered.complete).toBe(false);
    expect(recovered.plaintext.length).toBeGreaterThanOrEqual(flushed);
    expect(recovered.plaintext).toEqual(all.subarray(0, recovered.plaintext.length));
  });

  it('rewrites the inner WAV header at close without re-encrypting anything, and a crash-cut WAV still plays', async () => {
    const path = fresh();
    const samples = tone(8000 * 3); // 3 s
    const writer = await SasfWriter.open(path, { publicKey: keys.publicKey, metadata, chunkSize: 4096 });
    // As the media server does: a header with sizes 0 first (what ffmpeg reads as "up to the end"),
    // the samples, then the real sizes once known.
    writer.write(wavHeader(0));
    writeFrames(writer, samples.subarray(0, 32_000));
    await writer.flush();
    const atFlush = await readFile(path);
    writeFrames(writer, samples.subarray(32_000));
    writer.rewrite(0, wavHeader(samples.length));
    await writer.close();

    const { plaintext } = await decryptSasf(path, { privateKey: keys.privateKey });
    expect(plaintext).toEqual(Buffer.concat([wavHeader(samples.length), samples]));
    const finishedWav = join(dir, 'finished.wav');
    await writeFile(finishedWav, plaintext);
    expect((await ffmpegDecode(finishedWav)).length).toBe(8000 * 3 * 2); // every frame, downmixed to mono

    const cut = await decryptSasf(atFlush, { privateKey: keys.privateKey, allowIncomplete: true });
    expect(cut.plaintext.subarray(0, 44)).toEqual(wavHeader(0)); // the provisional header: rewrites are in the final chunk
    const cutWav = join(dir, 'cut.wav');
    await writeFile(cutWav, cut.plaintext);
    expect((await ffmpegDecode(cutWav, false)).length).toBe(8000 * 2); // the flushed second, every frame
  });

  it('leaves a readable incomplete file when aborted', async () => {
    const path = fresh();
    const writer = await SasfWriter.open(path, { publicKey: keys.publicKey, metadata, chunkSize: 1024 });
    writer.write(pattern(1500));
    await writer.flush();
    writer.write(pattern(100, 5)); // pending, never flushed
    await writer.abort();
    await writer.abort();
    const recovered = await decryptSasf(path, { privateKey: keys.privateKey, allowIncomplete: true });
    expect(recovered).toMatchObject({ complete: false });
    expect(recovered.plaintext).toEqual(pattern(1500));
    await expectCode(() => writer.close(), 'CAPSTAN_ERR_CLOSED');
  });

  it('refuses use after close, an existing file, a private key and bad metadata, with coded errors', async () => {
    const path = fresh();
    const writer = await SasfWriter.open(path, { publicKey: keys.publicKey, metadata });
    await writer.close();
    expect(() => writer.write(Buffer.alloc(1))).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CLOSED' }));
    await expectCode(() => writer.flush(), 'CAPSTAN_ERR_CLOSED');
    await expectCode(() => SasfWriter.open(path, { publicKey: keys.publicKey, metadata }), 'CAPSTAN_ERR_SASF_WRITE');
    await expectCode(() => SasfWriter.open(fresh(), { publicKey: keys.privateKey, metadata }), 'CAPSTAN_ERR_KEY_INVALID');
    const bad = fresh();
    await expectCode(() => SasfWriter.open(bad, { publicKey: keys.publicKey, metadata: { ...metadata, mimeType: 'wav' } }), 'CAPSTAN_ERR_SASF_FORMAT');
    await expect(stat(bad)).rejects.toThrow(); // refused before anything touched the disk
  });
});
