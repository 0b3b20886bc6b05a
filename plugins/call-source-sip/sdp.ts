/**
 * SDP offer/answer for the B2BUA (RFC 3264), with sdp-transform for the wire format: what a party
 * offers (its RTP address and port, the first codec of its list Capstan records — PCMU, PCMA or
 * Opus —, telephone-event, its direction) and the SDP Capstan sends (one audio stream: the port to
 * send to, that one codec, telephone-event). The media server relays RTP without transcoding, so
 * both parties get the codec the caller preferred.
 */
import { parse, write } from 'sdp-transform';
import { CapstanError } from '../../core/errors.ts';

export interface MediaOffer {
  address: string;
  port: number;
  /** The codec both sides use: the first of PCMU, PCMA and Opus (RFC 7587: opus/48000/2) the party listed. */
  codec: { payloadType: number; name: 'PCMU' | 'PCMA' | 'opus'; clockRate: 8000 | 48000 };
  /** RFC 4733 telephone-event payload type, when offered. */
  telephoneEventPayloadType: number | null;
  direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
}

const STATIC: Record<number, 'PCMU' | 'PCMA'> = { 0: 'PCMU', 8: 'PCMA' };

/** Reads a party's SDP. Throws CAPSTAN_ERR_SIP_MEDIA when it has no audio Capstan can record. */
export function readSdp(body: string): MediaOffer {
  let session;
  try {
    session = parse(body);
  } catch (e) {
    throw new CapstanError('CAPSTAN_ERR_SIP_MEDIA', `The SDP cannot be read: ${(e as Error).message}`);
  }
  const audio = session.media.find((m) => m.type === 'audio' && m.port > 0);
  if (!audio) throw new CapstanError('CAPSTAN_ERR_SIP_MEDIA', 'The SDP offers no audio stream');
  const address = audio.connection?.ip ?? session.connection?.ip;
  if (!address) throw new CapstanError('CAPSTAN_ERR_SIP_MEDIA', 'The SDP has no connection address');
  const payloads = String(audio.payloads ?? '').split(/\s+/).filter(Boolean).map(Number);
  const names = new Map((audio.rtp ?? []).map((r) => [r.payload, r.codec.toUpperCase()]));
  const chosen = payloads.map((pt) => ({ pt, name: (names.get(pt) ?? STATIC[pt]) as string | undefined })).find((p) => p.name === 'PCMU' || p.name === 'PCMA' || p.name === 'OPUS');
  if (!chosen) throw new CapstanError('CAPSTAN_ERR_SIP_MEDIA', `No codec in common: offered ${payloads.join(', ')}; Capstan takes PCMU, PCMA and Opus`);
  const codec: MediaOffer['codec'] = chosen.name === 'OPUS' ? { payloadType: chosen.pt, name: 'opus', clockRate: 48000 } : { payloadType: chosen.pt, name: chosen.name as 'PCMU' | 'PCMA', clockRate: 8000 };
  // telephone-event runs on the audio codec's clock (RFC 4733 §2.1).
  const te = (audio.rtp ?? []).find((r) => r.codec.toLowerCase() === 'telephone-event' && (r.rate ?? 8000) === codec.clockRate);
  const direction = (audio.direction ?? session.direction ?? 'sendrecv') as MediaOffer['direction'];
  // A hold in the old style (RFC 2543): c=0.0.0.0.
  const held = address === '0.0.0.0' ? 'inactive' : direction;
  return { address, port: audio.port, codec, telephoneEventPayloadType: te?.payload ?? null, direction: held };
}

export function writeSdp(options: { address: string; port: number; codec: MediaOffer['codec']; telephoneEventPayloadType: number | null; direction?: MediaOffer['direction']; version: number }): string {
  const payloads = [options.codec.payloadType, ...(options.telephoneEventPayloadType !== null ? [options.telephoneEventPayloadType] : [])];
  return write({
    version: 0,
    origin: { username: 'capstan', sessionId: 1, sessionVersion: options.version, netType: 'IN', ipVer: 4, address: options.address },
    name: 'capstan',
    connection: { version: 4, ip: options.address },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: options.port,
        protocol: 'RTP/AVP',
        payloads: payloads.join(' '),
        rtp: [
          options.codec.name === 'opus' ? { payload: options.codec.payloadType, codec: 'opus', rate: 48000, encoding: 2 } : { payload: options.codec.payloadType, codec: options.codec.name, rate: 8000 },
          ...(options.telephoneEventPayloadType !== null ? [{ payload: options.telephoneEventPayloadType, codec: 'telephone-event', rate: options.codec.clockRate }] : []),
        ],
        fmtp: options.telephoneEventPayloadType !== null ? [{ payload: options.telephoneEventPayloadType, config: '0-15' }] : [],
        direction: options.direction ?? 'sendrecv',
      },
    ],
  });
}
