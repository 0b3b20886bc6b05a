/**
 * The encoder of the sample-by-sample WAV codecs (PCM, G.711): every sample is its own block, so
 * nothing is ever buffered or padded and `push` returns the whole input encoded.
 */
import { CapstanError } from '../../../core/errors.ts';
import type { CodecEncoder } from '../codec.ts';
import { transientBytes } from '../transient-output.ts';

const EMPTY = new Uint8Array(0);

export class WaveformEncoder implements CodecEncoder {
  readonly channels: 1 | 2;
  private readonly codec: string;
  private readonly bytesPerSample: number;
  private readonly encodeInto: (pcm: Int16Array, out: Uint8Array) => void;
  private ended = false;

  /** `encodeInto` writes `pcm` encoded into `out`, which holds exactly `bytesPerSample` bytes a sample. */
  constructor(codec: string, channels: 1 | 2, bytesPerSample: number, encodeInto: (pcm: Int16Array, out: Uint8Array) => void) {
    this.codec = codec;
    this.channels = channels;
    this.bytesPerSample = bytesPerSample;
    this.encodeInto = encodeInto;
  }

  push(pcm: Int16Array): Uint8Array {
    this.check(pcm);
    const out = new Uint8Array(pcm.length * this.bytesPerSample);
    this.encodeInto(pcm, out);
    return out;
  }

  pushTransient(pcm: Int16Array): Uint8Array {
    this.check(pcm);
    const out = transientBytes(pcm.length * this.bytesPerSample);
    this.encodeInto(pcm, out);
    return out;
  }

  private check(pcm: Int16Array): void {
    if (this.ended) throw new CapstanError('CAPSTAN_ERR_CLOSED', `The ${this.codec} encoder has ended`);
    if (pcm.length % this.channels !== 0) {
      throw new CapstanError('CAPSTAN_ERR_CODEC_INPUT', 'Interleaved PCM must hold the same number of samples on every channel', {
        details: { codec: this.codec, samples: pcm.length, channels: this.channels },
      });
    }
  }

  flush(): Uint8Array {
    return EMPTY;
  }

  end(): Uint8Array {
    this.ended = true;
    return EMPTY;
  }
}
