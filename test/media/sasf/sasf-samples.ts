/** Sample data for the SASF tests, free of vitest imports so the crash-test child process can use it. */
import type { SasfMetadata } from '../../../media/sasf/format.ts';

export const metadata: SasfMetadata = {
  recordingId: 'rec-0001',
  mimeType: 'audio/L16',
  sampleRate: 8000,
  channels: 2,
  createdAt: new Date('2025-01-02T03:04:05.678Z'),
};

/** Deterministic bytes: what a crash-test child writes can be recomputed by the parent. */
export function pattern(length: number, seed = 1): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
