import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ulawEncode } from '../../../media/codecs/g711.ts';
import { encodeWavSamples } from '../../../media/wav/wav-format.ts';
import { parseWav } from '../../../media/wav/wav-reader.ts';
import { WavWriter } from '../../../media/wav/wav-writer.ts';
import { FilesystemSync } from '../../../media/recording/filesystem-sync.ts';
import { PlainFileSink } from '../../../media/recording/file-sink.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wav-writer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ramp = (n: number, step = 97): Int16Array => Int16Array.from({ length: n }, (_, i) => ((i * step) % 60000) - 30000);

describe('WavWriter', () => {
  it('writes a 16-byte PCM fmt chunk with no fact chunk', async () => {
    const w = await WavWriter.create(join(dir, 'a.wav'), { encoding: 'pcm16', channels: 2, sampleRate: 8000 });
    await w.write(encodeWavSamples('pcm16', ramp(800)));
    await w.finalize();
    const buf = readFileSync(join(dir, 'a.wav'));
    expect(buf.toString('ascii', 12, 16)).toBe('fmt ');
    expect(buf.readUInt32LE(16)).toBe(16);
    expect(buf.readUInt16LE(20)).toBe(1);
    expect(buf.readUInt16LE(22)).toBe(2);
    expect(buf.readUInt32LE(28)).toBe(32000); // byte rate
    expect(buf.readUInt16LE(32)).toBe(4); // block align
    expect(buf.toString('ascii', 36, 40)).toBe('data');
    expect(buf.readUInt32LE(40)).toBe(1600);
    expect(buf.readUInt32LE(4)).toBe(buf.length - 8);
    const info = parseWav(buf);
    expect(info).toMatchObject({ formatTag: 1, channels: 2, sampleRate: 8000, bitsPerSample: 16, frames: 400, factFrames: undefined });
  });

  it('writes an 18-byte fmt with cbSize 0 and a fact chunk for µ-law and A-law', async () => {
    for (const [encoding, tag] of [['ulaw', 7], ['alaw', 6]] as const) {
      const path = join(dir, `${encoding}.wav`);
      const w = await WavWriter.create(path, { encoding, channels: 1, sampleRate: 8000 });
      await w.write(new Uint8Array(1000).fill(0xff));
      await w.finalize();
      const buf = readFileSync(path);
      expect(buf.readUInt32LE(16)).toBe(18);
      expect(buf.readUInt16LE(20)).toBe(tag);
      expect(buf.readUInt16LE(32)).toBe(1); // block align
      expect(buf.readUInt16LE(34)).toBe(8); // bits
      expect(buf.readUInt16LE(36)).toBe(0); // cbSize
      expect(buf.toString('ascii', 38, 42)).toBe('fact');
      expect(buf.readUInt32LE(46)).toBe(1000);
      expect(parseWav(buf)).toMatchObject({ formatTag: tag, frames: 1000, factFrames: 1000 });
    }
  });

  it('pads an odd-sized data chunk and counts the pad in the RIFF size only', async () => {
    const path = join(dir, 'odd.wav');
    const w = await WavWriter.create(path, { encoding: 'ulaw', channels: 1, sampleRate: 8000 });
    await w.write(new Uint8Array(161).fill(0x7f));
    await w.finalize();
    const buf = readFileSync(path);
    const info = parseWav(buf);
    expect(info.declaredDataBytes).toBe(161);
    expect(buf.length).toBe(info.dataOffset + 162);
    expect(buf.readUInt32LE(4)).toBe(buf.length - 8);
  });

  it('keeps the file as name.part until finalize renames it', async () => {
    const path = join(dir, 'r.wav');
    const w = await WavWriter.create(path, { encoding: 'pcm16', channels: 1, sampleRate: 8000 });
    expect(existsSync(`${path}.part`)).toBe(true);
    expect(existsSync(path)).toBe(false);
    await w.finalize();
    expect(existsSync(`${path}.part`)).toBe(false);
    expect(existsSync(path)).toBe(true);
    expect(await w.finalize()).toEqual({ path, dataBytes: 0 }); // idempotent
  });

  it('leaves a .part file that is a valid WAV up to its last flush', async () => {
    const path = join(dir, 'f.wav');
    const w = await WavWriter.create(path, { encoding: 'pcm16', channels: 1, sampleRate: 8000 });
    await w.write(encodeWavSamples('pcm16', ramp(8000)));
    await w.flush();
    void w.write(encodeWavSamples('pcm16', ramp(4000))); // after the flush: not in the header yet
    await w.abandon();
    const info = parseWav(readFileSync(`${path}.part`));
    expect(info.declaredDataBytes).toBe(16000);
    expect(info.frames).toBe(8000);
  });

  it('stores metadata in a cpst chunk the reader gives back', async () => {
    const path = join(dir, 'm.wav');
    const w = await WavWriter.create(path, { encoding: 'pcm16', channels: 1, sampleRate: 8000, metadata: { recordingId: 'rec-1', n: 1 } });
    await w.finalize();
    expect(parseWav(readFileSync(path)).metadata).toEqual({ recordingId: 'rec-1', n: 1 });
  });

  it('keeps what writeCopy was given though the caller overwrites its buffer at once, grouped or not', async () => {
    const group = (await FilesystemSync.open(dir))!;
    try {
      for (const grouped of [false, true]) {
        const path = join(dir, `copy-${grouped}.wav`);
        const w = await WavWriter.create(path, { encoding: 'pcm16', channels: 2, sampleRate: 8000 }, (p) =>
          PlainFileSink.create(p, grouped ? { filesystemSync: group } : {}),
        );
        // One buffer, refilled before the previous write can have run: 40 writes in flight at once.
        const scratch = new Uint8Array(4000);
        const expected: Buffer[] = [];
        const pending: Promise<void>[] = [];
        for (let i = 0; i < 40; i++) {
          const n = 4 * (100 + ((i * 37) % 900));
          for (let k = 0; k < n; k++) scratch[k] = (i * 31 + k) & 0xff;
          expected.push(Buffer.from(scratch.subarray(0, n)));
          pending.push(w.writeCopy(scratch.subarray(0, n)));
          scratch.fill(0xee);
          if (i % 10 === 9) pending.push(w.flush());
        }
        await Promise.all(pending);
        // Later writes reuse the copies' buffers once written, and still land whole.
        for (let i = 0; i < 10; i++) {
          scratch.fill(i + 1, 0, 2000);
          expected.push(Buffer.from(scratch.subarray(0, 2000)));
          await w.writeCopy(scratch.subarray(0, 2000));
        }
        await w.finalize();
        const buf = readFileSync(path);
        const info = parseWav(buf);
        expect(buf.subarray(info.dataOffset, info.dataOffset + info.dataBytes)).toEqual(Buffer.concat(expected));
        await expect(w.writeCopy(scratch.subarray(0, 4))).rejects.toMatchObject({ code: 'CAPSTAN_ERR_CLOSED' });
      }
    } finally {
      await group.close();
    }
  });

  it('refuses writes that are not whole blocks', async () => {
    const w = await WavWriter.create(join(dir, 'b.wav'), { encoding: 'pcm16', channels: 2, sampleRate: 8000 });
    await expect(w.write(new Uint8Array(6))).rejects.toThrow(RangeError);
    await w.abandon();
  });

  it('refuses to overwrite an existing .part file', async () => {
    const path = join(dir, 'x.wav');
    const w = await WavWriter.create(path, { encoding: 'pcm16', channels: 1, sampleRate: 8000 });
    await expect(WavWriter.create(path, { encoding: 'pcm16', channels: 1, sampleRate: 8000 })).rejects.toMatchObject({ code: 'CAPSTAN_ERR_RECORDING_FAILED' });
    await w.abandon();
  });

  it('writes files ffprobe reads with the right codec, channels and duration', async () => {
    try {
      execFileSync('ffprobe', ['-version'], { stdio: 'ignore' });
    } catch {
      return; // no ffprobe on this machine
    }
    for (const [encoding, codec, bytes] of [
      ['pcm16', 'pcm_s16le', encodeWavSamples('pcm16', ramp(16000))],
      ['ulaw', 'pcm_mulaw', ulawEncode(ramp(16000))],
    ] as const) {
      const path = join(dir, `probe-${encoding}.wav`);
      const w = await WavWriter.create(path, { encoding, channels: 2, sampleRate: 8000, metadata: { recordingId: 'p' } });
      await w.write(bytes);
      await w.finalize();
      const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', path], { encoding: 'utf8' })) as {
        streams: { codec_name: string; channels: number; sample_rate: string; duration: string }[];
      };
      expect(out.streams[0]).toMatchObject({ codec_name: codec, channels: 2, sample_rate: '8000' });
      expect(Number(out.streams[0]!.duration)).toBeCloseTo(1, 3);
    }
  });
});
