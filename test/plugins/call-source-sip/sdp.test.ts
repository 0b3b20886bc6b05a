import { describe, expect, it } from 'vitest';
import { readSdp, writeSdp } from '../../../plugins/call-source-sip/sdp.ts';
import { isCapstanError } from '../../../core/errors.ts';

const offer = (m: string, attrs: string[], c = '10.0.0.5') => ['v=0', 'o=- 1 1 IN IP4 10.0.0.5', 's=-', `c=IN IP4 ${c}`, 't=0 0', m, ...attrs, ''].join('\r\n');

describe('SDP offer/answer', () => {
  it('takes the first codec Capstan records in the order the party prefers, with telephone-event on its clock', () => {
    expect(readSdp(offer('m=audio 4000 RTP/AVP 18 8 0 101', ['a=rtpmap:18 G729/8000', 'a=rtpmap:101 telephone-event/8000']))).toMatchObject({
      address: '10.0.0.5',
      port: 4000,
      codec: { payloadType: 8, name: 'PCMA', clockRate: 8000 },
      telephoneEventPayloadType: 101,
      direction: 'sendrecv',
    });
    // Opus first: Opus, and only the 48 kHz telephone-event goes with it.
    expect(readSdp(offer('m=audio 4000 RTP/AVP 111 0 101 102', ['a=rtpmap:111 opus/48000/2', 'a=rtpmap:101 telephone-event/8000', 'a=rtpmap:102 telephone-event/48000']))).toMatchObject({
      codec: { payloadType: 111, name: 'opus', clockRate: 48000 },
      telephoneEventPayloadType: 102,
    });
  });

  it('reads hold as sendonly, inactive or the old c=0.0.0.0', () => {
    expect(readSdp(offer('m=audio 4000 RTP/AVP 0', ['a=sendonly'])).direction).toBe('sendonly');
    expect(readSdp(offer('m=audio 4000 RTP/AVP 0', ['a=inactive'])).direction).toBe('inactive');
    expect(readSdp(offer('m=audio 4000 RTP/AVP 0', [], '0.0.0.0')).direction).toBe('inactive');
  });

  it('refuses an offer with nothing to record, saying why', () => {
    for (const body of [offer('m=audio 4000 RTP/AVP 18', ['a=rtpmap:18 G729/8000']), offer('m=video 4000 RTP/AVP 96', []), 'not sdp']) {
      try {
        readSdp(body);
        expect.unreachable();
      } catch (e) {
        expect(isCapstanError(e) && e.code).toBe('CAPSTAN_ERR_SIP_MEDIA');
      }
    }
  });

  it('writes Opus as opus/48000/2 (RFC 7587) and reads back what it wrote', () => {
    const sdp = writeSdp({ address: '192.0.2.7', port: 40002, codec: { payloadType: 111, name: 'opus', clockRate: 48000 }, telephoneEventPayloadType: 101, direction: 'recvonly', version: 3 });
    expect(sdp).toMatch(/^m=audio 40002 RTP\/AVP 111 101\r$/m);
    expect(sdp).toMatch(/^a=rtpmap:111 opus\/48000\/2\r$/m);
    expect(sdp).toMatch(/^a=rtpmap:101 telephone-event\/48000\r$/m);
    expect(readSdp(sdp)).toEqual({ address: '192.0.2.7', port: 40002, codec: { payloadType: 111, name: 'opus', clockRate: 48000 }, telephoneEventPayloadType: 101, direction: 'recvonly' });
  });
});
