import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeWavSamples } from '../../../media/wav/wav-format.ts';
import { parseWav } from '../../../media/wav/wav-reader.ts';
import { repairWav } from '../../../media/wav/wav-repair.ts';
import { WavWriter } from '../../../media/wav/wav-writer.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wav-repair-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('repairWav', () => {
  it('keeps every whole block on disk, fixes the sizes and renames to the final name', async () => {
    const path = join(dir, 'crash.wav');
    const w = await WavWriter.create(path, { encoding: 'pcm16', channels: 2, sampleRate: 8000, metadata: { recordingId: 'r1' } });
    await w.write(encodeWavSamples('pcm16', new Int16Array(1600).fill(7)));
    await w.flush();
    await w.write(encodeWavSamples('pcm16', new Int16Array(400).fill(9))); // not flushed: header says 3200 bytes
    await w.abandon();
    appendFileSync(`${path}.part`, Buffer.from([1, 2, 3])); // a cut block

    const result = await repairWav(`${path}.part`);
    expect(result).toMatchObject({ path, frames: 1000, dataBytes: 4000, droppedBytes: 3, metadata: { recordingId: 'r1' } });
    expect(existsSync(`${path}.part`)).toBe(false);
    const buf = readFileSync(path);
    const info = parseWav(buf);
    expect(info.declaredDataBytes).toBe(4000);
    expect(info.frames).toBe(1000);
    expect(buf.length).toBe(info.dataOffset + 4000);
    expect(buf.readUInt32LE(4)).toBe(buf.length - 8);
    expect(buf.readInt16LE(info.dataOffset + 3996)).toBe(9);
  });

  it('fixes the fact chunk and pads odd µ-law data', async () => {
    const path = join(dir, 'u.wav');
    const w = await WavWriter.create(path, { encoding: 'ulaw', channels: 1, sampleRate: 8000 });
    await w.write(new Uint8Array(101).fill(0xff));
    await w.abandon();
    const result = await repairWav(`${path}.part`);
    expect(result.frames).toBe(101);
    const buf = readFileSync(path);
    const info = parseWav(buf);
    expect(info.factFrames).toBe(101);
    expect(buf.length).toBe(info.dataOffset + 102);
    expect(buf.readUInt32LE(4)).toBe(buf.length - 8);
  });

  it('repairs a file whose header was written but no data', async () => {
    const path = join(dir, 'e.wav');
    const w = await WavWriter.create(path, { encoding: 'pcm16', channels: 1, sampleRate: 8000 });
    await w.abandon();
    expect((await repairWav(`${path}.part`)).frames).toBe(0);
  });

  it('refuses a file without a readable header', async () => {
    const part = join(dir, 'junk.wav.part');
    writeFileSync(part, Buffer.from('RIFF'));
    await expect(repairWav(part)).rejects.toMatchObject({ code: 'CAPSTAN_ERR_AUDIO_FILE' });
  });
});
