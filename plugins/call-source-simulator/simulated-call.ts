import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { alawEncode, ulawEncode } from '../../media/codecs/g711.ts';
import { RtpPacket } from '../../media/rtp/rtp-packet.ts';
import { CapstanError, ErrorCodes, type ErrorCode } from '../../core/errors.ts';

/** 20 ms of 8 kHz audio: the packet size every softphone and trunk uses for G.711. */
export const SAMPLES_PER_PACKET = 160;
export const PACKET_MS = 20;

export interface SimulatedCallOptions {
  /** The host's URL, e.g. http://127.0.0.1:8080 */
  hostUrl: string;
  /** What the caller says: 8 kHz mono 16-bit samples. */
  callerAudio: Int16Array;
  /** What the callee says. Default: silence (the leg still sends packets). */
  calleeAudio?: Int16Array | null;
  /** Call length in ms. Default: the caller's audio length (rounded up to whole packets); audio repeats when longer. */
  durationMs?: number;
  /** Default PCMU. */
  codec?: 'PCMU' | 'PCMA';
  /** Calling number. Default 5551000. */
  from?: string;
  /** Called number. Default 1000. */
  to?: string;
  workgroup?: string | null;
  agent?: string | null;
  /** Location of the requesting device. Default: the host's location. */
  location?: string;
  /** Address the legs' sockets bind to and announce. Default 127.0.0.1. */
  address?: string;
  /** API token (api.tokens). Default: the CAPSTAN_TOKEN environment variable, else none. */
  token?: string;
  /** Called once the call is connected, before the first packet (e.g. to start an ad hoc recording). */
  onConnected?: (call: CallCreated) => Promise<void>;
}

export interface CallCreated {
  call: { callId: string };
  audioPath: 'always-in' | 'dynamic';
  /** Null while a dynamic call's legs talk directly. */
  mediaServerId: string | null;
  legs: { role: 'caller' | 'callee'; rtp: { address: string; port: number } }[];
  recordings: { recordingId: string; fileName: string; uri: string; requester: string }[];
}

export interface SimulatedCallResult {
  callId: string;
  audioPath: 'always-in' | 'dynamic';
  /** The media server the call ended on, or null. */
  mediaServerId: string | null;
  /** Each re-pointing the host asked for, with when it arrived (ms since the first packet; negative: before it). */
  mediaChanges: { atMs: number; mediaServerId: string | null; reason: string }[];
  recordings: CallCreated['recordings'];
  packetsSent: number;
  /** Packets each leg received (the other leg's audio, relayed by the media server or sent directly). */
  packetsReceived: { caller: number; callee: number };
  /** When the callee first received the caller's audio through a media server (ms since the first packet), or null. */
  firstRelayedAtMs: number | null;
  /** performance.now() of the first packet, to relate the times above to the caller's own clock. */
  firstPacketAt: number;
  durationMs: number;
}

