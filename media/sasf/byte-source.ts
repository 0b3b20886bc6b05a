/** Random-access bytes for the SASF reader: a file on disk or a buffer in memory. */
import { open, type FileHandle } from 'node:fs/promises';
import { CapstanError } from '../../core/errors.ts';

export interface ByteSource {
  readonly size: number;
  /** Reads up to `length` bytes at `position`; shorter only at the end of the source. */
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    size: b.length,
    read: async (position, length) => b.subarray(Math.min(position, b.length), Math.min(position + length, b.length)),
    close: async () => {},
  };
}

export async function fileSource(path: string): Promise<ByteSource> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new CapstanError(code === 'ENOENT' ? 'CAPSTAN_ERR_FILE_NOT_FOUND' : 'CAPSTAN_ERR_AUDIO_FILE', `Cannot open ${path}: ${(cause as Error).message}`, {
      cause,
      details: { path },
    });
  }
  // The size is taken once: a file still being written is read as the prefix that existed now.
  const { size } = await fh.stat();
  return {
    size,
    async read(position, length) {
      const n = Math.max(0, Math.min(length, size - position));
      const buffer = Buffer.allocUnsafe(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await fh.read(buffer, done, n - done, position + done);
        if (bytesRead === 0) break; // the file shrank under us: report what we have
        done += bytesRead;
      }
      return done === n ? buffer : buffer.subarray(0, done);
    },
    close: () => fh.close(),
  };
}

export function openSource(input: string | Uint8Array): Promise<ByteSource> {
  return typeof input === 'string' ? fileSource(input) : Promise.resolve(bufferSource(input));
}
