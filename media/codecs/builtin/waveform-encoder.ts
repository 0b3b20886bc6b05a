/**
 * The encoder of the sample-by-sample WAV codecs (PCM, G.711): every sample is its own block, so
 * nothing is ever buffered or padded and `push` returns the whole input encoded.
 */
import { CapstanError } from '../../../core/errors.ts';
import type { CodecEncoder } from '../codec.ts';

const EMPTY = new Uint8Array(0);

export class WaveformEncoder implements CodecEncoder {
  readonly channels: 1 | 2;
  private readonly codec: string;
  private readonly encode: (pcm: Int16Array) => Uint8Array;
  private ended = false;

  constructor(codec: string, channels: 1 | 2, encode: (pcm: Int16Array) => Uint8Array) {
    this.codec = codec;
    this.channels = channels;
    this.encode = encode;
  }

  push(pcm: Int16Array): Uint8Array {
    if (this.ended) throw new CapstanError('CAPSTAN_ERR_CLOSED', `The ${this.codec} encoder has ended`);
    if (pcm.length % this.channels !== 0) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'Interleaved PCM must hold the same number of samples on every channel', {
        details: { codec: this.codec, samples: pcm.length, channels: this.channels },
      });
    }
    return this.encode(pcm);
  }

  flush(): Uint8Array {
    return EMPTY;
  }

  end(): Uint8Array {
    this.ended = true;
    return EMPTY;
  }
}
