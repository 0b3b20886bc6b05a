/**
 * encryptSasfFile: brings an existing recording (WAV or Ogg Opus) under SASF protection with the
 * same writer the media server uses (`capstan sasf encrypt`, tests).
 */
import { open, unlink } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { CapstanError } from '../../core/errors.ts';
import type { SasfAead, SasfMetadata } from './format.ts';
import { probeAudioHeader } from './probe.ts';
import { SasfWriter, type SasfWriteResult } from './writer.ts';

export interface SasfEncryptFileOptions {
  /** The Recorder's X25519 public key. */
  publicKey: KeyObject;
  /**
   * Header metadata. Defaults: recordingId = the input file name without extension; mimeType,
   * sampleRate and channels probed from the WAV `fmt ` chunk or the Ogg `OpusHead`; createdAt = now.
   */
  metadata?: Partial<SasfMetadata>;
  /** Plaintext bytes per chunk. Default 65 536. */
  chunkSize?: number;
  /** Default `'aes-256-gcm'`. */
  aead?: SasfAead;
}

const READ_SIZE = 256 * 1024;

/** Encrypts `inPath` to a new file `outPath` (which must not exist); on failure no output is left behind. */
export async function encryptSasfFile(inPath: string, outPath: string, options: SasfEncryptFileOptions): Promise<SasfWriteResult> {
  let input;
  try {
    input = await open(inPath, 'r');
  } catch (cause) {
    throw new CapstanError('CAPSTAN_ERR_FILE_NOT_FOUND', `Cannot open ${inPath}: ${(cause as Error).message}`, { cause, details: { path: inPath } });
  }
  try {
    const head = Buffer.alloc(64 * 1024);
    const { bytesRead } = await input.read(head, 0, head.length, 0);
    const m = options.metadata ?? {};
    const needsProbe = m.mimeType === undefined || m.sampleRate === undefined || m.channels === undefined;
    const probed = needsProbe ? probeAudioHeader(head.subarray(0, bytesRead)) : undefined;
    const metadata: SasfMetadata = {
      recordingId: m.recordingId ?? basename(inPath, extname(inPath)),
      mimeType: m.mimeType ?? probed!.mimeType,
      sampleRate: m.sampleRate ?? probed!.sampleRate,
      channels: m.channels ?? probed!.channels,
      createdAt: m.createdAt ?? new Date(),
    };
    const writer = await SasfWriter.open(outPath, {
      publicKey: options.publicKey,
      metadata,
      ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
      ...(options.aead === undefined ? {} : { aead: options.aead }),
    });
    try {
      const buffer = Buffer.allocUnsafe(READ_SIZE);
      for (let position = 0; ; ) {
        const { bytesRead: n } = await input.read(buffer, 0, READ_SIZE, position);
        if (n === 0) break;
        writer.write(buffer.subarray(0, n)); // the encoder copies or encrypts before returning
        position += n;
      }
      return await writer.close();
    } catch (e) {
      await writer.abort();
      await unlink(outPath).catch(() => {});
      throw e;
    }
  } finally {
    await input.close();
  }
}
