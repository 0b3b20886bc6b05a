/** Shared helpers for the SASF tests: keys, small sample files, and ffmpeg as an outside decoder. */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { CapstanError, type ErrorCode } from '../../../core/errors.ts';
import { SasfEncoder, type SasfEncoderOptions } from '../../../media/sasf/encoder.ts';
import { metadata } from './sasf-samples.ts';

export { metadata, pattern } from './sasf-samples.ts';

const run = promisify(execFile);

export interface TestKeys {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

export function newKeys(): TestKeys {
  return generateKeyPairSync('x25519');
}

export interface EncodedSample {
  file: Buffer;
  body: Buffer;
  headerLength: number;
  /** [start, end) of every chunk in the file (data chunks, then the final chunk). */
  chunks: { start: number; end: number; plaintextLength: number; final: boolean }[];
}

/** Encodes `body` in one go (writes of `writeSize`), recording where each chunk lands. */
export function encodeSample(body: Buffer, keys: TestKeys, options: Partial<SasfEncoderOptions> & { writeSize?: number; rewrites?: [number, Buffer][] } = {}): EncodedSample {
  const encoder = new SasfEncoder({ publicKey: keys.publicKey, metadata, chunkSize: 256, ...options });
  const parts: Buffer[] = [encoder.headerBytes];
  const step = options.writeSize ?? body.length;
  for (let o = 0; o < body.length; o += Math.max(1, step)) parts.push(...encoder.push(body.subarray(o, o + Math.max(1, step))));
  for (const [offset, data] of options.rewrites ?? []) encoder.rewrite(offset, data);
  parts.push(...encoder.finish());
  const chunks: EncodedSample['chunks'] = [];
  let at = encoder.headerBytes.length;
  for (const p of parts.slice(1)) {
    chunks.push({ start: at, end: at + p.length, plaintextLength: p.length - 20, final: (p.readUInt32BE(0) & 0x8000_0000) !== 0 });
    at += p.length;
  }
  return { file: Buffer.concat(parts), body, headerLength: encoder.headerBytes.length, chunks };
}

/** Runs `fn` and returns the CapstanError it must throw (fails the test otherwise). */
export async function codedError(fn: () => Promise<unknown>): Promise<CapstanError> {
  try {
    await fn();
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(CapstanError);
    return e as CapstanError;
  }
  throw new Error('expected a coded error, got a result');
}

export async function expectCode(fn: () => Promise<unknown>, code: ErrorCode | ErrorCode[]): Promise<CapstanError> {
  const e = await codedError(fn);
  expect(Array.isArray(code) ? code : [code]).toContain(e.code);
  return e;
}

/**
 * Decodes any audio file to 8 kHz mono 16-bit PCM with ffmpeg; rejects if ffmpeg cannot read it.
 * `strict` (default) also rejects on any decoding error; a WAV with placeholder sizes (a crash-cut
 * recording) decodes fully but ffmpeg flags its last read at end of file, so those pass strict: false.
 */
export async function ffmpegDecode(path: string, strict = true): Promise<Buffer> {
  const args = ['-hide_banner', '-v', 'error', ...(strict ? ['-xerror'] : []), '-i', path, '-f', 's16le', '-ac', '1', '-ar', '8000', '-'];
  const { stdout } = await run('ffmpeg', args, {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Makes a test recording with ffmpeg: a tone of `seconds` at 8 kHz with the given codec. */
export async function ffmpegMake(path: string, codec: string, channels: number, seconds = 2): Promise<void> {
  await run('ffmpeg', [
    '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}:sample_rate=8000`,
    '-ac', String(channels), '-ar', '8000', '-c:a', codec, path,
  ]);
}
