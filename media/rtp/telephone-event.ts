/**
 * The RFC 4733 telephone-event payload (DTMF digits sent as RTP events rather than tones):
 *
 *    0                   1                   2                   3
 *   |     event     |E|R| volume    |          duration             |
 *
 * All packets of one event carry the same RTP timestamp (the event's start) and a growing
 * duration; the last three or so carry the E (end) bit — retransmissions of the same final
 * packet. A payload may hold more than one 4-byte block only in the redundancy forms this parser
 * does not need: the first block is the current event.
 */
import { CapstanError } from '../../core/errors.ts';

export interface TelephoneEvent {
  /** 0–9, 10 '*', 11 '#', 12–15 'A'–'D', 16 flash; others are tones (fax, modem) that are not DTMF. */
  event: number;
  end: boolean;
  /** Power level in −dBm0, 0..63. */
  volume: number;
  /** Duration so far, in RTP timestamp units of the stream's clock. */
  duration: number;
}

export const TELEPHONE_EVENT_BYTES = 4;
const DIGITS = '0123456789*#ABCD';

/** The digit an event stands for ('0'…'9', '*', '#', 'A'…'D', 'flash'), or undefined for non-DTMF events. */
export function dtmfDigit(event: number): string | undefined {
  if (event >= 0 && event < DIGITS.length) return DIGITS[event];
  return event === 16 ? 'flash' : undefined;
}

/**
 * Reads the first event block of a telephone-event payload.
 * @throws CapstanError CAPSTAN_ERR_RTP_INVALID with `details.reason` 'bad-telephone-event' when the
 * payload is shorter than one block.
 */
export function parseTelephoneEvent(payload: Uint8Array): TelephoneEvent {
  if (payload.length < TELEPHONE_EVENT_BYTES) {
    throw new CapstanError('CAPSTAN_ERR_RTP_INVALID', `telephone-event payload of ${payload.length} bytes is shorter than 4`, {
      details: { reason: 'bad-telephone-event' },
    });
  }
  return {
    event: payload[0]!,
    end: (payload[1]! & 0x80) !== 0,
    volume: payload[1]! & 0x3f,
    duration: (payload[2]! << 8) | payload[3]!,
  };
}

export function serializeTelephoneEvent(e: TelephoneEvent): Uint8Array {
  if (!Number.isInteger(e.event) || e.event < 0 || e.event > 255) throw new RangeError(`event must be 0..255, got ${e.event}`);
  if (!Number.isInteger(e.duration) || e.duration < 0 || e.duration > 0xffff) throw new RangeError(`duration must be 0..65535, got ${e.duration}`);
  return Uint8Array.of(e.event, (e.end ? 0x80 : 0) | (e.volume & 0x3f), e.duration >> 8, e.duration & 0xff);
}
