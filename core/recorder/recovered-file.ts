/**
 * A segment a media server repaired after its crash never got a stop result: what it holds is
 * read from the file it serves — size and SHA-256 over every byte, length from the WAV header
 * (other formats: unknown, 0) — so its requester can fetch it, verify it and deliver it like any
 * other.
 */
import { createHash } from 'node:crypto';
import { parseWav } from '../../media/wav/wav-reader.ts';
import { CapstanError } from '../errors.ts';
import type { RecordingResultInfo } from '../events/call-events.ts';

export interface RecoveredFile {
  sizeBytes: number;
  sha256: string;
  sampleRate: number;
  samples: number;
  durationMs: number;
}

export async function readRecoveredFile(uri: string, fileName: string): Promise<RecoveredFile> {
  const response = await fetch(uri, { signal: AbortSignal.timeout(60_000) });
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Reading the recovered ${fileName} answered ${response.status}`);
  }
  const hash = createHash('sha256');
  let size = 0;
  const head: Buffer[] = [];
  let headBytes = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    size += chunk.length;
    if (headBytes < 65_536) {
      head.push(Buffer.from(chunk));
      headBytes += chunk.length;
    }
  }
  const timing = wavTiming(Buffer.concat(head));
  return { sizeBytes: size, sha256: hash.digest('hex'), sampleRate: timing?.sampleRate ?? 8000, samples: timing?.samples ?? 0, durationMs: timing?.durationMs ?? 0 };
}

/** The stop result the media server never sent, made from what its file holds. */
export function recoveredResult(file: { fileName: string; uri: string }, read: RecoveredFile, recording: { mime: string; channels: number; startedAt: string }): RecordingResultInfo {
  return {
    fileName: file.fileName,
    uri: file.uri,
    mime: recording.mime,
    channels: recording.channels,
    sampleRate: read.sampleRate,
    samples: read.samples,
    durationMs: read.durationMs,
    sizeBytes: read.sizeBytes,
    sha256: read.sha256,
    startedAt: recording.startedAt,
    stoppedAt: new Date(Date.parse(recording.startedAt) + read.durationMs).toISOString(),
    pauses: [],
    dtmf: [],
  };
}

/** Length of a WAV file from its header (the first bytes); null for other formats. */
export function wavTiming(head: Buffer): { sampleRate: number; samples: number; durationMs: number } | null {
  try {
    const info = parseWav(head);
    const samples = Math.floor(info.declaredDataBytes / info.blockAlign) * info.samplesPerBlock;
    return { sampleRate: info.sampleRate, samples, durationMs: (samples / info.sampleRate) * 1000 };
  } catch {
    return null;
  }
}
