/**
 * Recovery of a `.part` WAV left by a crash: the header sizes may lag the samples actually on
 * disk and the last block may be cut. Repair keeps every whole block present (block align: a
 * frame for PCM and G.711, 65 bytes for GSM, 32 for TrueSpeech), rewrites the RIFF and data
 * sizes and the `fact` sample count (whole blocks × samples per block: a recording in progress
 * only ever wrote unpadded blocks, so that is the true count), syncs, and renames the file to its
 * final name (the `.part` suffix removed).
 */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CapstanError } from '../../core/errors.ts';
import { parseWav } from './wav-reader.ts';
import { PART_SUFFIX, syncDirectory } from '../recording/part-file.ts';

/** Header bytes read to find the data chunk; Capstan's own headers are far smaller. */
const HEADER_PROBE_BYTES = 64 * 1024;

export interface RepairResult {
  /** The final path (without `.part`). */
  path: string;
  frames: number;
  dataBytes: number;
  /** Bytes dropped at the end (a partial block). */
  droppedBytes: number;
  metadata: Record<string, unknown> | undefined;
}

/**
 * Repairs `partPath` (which must end in `.part`) in place and renames it.
 * @throws CapstanError CAPSTAN_ERR_AUDIO_FILE when the header itself is unreadable.
 */
export async function repairWav(partPath: string): Promise<RepairResult> {
  if (!partPath.endsWith(PART_SUFFIX)) throw new CapstanError('CAPSTAN_ERR_AUDIO_FILE', `${partPath} is not a ${PART_SUFFIX} file`);
  const finalPath = partPath.slice(0, -PART_SUFFIX.length);
  const fh = await open(partPath, 'r+');
  let result: RepairResult;
  try {
    const { size } = await fh.stat();
    const probe = Buffer.alloc(Math.min(size, HEADER_PROBE_BYTES));
    await fh.read(probe, 0, probe.length, 0);
    const info = parseWav(probe);
    const present = Math.max(0, size - info.dataOffset);
    const dataBytes = present - (present % info.blockAlign);
    const pad = dataBytes % 2;
    await fh.truncate(info.dataOffset + dataBytes + pad); // also zero-fills the pad byte
    const u32 = (value: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(value);
      return b;
    };
    await fh.write(u32(info.dataOffset - 8 + dataBytes + pad), 0, 4, 4);
    await fh.write(u32(dataBytes), 0, 4, info.dataOffset - 4);
    const frames = (dataBytes / info.blockAlign) * info.samplesPerBlock;
    if (info.factOffset !== undefined) await fh.write(u32(frames), 0, 4, info.factOffset);
    await fh.datasync();
    result = {
      path: finalPath,
      frames,
      dataBytes,
      droppedBytes: present - dataBytes,
      metadata: info.metadata,
    };
  } finally {
    await fh.close();
  }
  await rename(partPath, finalPath);
  await syncDirectory(dirname(finalPath));
  return result;
}
