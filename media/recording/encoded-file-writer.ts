/**
 * A recording file in any registered format: the codec's streaming encoder in front of its
 * container writer — WavWriter for `container: 'wav'` (header completed at the end through the
 * sink's rewrite, `fact` with the true sample count), AppendOnlyFileWriter for `'ogg'` (pages
 * appended, never rewritten). The media server's Recording and `capstan transcode` both write
 * through this, so a transcoded file is byte for byte what a recording of the same audio is.
 *
 * `write(pcm)` encodes at once (synchronously) and queues the bytes; it may be fired without
 * awaiting. `flush()` makes every whole block / page encoded so far durable (the partial block
 * stays in the encoder until the next write); `finalize()` pads the last block with silence,
 * completes the container and renames `.part` to the final name.
 */
import { CapstanError, toCapstanError } from '../../core/errors.ts';
import type { Codec, CodecEncoder } from '../codecs/codec.ts';
import { WavWriter } from '../wav/wav-writer.ts';
import type { FileSink } from './file-sink.ts';
import { AppendOnlyFileWriter } from './ogg-file-writer.ts';

export interface EncodedFileWriterOptions {
  codec: Codec;
  channels: 1 | 2;
  /** WAV only: stored in the `cpst` chunk (found again after a crash). Ogg files carry none. */
  metadata?: Record<string, unknown> | undefined;
  /** Where the bytes go. Default: a plain file (an SASF sink encrypts them). */
  openSink?: ((path: string) => Promise<FileSink>) | undefined;
}

export interface EncodedFileResult {
  path: string;
  /** Samples per channel written (the padding of the last block excluded). */
  samples: number;
}

export class EncodedFileWriter {
  readonly codec: Codec;
  readonly channels: 1 | 2;
  readonly finalPath: string;
  private readonly encoder: CodecEncoder;
  private readonly wav: WavWriter | undefined;
  private readonly ogg: AppendOnlyFileWriter | undefined;
  private pushed = 0;

  private constructor(codec: Codec, channels: 1 | 2, encoder: CodecEncoder, container: WavWriter | AppendOnlyFileWriter) {
    this.codec = codec;
    this.channels = channels;
    this.encoder = encoder;
    this.finalPath = container.finalPath;
    if (container instanceof WavWriter) this.wav = container;
    else this.ogg = container;
  }

  /**
   * Creates `<path>.part` with the container's header.
   * @throws CapstanError CAPSTAN_ERR_UNSUPPORTED_FORMAT when the codec cannot write `channels`;
   *   CAPSTAN_ERR_RECORDING_FAILED when the file cannot be created.
   */
  static async create(path: string, options: EncodedFileWriterOptions): Promise<EncodedFileWriter> {
    const { codec, channels } = options;
    if (!codec.supportsChannels.includes(channels)) {
      throw new CapstanError('CAPSTAN_ERR_UNSUPPORTED_FORMAT', `${codec.name} (${codec.mime}) records ${codec.supportsChannels.join(' or ')} channel(s), not ${channels}`, {
        details: { mime: codec.mime, channels },
      });
    }
    const encoder = codec.createEncoder(channels);
    if (codec.container === 'wav') {
      const wav = await WavWriter.create(path, { encoding: codec.wavFormat(channels), channels, sampleRate: codec.sampleRate, metadata: options.metadata }, options.openSink);
      return new EncodedFileWriter(codec, channels, encoder, wav);
    }
    const ogg = await AppendOnlyFileWriter.create(path, options.openSink);
    const writer = new EncodedFileWriter(codec, channels, encoder, ogg);
    // The header pages go out at once (and synced): a crash before the first flush still
    // leaves a file that says what it is.
    await writer.append(encoder.flush());
    await ogg.sync();
    return writer;
  }

  /** Samples per channel given so far. */
  get samples(): number {
    return this.pushed;
  }

  /** Encodes interleaved samples and queues their bytes. */
  write(pcm: Int16Array): Promise<void> {
    // A WAV file copies an encoder's transient output into buffers of its own (no allocation per write).
    const transient = this.wav !== undefined && this.encoder.pushTransient !== undefined;
    let bytes: Uint8Array;
    try {
      bytes = transient ? this.encoder.pushTransient!(pcm) : this.encoder.push(pcm);
    } catch (e) {
      return Promise.reject(toCapstanError(e, 'CAPSTAN_ERR_RECORDING_FAILED'));
    }
    this.pushed += pcm.length / this.channels;
    return transient ? this.wav!.writeCopy(bytes) : this.append(bytes);
  }

  /** Makes every whole block or page encoded so far durable (WAV: header sizes rewritten too). */
  flush(): Promise<void> {
    if (this.wav) return this.wav.flush();
    let bytes: Uint8Array;
    try {
      bytes = this.encoder.flush();
    } catch (e) {
      return Promise.reject(toCapstanError(e, 'CAPSTAN_ERR_RECORDING_FAILED'));
    }
    const appended = this.append(bytes);
    const synced = this.ogg!.sync();
    return appended.then(() => synced);
  }

  /** Pads and encodes the last block, completes the container, renames. Idempotent. */
  async finalize(): Promise<EncodedFileResult> {
    const last = this.encoder.end();
    if (this.wav) {
      // The padded block holds fewer real samples than a whole one: fact says how many.
      if (last.length > 0) await this.wav.write(last, this.pushed - this.wav.frames);
      const { path } = await this.wav.finalize();
      return { path, samples: this.pushed };
    }
    if (last.length > 0) await this.ogg!.append(last);
    const { path } = await this.ogg!.finalize();
    return { path, samples: this.pushed };
  }

  /** Closes without finalizing, leaving `.part` for repair. Idempotent. */
  abandon(): Promise<void> {
    return this.wav ? this.wav.abandon() : this.ogg!.abandon();
  }

  private append(bytes: Uint8Array): Promise<void> {
    return this.wav ? this.wav.write(bytes) : this.ogg!.append(bytes);
  }
}
