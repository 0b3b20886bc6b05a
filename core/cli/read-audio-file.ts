import { readFileSync, statSync } from 'node:fs';
import { CapstanError } from '../errors.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';

/** Reads an 8 kHz 16-bit WAV's first channel; a missing or unusable file is a coded error saying how to fix it. */
export function readAudioFile(path: string): Int16Array {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // reported below
  }
  if (!isFile) throw new CapstanError('CAPSTAN_ERR_AUDIO_FILE', `Audio file not found: ${path}`, { details: { file: path, reason: 'not-found' } });
  try {
    return readPcm8k(readFileSync(path)).channels[0]!;
  } catch (e) {
    const err = e as CapstanError;
    throw new CapstanError(
      'CAPSTAN_ERR_AUDIO_FILE',
      `${path}: ${err.message}. Convert it with: sox ${path} -r 8000 -c 1 -b 16 out.wav`,
      { details: { file: path, ...(err.details ?? {}) } },
    );
  }
}
