/**
 * Decoding of one leg's RTP payloads to 8 kHz 16-bit samples, chosen from the leg's negotiated
 * codec. The recording path only handles 8 kHz audio (media servers record at 8 kHz); other codecs
 * are still relayed, they just cannot be recorded yet.
 */
import { CapstanError } from '../../core/errors.ts';
import type { LegCodec } from '../control-api.ts';
import { alawDecode, ulawDecode } from './g711.ts';

export type PayloadDecoder = (payload: Uint8Array) => Int16Array;

/** L16 (RFC 3551 §4.5.11) is big-endian on the wire; a trailing odd byte is ignored. */
function decodeL16(payload: Uint8Array): Int16Array {
  const n = payload.length >> 1;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = ((payload[2 * i]! << 24) >> 16) | payload[2 * i + 1]!;
  return out;
}

/** Whether a leg with this codec can be recorded. */
export function isRecordable(codec: LegCodec): boolean {
  return codec.clockRate === 8000 && codec.name !== 'opus';
}

/**
 * @throws CapstanError CAPSTAN_ERR_UNSUPPORTED_FORMAT for codecs the recorder cannot decode
 * (Opus, or any clock rate other than 8000).
 */
export function createPayloadDecoder(codec: LegCodec): PayloadDecoder {
  if (!isRecordable(codec)) {
    throw new CapstanError('CAPSTAN_ERR_UNSUPPORTED_FORMAT', `cannot record ${codec.name} at ${codec.clockRate} Hz: only 8 kHz PCMU, PCMA and L16`, {
      details: { codec: codec.name, clockRate: codec.clockRate },
    });
  }
  switch (codec.name) {
    case 'PCMU':
      return (p) => ulawDecode(p);
    case 'PCMA':
      return (p) => alawDecode(p);
    default:
      return decodeL16;
  }
}
