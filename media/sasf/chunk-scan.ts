/**
 * Walks the chunk framing of a SASF file without decrypting anything. The lengths and final flags
 * it reads are unauthenticated hints: the reader verifies every chunk it uses, so a forged prefix
 * leads to an authentication failure (or, at the very end, looks like a cut), never to output.
 */
import type { ByteSource } from './byte-source.ts';
import { SASF_CHUNK_PREFIX_BYTES, SASF_MAX_CHUNKS, SASF_TAG_BYTES, decodeChunkPrefix } from './format.ts';

export interface ChunkFrame {
  index: number;
  /** File offset of the chunk's 4-byte prefix. */
  offset: number;
  /** Plaintext length claimed by the prefix. */
  length: number;
}

export interface ChunkScan {
  /** Complete non-final chunks, in order. */
  frames: ChunkFrame[];
  /** The final chunk, when the framing reaches one. */
  final: ChunkFrame | undefined;
  /**
   * How the chunk sequence ends: `final` (a final-flagged chunk), `boundary` (end of file right
   * after a non-final chunk: cut there, or still being written), `cut` (end of file inside a chunk),
   * `invalid` (a prefix claims more than the chunk size, or too many chunks).
   */
  end: 'final' | 'boundary' | 'cut' | 'invalid';
  /** Bytes after the final chunk (anything but 0 means data was appended). */
  trailingBytes: number;
  /** File offset where the framing stopped making sense (`cut` or `invalid`). */
  stopOffset: number;
}

export const sealedLength = (plaintextLength: number): number => SASF_CHUNK_PREFIX_BYTES + plaintextLength + SASF_TAG_BYTES;

export async function scanChunks(source: ByteSource, headerLength: number, chunkSize: number): Promise<ChunkScan> {
  const frames: ChunkFrame[] = [];
  let offset = headerLength;
  for (;;) {
    if (offset === source.size) return { frames, final: undefined, end: 'boundary', trailingBytes: 0, stopOffset: offset };
    const prefix = await source.read(offset, SASF_CHUNK_PREFIX_BYTES);
    if (prefix.length < SASF_CHUNK_PREFIX_BYTES) return { frames, final: undefined, end: 'cut', trailingBytes: 0, stopOffset: offset };
    const { length, final } = decodeChunkPrefix(prefix.readUInt32BE(0));
    const index = frames.length;
    if (length > chunkSize || index > SASF_MAX_CHUNKS || (!final && index === SASF_MAX_CHUNKS)) {
      return { frames, final: undefined, end: 'invalid', trailingBytes: 0, stopOffset: offset };
    }
    const next = offset + sealedLength(length);
    if (next > source.size) return { frames, final: undefined, end: 'cut', trailingBytes: 0, stopOffset: offset };
    if (final) return { frames, final: { index, offset, length }, end: 'final', trailingBytes: source.size - next, stopOffset: next };
    frames.push({ index, offset, length });
    offset = next;
  }
}
