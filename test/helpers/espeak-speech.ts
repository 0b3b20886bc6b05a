/**
 * Test speech without binary fixtures: espeak-ng says a sentence, sox turns it into 8 kHz mono
 * 16-bit linear PCM (the format Capstan records), cached per text in the given directory.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** Speaks `text` and returns 8 kHz mono samples; files are kept in `dir` for other tools. */
export function espeakSpeech(dir: string, text: string, options: { voice?: string; speed?: number } = {}): { pcm: Int16Array; rawPath: string } {
  const id = createHash('sha1').update(`${options.voice ?? ''}|${options.speed ?? ''}|${text}`).digest('hex').slice(0, 12);
  const wav = join(dir, `speech-${id}.wav`);
  const rawPath = join(dir, `speech-${id}.raw`);
  if (!existsSync(rawPath)) {
    const args = ['-w', wav];
    if (options.voice !== undefined) args.push('-v', options.voice);
    if (options.speed !== undefined) args.push('-s', String(options.speed));
    execFileSync('espeak-ng', [...args, text]);
    execFileSync('sox', [wav, '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', rawPath]);
  }
  return { pcm: readRawPcm(rawPath), rawPath };
}

/** Reads native-endian (little-endian here) 16-bit PCM into an aligned Int16Array. */
export function readRawPcm(path: string): Int16Array {
  const bytes = readFileSync(path);
  const out = new Int16Array(bytes.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2);
  return out;
}

/** The bytes of an Int16Array as little-endian PCM. */
export function pcmBytes(pcm: Int16Array): Buffer {
  const b = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) b.writeInt16LE(pcm[i]!, i * 2);
  return b;
}
