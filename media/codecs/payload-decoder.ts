/**
 * Decoding of one leg's RTP payloads to 8 kHz 16-bit samples, chosen from the leg's negotiated
 * codec. The recording path only handles 8 kHz audio (media servers record at 8 kHz): PCMU, PCMA
 * and L16 at 8 kHz, and Opus, which libopus decodes to 8 kHz directly whatever was encoded (its
 * RTP clock is 48 kHz whatever the leg's `clockRate` says: RFC 7587 §4.1). Other codecs are still
 * relayed, they just cannot be recorded.
 *
 * A decoder may throw CAPSTAN_ERR_CODEC_INPUT (with `details.reason`) for a payload it cannot
 * decode; the call counts the packet as dropped under that reason.
 */
import { CapstanError } from '../../core/errors.ts';
import type { LegCodec } from '../control-api.ts';
import { alawDecode, ulawDecode } from './g711.ts';
import { OpusRtpDecoder } from './opus/opus-rtp-decoder.ts';

/** The RTP clock rate of a leg's codec: 48 kHz for Opus always, the negotiated rate otherwise. */
export function rtpClockRate(codec: LegCodec): number {
  return codec.name === 'opus' ? 48000 : codec.clockRate;
}

/**
 * Decodes one payload. The samples returned are only valid until the decoder's next call: the
 * waveform codecs decode into one buffer per leg, so a packet costs no allocation (the media
 * path copies the samples onto the timeline at once).
 */
export type PayloadDecoder = (payload: Uint8Array) => Int16Array;

/** L16 (RFC 3551 §4.5.11) is big-endian on the wire; a trailing odd byte is ignored. */
function decodeL16(payload: Uint8Array, out: Int16Array): Int16Array {
  const n = payload.length >> 1;
  for (let i = 0; i < n; i++) out[i] = ((payload[2 * i]! << 24) >> 16) | payload[2 * i + 1]!;
  return out;
}

/** A decoder writing into a buffer it keeps, grown when a payload needs more (`samples(length)` samples). */
function intoBuffer(samples: (length: number) => number, decode: (payload: Uint8Array, out: Int16Array) => Int16Array): PayloadDecoder {
  let buffer = new Int16Array(160);
  return (payload) => {
    const n = samples(payload.length);
    if (n > buffer.length) buffer = new Int16Array(n);
    return decode(payload, n === buffer.length ? buffer : buffer.subarray(0, n));
  };
}

/** Whether a leg with this codec can be recorded. */
export function isRecordable(codec: LegCodec): boolean {
  return codec.name === 'opus' || codec.clockRate === 8000;
}

/**
 * @throws CapstanError CAPSTAN_ERR_UNSUPPORTED_FORMAT for codecs the recorder cannot decode
 * (PCMU, PCMA or L16 at a clock rate other than 8000).
 */
export function createPayloadDecoder(codec: LegCodec): PayloadDecoder {
  if (!isRecordable(codec)) {
    throw new CapstanError('CAPSTAN_ERR_UNSUPPORTED_FORMAT', `cannot record ${codec.name} at ${codec.clockRate} Hz: only Opus and 8 kHz PCMU, PCMA and L16`, {
      details: { codec: codec.name, clockRate: codec.clockRate },
    });
  }
  switch (codec.name) {
    case 'PCMU':
      return intoBuffer((bytes) => bytes, ulawDecode);
    case 'PCMA':
      return intoBuffer((bytes) => bytes, alawDecode);
    case 'opus': {
      const opus = new OpusRtpDecoder();
      return (p) => opus.decode(p);
    }
    default:
      return intoBuffer((bytes) => bytes >> 1, decodeL16);
  }
}
