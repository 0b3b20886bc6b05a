/**
 * inspectSasf: what a SASF file says about itself, without the private key (for `capstan sasf
 * inspect`, and for media servers and operators who hold no private key).
 *
 * Nothing here is authenticated: without the data key no tag can be checked. `complete` means the
 * framing ends with a final-flagged chunk exactly at the end of the file; only decryption proves it.
 */
import { openSource } from './byte-source.ts';
import { scanChunks, type ChunkScan } from './chunk-scan.ts';
import type { SasfAead, SasfKeyWrap } from './format.ts';
import { readSasfHeader } from './reader.ts';

export interface SasfInspection {
  version: number;
  aead: SasfAead;
  keyWrap: SasfKeyWrap;
  /** Key id of the Recorder key the file is encrypted to. */
  keyId: string;
  recordingId: string;
  mimeType: string;
  sampleRate: number;
  channels: number;
  createdAt: Date;
  chunkSize: number;
  headerLength: number;
  fileLength: number;
  /** Complete non-final (data) chunks. */
  chunkCount: number;
  /** Plaintext bytes in those chunks. */
  bodyLength: number;
  /** The framing ends with a final chunk at the end of the file (unverified). */
  complete: boolean;
  /** How the chunk framing ends (see ChunkScan.end). */
  end: ChunkScan['end'];
  /** Bytes after the final chunk: non-zero means something was appended. */
  trailingBytes: number;
  /** Why the file is not complete, in words, when it is not. */
  problem: string | undefined;
  /** Always false: a reminder that only decryption authenticates these fields. */
  verified: false;
}

/** Inspects a SASF file (path) or buffer. Throws CAPSTAN_ERR_SASF_FORMAT / _TRUNCATED for a bad or cut header. */
export async function inspectSasf(input: string | Uint8Array): Promise<SasfInspection> {
  const source = await openSource(input);
  try {
    const { header, headerBytes } = await readSasfHeader(source);
    const scan = await scanChunks(source, headerBytes.length, header.chunkSize);
    const problem =
      scan.end === 'boundary'
        ? 'no final chunk: cut short or still being written'
        : scan.end === 'cut'
          ? `ends inside chunk ${scan.frames.length} at byte ${scan.stopOffset}`
          : scan.end === 'invalid'
            ? `chunk ${scan.frames.length} at byte ${scan.stopOffset} has an impossible length`
            : scan.trailingBytes > 0
              ? `${scan.trailingBytes} bytes after the final chunk`
              : undefined;
    return {
      version: header.version,
      aead: header.aead,
      keyWrap: header.keyWrap,
      keyId: header.keyId,
      recordingId: header.recordingId,
      mimeType: header.mimeType,
      sampleRate: header.sampleRate,
      channels: header.channels,
      createdAt: header.createdAt,
      chunkSize: header.chunkSize,
      headerLength: headerBytes.length,
      fileLength: source.size,
      chunkCount: scan.frames.length,
      bodyLength: scan.frames.reduce((n, f) => n + f.length, 0),
      complete: scan.end === 'final' && scan.trailingBytes === 0,
      end: scan.end,
      trailingBytes: scan.trailingBytes,
      problem,
      verified: false,
    };
  } finally {
    await source.close();
  }
}
