import { parseWav } from '../../../media/wav/wav-reader.ts';

/** The two channels of a dual-channel 16-bit WAV: caller on the left, callee on the right. */
export function stereoChannels(file: Buffer): { left: Int16Array; right: Int16Array } {
  const info = parseWav(file);
  const left = new Int16Array(info.frames);
  const right = new Int16Array(info.frames);
  for (let i = 0; i < info.frames; i++) {
    left[i] = file.readInt16LE(info.dataOffset + 4 * i);
    right[i] = file.readInt16LE(info.dataOffset + 4 * i + 2);
  }
  return { left, right };
}