/** `Authorization` for the host's API when a token is given (api.tokens). */
function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function api<T>(url: string, init: RequestInit = {}, token?: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...authHeaders(token) }, signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new CapstanError('CAPSTAN_ERR_HOST_UNREACHABLE', `Capstan host at ${new URL(url).origin} did not answer: ${(e as Error).message}`, { cause: e });
  }
  const text = await response.text();
  if (!response.ok) {
    const body = (() => {
      try {
        return JSON.parse(text) as { code?: string; message?: string };
      } catch {
        return { message: text };
      }
    })();
    // Keep the host's own code, so the caller sees e.g. CAPSTAN_ERR_NO_MEDIA_SERVER.
    const code: ErrorCode = body.code !== undefined && body.code in ErrorCodes ? (body.code as ErrorCode) : 'CAPSTAN_ERR_BAD_REQUEST';
    throw new CapstanError(code, `${init.method ?? 'GET'} ${url}: ${response.status}: ${body.message ?? ''}`.trim(), {
      details: { status: response.status, code: body.code },
    });
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Encodes one leg's audio as a sequence of RTP packets with a random SSRC, sequence and timestamp origin. */
class LegSender {
  readonly #ssrc = randomInt(2 ** 31);
  #seq = randomInt(65536);
  #ts = randomInt(2 ** 31);
  readonly #audio: Int16Array | null;
  readonly #payloadType: number;
  readonly #encode: (pcm: Int16Array) => Uint8Array;

  constructor(audio: Int16Array | null, codec: 'PCMU' | 'PCMA') {
    this.#audio = audio && audio.length > 0 ? audio : null;
    this.#payloadType = codec === 'PCMU' ? 0 : 8;
    this.#encode = codec === 'PCMU' ? (p) => ulawEncode(p) : (p) => alawEncode(p);
  }

  packet(index: number): Buffer {
    const pcm = new Int16Array(SAMPLES_PER_PACKET);
    if (this.#audio) {
      for (let i = 0; i < SAMPLES_PER_PACKET; i++) pcm[i] = this.#audio[(index * SAMPLES_PER_PACKET + i) % this.#audio.length]!;
    }
    const packet = new RtpPacket({
      marker: index === 0,
      payloadType: this.#payloadType,
      sequenceNumber: this.#seq,
      timestamp: this.#ts,
      ssrc: this.#ssrc,
      payload: this.#encode(pcm),
    });
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#ts = (this.#ts + SAMPLES_PER_PACKET) >>> 0;
    return packet.serialize();
  }
}

/**
 * A simulated two-leg call: asks the host for the call, sends both legs' G.711 RTP over UDP at
 * real-time pace (one 20 ms packet per leg per tick), then hangs up.
 */
export async function placeSimulatedCall(options: SimulatedCallOptions): Promise<SimulatedCallResult> {
  const codec = options.codec ?? 'PCMU';
  const token = options.token ?? process.env.CAPSTAN_TOKEN;
  const address = options.address ?? '127.0.0.1';
  const packets = Math.ceil((options.durationMs ?? (options.callerAudio.length / 8000) * 1000) / PACKET_MS);
  if (packets <= 0) throw new CapstanError('CAPSTAN_ERR_AUDIO_FILE', 'The call would have no audio: give a longer file or --duration');
  const sockets: Record<'caller' | 'callee', Socket> = { caller: createSocket('udp4'), callee: createSocket('udp4') };
  const received = { caller: 0, callee: 0 };
  let firstRelayedAt: number | null = null;
  let callId: string | null = null;
  const stream = new AbortController();
  try {
    for (const role of ['caller', 'callee'] as const) {
      sockets[role].on('message', (_msg, from) => {
        received[role]++;
        // Through a media server once the packet no longer comes from the other party's own socket.
        if (role === 'callee' && firstRelayedAt === null && from.port !== sockets.caller.address().port) firstRelayedAt = performance.now();
      });
      sockets[role].bind(0, address);
      await once(sockets[role], 'listening');
    }
    const base = options.hostUrl.replace(/\/$/, '');
    const created = await api<CallCreated>(`${base}/api/v1/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        from: options.from ?? '5551000',
        to: options.to ?? '1000',
        workgroup: options.workgroup ?? null,
        agent: options.agent ?? null,
        ...(options.location ? { location: options.location } : {}),
        legs: (['caller', 'callee'] as const).map((role) => ({
          role,
          codec: { payloadType: codec === 'PCMU' ? 0 : 8, name: codec, clockRate: 8000 },
          rtp: { address, port: sockets[role].address().port },
        })),
      }),
    }, token);
    callId = created.call.callId;
    const targets = Object.fromEntries(created.legs.map((l) => [l.role, l.rtp])) as Record<'caller' | 'callee', { address: string; port: number }>;
    const changes: { at: number; mediaServerId: string | null; reason: string }[] = [];
    // Where to send can change during the call (a media server inserted, taken out, replaced):
    // the host says so on the call's event stream. Its first event is the state now.
    await followMediaEvents(`${base}/api/v1/calls/${callId}/events`, stream.signal, token, (e) => {
      for (const l of e.legs) targets[l.role] = l.rtp;
      changes.push({ at: performance.now(), mediaServerId: e.mediaServerId, reason: e.reason });
    });
    await options.onConnected?.(created);
    const senders = { caller: new LegSender(options.callerAudio, codec), callee: new LegSender(options.calleeAudio ?? null, codec) };
    const t0 = performance.now();
    for (let i = 0; i < packets; i++) {
      // Pace on absolute deadlines so timer lateness does not accumulate into drift.
      const wait = t0 + i * PACKET_MS - performance.now();
      if (wait > 1) await sleep(wait);
      for (const role of ['caller', 'callee'] as const) {
        sockets[role].send(senders[role].packet(i), targets[role].port, targets[role].address);
      }
    }
    // The last packet covers the next 20 ms of the call.
    const rest = t0 + packets * PACKET_MS - performance.now();
    if (rest > 1) await sleep(rest);
    const durationMs = performance.now() - t0;
    await api(`${base}/api/v1/calls/${callId}`, { method: 'DELETE' }, token);
    callId = null;
    const last = changes.at(-1);
    return {
      callId: created.call.callId,
      audioPath: created.audioPath,
      mediaServerId: last ? last.mediaServerId : created.mediaServerId,
      mediaChanges: changes.filter((c) => c.reason !== 'current').map((c) => ({ atMs: c.at - t0, mediaServerId: c.mediaServerId, reason: c.reason })),
      firstRelayedAtMs: firstRelayedAt === null ? null : firstRelayedAt - t0,
      firstPacketAt: t0,
      recordings: created.recordings,
      packetsSent: packets,
      packetsReceived: received,
      durationMs,
    };
  } finally {
    stream.abort();
    // A call that failed midway is hung up so the media server does not keep it.
    if (callId !== null) await api(`${options.hostUrl.replace(/\/$/, '')}/api/v1/calls/${callId}`, { method: 'DELETE' }, token).catch(() => undefined);
    for (const socket of Object.values(sockets)) socket.close();
  }
}

interface MediaEvent {
  mediaServerId: string | null;
  legs: { role: 'caller' | 'callee'; rtp: { address: string; port: number } }[];
  reason: string;
}

/**
 * Reads the call's server-sent events in the background, calling `onMedia` for each `media` event;
 * resolves once the first one (the current state) has arrived.
 */
async function followMediaEvents(url: string, signal: AbortSignal, token: string | undefined, onMedia: (e: MediaEvent) => void): Promise<void> {
  const response = await fetch(url, { signal, headers: authHeaders(token) }).catch((e: unknown) => {
    throw new CapstanError('CAPSTAN_ERR_HOST_UNREACHABLE', `Event stream ${url}: ${(e as Error).message}`, { cause: e });
  });
  if (!response.ok || !response.body) throw new CapstanError('CAPSTAN_ERR_BAD_REQUEST', `Event stream ${url} answered ${response.status}`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const seen: { resolve: (() => void) | null } = { resolve: null };
  const firstSeen = new Promise<void>((r) => (seen.resolve = r));
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === 'media' && data) {
            onMedia(JSON.parse(data) as MediaEvent);
            seen.resolve?.();
            seen.resolve = null;
          }
        }
      }
    } catch {
      // aborted at the end of the call
    }
  })();
  await firstSeen;
}

/** Polls the host until every recording of the call is stored (or failed); returns them. */
export async function waitForStoredRecordings(
  hostUrl: string,
  callId: string,
  timeoutMs = 30_000,
  token: string | undefined = process.env.CAPSTAN_TOKEN,
): Promise<{ id: string; status: string; mediaPath: string | null; durationMs: number | null; sizeBytes: number | null }[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { items } = await api<{ items: { id: string; status: string; mediaPath: string | null; durationMs: number | null; sizeBytes: number | null; uri: string | null }[] }>(
      `${hostUrl.replace(/\/$/, '')}/api/v1/recordings?callId=${encodeURIComponent(callId)}`,
      {},
      token,
    );
    if (items.every((r) => r.status === 'failed' || (r.status === 'stored' && r.uri === null))) return items;
    if (Date.now() > deadline) {
      throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Recordings of call ${callId} were not stored within ${timeoutMs} ms`, { details: { callId, items } });
    }
    await sleep(100);
  }
}
