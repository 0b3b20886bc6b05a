/**
 * Decodes an Opus leg's RTP payloads (RFC 7587) to the recording's 8 kHz mono samples with
 * libopus (@discordjs/opus). libopus decodes any Opus packet — whatever bandwidth or channel
 * count it was encoded with — straight to the rate and channel count the decoder is made for,
 * so no resampling happens here.
 *
 * Input is untrusted (it came off the network): the TOC byte and frame count are checked first
 * (RFC 6716 §3.1–3.2), so a packet that is not Opus costs nothing; what libopus still refuses
 * ("corrupted stream") is reported as CAPSTAN_ERR_CODEC_INPUT, never thrown further. Only
 * `decode` is ever called on this object: the `encode` of @discordjs/opus aborts the process on
 * a bad frame size (docs/media-server.md), and decoding has no such input.
 *
 * One decoder per leg: Opus decoding is stateful (prediction across frames).
 */
import { endianness } from 'node:os';
// @discordjs/opus is CommonJS: the class comes from its default export (see ogg-opus-writer.ts).
import discordOpus from '@discordjs/opus';
import { CapstanError } from '../../../core/errors.ts';

const { OpusEncoder } = discordOpus;

/** Longest Opus packet in time: 120 ms (RFC 6716 §3.2.5), at 8 kHz. */
export const OPUS_MAX_SAMPLES_8K = 960;
/** Largest packet accepted: 1275 bytes per frame is the codec's limit; 120 ms in 2.5 ms frames is far smaller in practice. */
const MAX_PAYLOAD_BYTES = 1500;
const LITTLE_ENDIAN = endianness() === 'LE';

/** Duration of one frame of the TOC's configuration, in 48 kHz samples (RFC 6716 table 2). */
function frameSamples48k(toc: number): number {
  const config = toc >> 3;
  if (config < 12) return [480, 960, 1920, 2880][config & 3]!; // SILK: 10, 20, 40, 60 ms
  if (config < 16) return (config & 1) === 0 ? 480 : 960; // Hybrid: 10, 20 ms
  return [120, 240, 480, 960][config & 3]!; // CELT: 2.5, 5, 10, 20 ms
}

/**
 * The packet's duration in 48 kHz samples from its TOC and frame count, or undefined when the
 * framing is invalid (empty, a code 1 packet of odd length, a code 3 packet with no frames or
 * more than 120 ms).
 */
export function opusPacketSamples48k(payload: Uint8Array): number | undefined {
  if (payload.length < 1 || payload.length > MAX_PAYLOAD_BYTES) return undefined;
  const toc = payload[0]!;
  const frame = frameSamples48k(toc);
  let frames: number;
  switch (toc & 3) {
    case 0:
      frames = 1;
      break;
    case 1:
      if ((payload.length - 1) % 2 !== 0) return undefined; // two frames of equal size
      frames = 2;
      break;
    case 2:
      if (payload.length < 2) return undefined;
      frames = 2;
      break;
    default:
      if (payload.length < 2) return undefined;
      frames = payload[1]! & 0x3f;
      if (frames === 0) return undefined;
  }
  const total = frames * frame;
  return total > 5760 ? undefined : total;
}

export class OpusRtpDecoder {
  private readonly decoder = new OpusEncoder(8000, 1);

  /**
   * @throws CapstanError CAPSTAN_ERR_CODEC_INPUT with `details.reason` 'bad-opus' for a payload
   * that is not a valid Opus packet.
   */
  decode(payload: Uint8Array): Int16Array {
    const samples48k = opusPacketSamples48k(payload);
    if (samples48k === undefined) throw bad(`an Opus payload of ${payload.length} bytes with an invalid TOC or frame count`);
    let pcm: Buffer;
    try {
      pcm = this.decoder.decode(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch (e) {
      throw bad(`libopus refused the packet: ${(e as Error).message}`);
    }
    const n = pcm.length >> 1;
    if (n === 0 || n > OPUS_MAX_SAMPLES_8K) throw bad(`libopus decoded ${n} samples`);
    // Zero-copy when the decoder's output owns its memory (it does: a fresh buffer per call).
    if (LITTLE_ENDIAN && pcm.byteOffset === 0 && pcm.buffer.byteLength === pcm.length) return new Int16Array(pcm.buffer, 0, n);
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) out[i] = pcm.readInt16LE(2 * i);
    return out;
  }
}

function bad(message: string): CapstanError {
  return new CapstanError('CAPSTAN_ERR_CODEC_INPUT', message, { details: { reason: 'bad-opus' } });
}
