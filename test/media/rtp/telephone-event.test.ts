import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCapstanError } from '../../../core/errors.ts';
import { dtmfDigit, parseTelephoneEvent, serializeTelephoneEvent } from '../../../media/rtp/telephone-event.ts';

describe('telephone-event payload (RFC 4733)', () => {
  it('parses event, end bit, volume and duration from the wire layout', () => {
    expect(parseTelephoneEvent(Uint8Array.of(11, 0x8a, 0x03, 0x20))).toEqual({ event: 11, end: true, volume: 10, duration: 800 });
    expect(parseTelephoneEvent(Uint8Array.of(5, 0x0a, 0x00, 0xa0, 9, 9))).toEqual({ event: 5, end: false, volume: 10, duration: 160 });
  });

  it('round-trips every event through serialize and parse', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.boolean(), fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 0xffff }), (event, end, volume, duration) => {
        expect(parseTelephoneEvent(serializeTelephoneEvent({ event, end, volume, duration }))).toEqual({ event, end, volume, duration });
      }),
    );
  });

  it('refuses a payload shorter than one event as bad-telephone-event', () => {
    for (const len of [0, 1, 3]) {
      try {
        parseTelephoneEvent(new Uint8Array(len));
        expect.unreachable();
      } catch (e) {
        expect(isCapstanError(e) && e.code === 'CAPSTAN_ERR_RTP_INVALID' && e.details?.reason).toBe('bad-telephone-event');
      }
    }
  });

  it('names the DTMF digits and nothing else', () => {
    expect([...Array(17).keys()].map(dtmfDigit).join(',')).toBe('0,1,2,3,4,5,6,7,8,9,*,#,A,B,C,D,flash');
    expect(dtmfDigit(32)).toBeUndefined();
  });
});
