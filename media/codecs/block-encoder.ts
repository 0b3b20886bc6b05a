/**
 * The streaming half of every WAV codec: collects interleaved samples into whole blocks, hands
 * each block to the codec's block function, and keeps the remainder (less than one block) until
 * the next push. `end()` pads the remainder with silence (zeros) to a whole block — the writer's
 * `fact` chunk carries the true sample count, so a player stops before the padding.
 *
 * Output is one buffer per push (no per-block allocation), which is what keeps the block codecs
 * near their raw speed in bench/codecs.
 */
import { CapstanError } from '../../core/errors.ts';
import type { CodecEncoder } from './codec.ts';
import { transientBytes } from './transient-output.ts';

/** Encodes one block of `blockSamples × channels` interleaved samples into `out[offset..offset+blockBytes)`. */
export type EncodeBlock = (block: Int16Array, out: Uint8Array, offset: number) => void;

export interface BlockEncoderOptions {
  codec: string;
  channels: 1 | 2;
  /** Samples per channel in one block. */
  blockSamples: number;
  /** Encoded bytes of one block. */
  blockBytes: number;
  encodeBlock: EncodeBlock;
}

const EMPTY = new Uint8Array(0);

export class BlockEncoder implements CodecEncoder {
  readonly channels: 1 | 2;
  private readonly codec: string;
  private readonly blockLength: number;
  private readonly blockBytes: number;
  private readonly encodeBlock: EncodeBlock;
  private readonly pending: Int16Array;
  private fill = 0;
  private ended = false;

  constructor(options: BlockEncoderOptions) {
    this.codec = options.codec;
    this.channels = options.channels;
    this.blockLength = options.blockSamples * options.channels;
    this.blockBytes = options.blockBytes;
    this.encodeBlock = options.encodeBlock;
    this.pending = new Int16Array(this.blockLength);
  }

  push(pcm: Int16Array): Uint8Array {
    return this.encode(pcm, (bytes) => new Uint8Array(bytes));
  }

  pushTransient(pcm: Int16Array): Uint8Array {
    return this.encode(pcm, transientBytes);
  }

  /** Encodes the whole blocks `pcm` completes into the array `output` gives. */
  private encode(pcm: Int16Array, output: (bytes: number) => Uint8Array): Uint8Array {
    if (this.ended) throw new CapstanError('CAPSTAN_ERR_CLOSED', `The ${this.codec} encoder has ended`);
    if (pcm.length % this.channels !== 0) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'Interleaved PCM must hold the same number of samples on every channel', {
        details: { codec: this.codec, samples: pcm.length, channels: this.channels },
      });
    }
    const blocks = Math.floor((this.fill + pcm.length) / this.blockLength);
    if (blocks === 0) {
      this.pending.set(pcm, this.fill);
      this.fill += pcm.length;
      return EMPTY;
    }
    const out = output(blocks * this.blockBytes);
    let offset = 0;
    let at = 0;
    if (this.fill > 0) {
      // Complete the buffered partial block first.
      at = this.blockLength - this.fill;
      this.pending.set(pcm.subarray(0, at), this.fill);
      this.encodeBlock(this.pending, out, 0);
      offset = this.blockBytes;
      this.fill = 0;
    }
    for (; offset < out.length; offset += this.blockBytes, at += this.blockLength) {
      this.encodeBlock(pcm.subarray(at, at + this.blockLength), out, offset);
    }
    this.pending.set(pcm.subarray(at), 0);
    this.fill = pcm.length - at;
    return out;
  }

  flush(): Uint8Array {
    return EMPTY;
  }

  end(): Uint8Array {
    if (this.ended || this.fill === 0) {
      this.ended = true;
      return EMPTY;
    }
    this.ended = true;
    this.pending.fill(0, this.fill);
    this.fill = 0;
    const out = new Uint8Array(this.blockBytes);
    this.encodeBlock(this.pending, out, 0);
    return out;
  }
}
