/**
 * A call anchored on this media server: one socket per leg, each leg's packets relayed to the
 * other leg's party and fed (decoded once) to the call's recordings in progress.
 *
 * The call owns its legs' sockets and tracks its recordings; the media server stops the
 * recordings (it keeps their results) before closing the call.
 */
import type { Logger } from 'pino';
import type { AllocateCallRequest, Endpoint, LegCodec, LegRole } from '../control-api.ts';
import { CapstanError, isCapstanError } from '../../core/errors.ts';
import { g711DecodeTable } from '../codecs/g711.ts';
import { createPayloadDecoder, isRecordable, rtpClockRate, type PayloadDecoder } from '../codecs/payload-decoder.ts';
import { LegTimeline, type LegTimelineOptions } from '../recording/leg-timeline.ts';
import { NativeLegTimeline } from '../recording/native-leg-timeline.ts';
import type { Recording } from '../recording/recording.ts';
import type { Timeline } from '../recording/timeline.ts';
import { LegSocket } from '../rtp/leg-socket.ts';
import type { PacketCounters } from '../rtp/packet-counters.ts';
import type { RtpPacket } from '../rtp/rtp-packet.ts';
import type { RtpPortPool } from '../rtp/rtp-port-pool.ts';
import { parseTelephoneEvent } from '../rtp/telephone-event.ts';
import { TimestampScaler } from '../rtp/timestamp-scaler.ts';

export interface CallLeg {
  readonly role: LegRole;
  readonly codec: LegCodec;
  readonly socket: LegSocket;
  /** Where this leg's party receives RTP; undefined until the host says. */
  remote: Endpoint | undefined;
  readonly decoder: PayloadDecoder | undefined;
  /** The leg's RTP timestamps in the recordings' 8 kHz units (Opus: from 48 kHz). */
  readonly scaler: TimestampScaler;
  /** Packets with a payload type other than the codec's or telephone-event's (relayed, not recorded). */
  notRecorded: number;
  /** Telephone-event (DTMF) packets given to the recordings. */
  telephoneEvents: number;
  /**
   * How the transport decodes this leg's audio when it records it itself: a G.711 table, null for
   * L16, undefined when it cannot (Opus, other clock rates): see MediaCall.createTimeline.
   */
  readonly nativeDecode: Int16Array | null | undefined;
}

export interface MediaCallContext {
  pool: RtpPortPool;
  counters: PacketCounters;
  logger: Logger;
}

export class MediaCall {
  readonly callId: string;
  private readonly legs = new Map<LegRole, CallLeg>();
  /** An array, replaced on change: the packet path iterates it without an iterator object. */
  private recordings: readonly Recording[] = [];
  /** The legs by role for the packet path (no Map lookup per packet). */
  private caller: CallLeg | undefined;
  private callee: CallLeg | undefined;
  private readonly context: MediaCallContext;
  private closing: Promise<void> | undefined;

  private constructor(callId: string, context: MediaCallContext) {
    this.callId = callId;
    this.context = context;
  }

  /**
   * Binds a socket per requested leg. On failure the sockets already bound are released.
   * @throws CapstanError CAPSTAN_ERR_NO_RTP_PORT, CAPSTAN_ERR_BAD_REQUEST (the same leg twice).
   */
  static async allocate(request: AllocateCallRequest, context: MediaCallContext): Promise<MediaCall> {
    const roles = request.legs.map((l) => l.legId);
    if (new Set(roles).size !== roles.length) {
      throw new CapstanError('CAPSTAN_ERR_BAD_REQUEST', `call ${request.callId} lists the same leg twice`, { details: { legs: roles } });
    }
    const call = new MediaCall(request.callId, context);
    try {
      for (const leg of request.legs) {
        const { socket, port } = await context.pool.bind();
        const role = leg.legId;
        const legSocket = new LegSocket({
          socket,
          port,
          serverCounters: context.counters,
          onPacket: (packet, _datagram, arrivalMs) => call.onPacket(role, packet, arrivalMs),
          onError: (e) => context.logger.debug({ callId: call.callId, leg: role, err: e }, 'RTP socket error'),
        });
        const callLeg: CallLeg = {
          role,
          codec: leg.codec,
          socket: legSocket,
          remote: leg.remote,
          decoder: isRecordable(leg.codec) ? createPayloadDecoder(leg.codec) : undefined,
          scaler: new TimestampScaler(isRecordable(leg.codec) ? rtpClockRate(leg.codec) : 8000),
          notRecorded: 0,
          telephoneEvents: 0,
          nativeDecode: nativeDecodeOf(leg.codec),
        };
        call.legs.set(role, callLeg);
        if (role === 'caller') call.caller = callLeg;
        else call.callee = callLeg;
      }
      for (const leg of call.legs.values()) call.wireRelay(leg.role);
    } catch (e) {
      await call.close();
      throw e;
    }
    return call;
  }

  get legRoles(): LegRole[] {
    return [...this.legs.keys()];
  }

  get legCount(): number {
    return this.legs.size;
  }

  leg(role: LegRole): CallLeg {
    const leg = this.legs.get(role);
    if (!leg) throw new CapstanError('CAPSTAN_ERR_CALL_NOT_FOUND', `call ${this.callId} has no ${role} leg`, { details: { callId: this.callId, leg: role } });
    return leg;
  }

  /** The RTP endpoint of each leg as the parties must address it. */
  endpoints(advertiseAddress: string): { legId: LegRole; rtp: Endpoint }[] {
    return [...this.legs.values()].map((l) => ({ legId: l.role, rtp: { address: advertiseAddress, port: l.socket.port } }));
  }

  /** Re-points the relay: packets from the other leg go to `remote` from now on. */
  setRemote(role: LegRole, remote: Endpoint): void {
    this.leg(role).remote = remote;
    this.wireRelay(otherRole(role));
  }

  /** What `role`'s party sends goes out of the other leg's socket to the other party. */
  private wireRelay(role: LegRole): void {
    const from = this.legs.get(role);
    const to = this.legs.get(otherRole(role));
    from?.socket.relayTo(to?.socket, to?.remote);
  }

  /**
   * Checks every leg can be recorded.
   * @throws CapstanError CAPSTAN_ERR_UNSUPPORTED_FORMAT naming the first leg that cannot.
   */
  assertRecordable(): void {
    for (const leg of this.legs.values()) if (!leg.decoder) createPayloadDecoder(leg.codec);
  }

  /**
   * A timeline for a recording of leg `role`: one the leg's socket fills itself when the transport
   * can (the native socket set, a G.711 or L16 leg), so recording that leg's packets costs no
   * JavaScript; otherwise a LegTimeline the packet path pushes to. Same rules either way.
   */
  createTimeline(role: LegRole, options: LegTimelineOptions | undefined): Timeline {
    const leg = this.legs.get(role);
    const native = leg && leg.decoder && leg.nativeDecode !== undefined ? leg.socket.createTimeline(options) : undefined;
    return native ?? new LegTimeline(options);
  }

  addRecording(recording: Recording): void {
    if (this.recordings.includes(recording)) return;
    this.recordings = [...this.recordings, recording];
    this.wireRecordings();
  }

  removeRecording(recording: Recording): void {
    this.recordings = this.recordings.filter((r) => r !== recording);
    this.wireRecordings();
  }

  /** Tells each leg's socket which native timelines to place its audio on (the recordings' in progress). */
  private wireRecordings(): void {
    for (const leg of this.legs.values()) {
      if (leg.nativeDecode === undefined) continue;
      const targets = [];
      for (const recording of this.recordings) {
        const timeline = recording.timelineOf(leg.role);
        if (timeline instanceof NativeLegTimeline) targets.push({ timeline, t0: recording.t0 });
      }
      leg.socket.recordTo(leg.codec.payloadType, leg.nativeDecode, targets);
    }
  }

  get activeRecordings(): Recording[] {
    return [...this.recordings];
  }

  stats(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const leg of this.legs.values()) {
      out[leg.role] = { ...leg.socket.counters.snapshot(), relayed: leg.socket.relayed, notRecorded: leg.notRecorded, telephoneEvents: leg.telephoneEvents };
    }
    return out;
  }

  /** Closes the legs' sockets and gives their ports back. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.recordings = [];
      this.wireRecordings();
      await Promise.all(
        [...this.legs.values()].map(async (leg) => {
          await leg.socket.close();
          this.context.pool.release(leg.socket.port);
        }),
      );
    })();
    return this.closing;
  }

  private onPacket(role: LegRole, packet: RtpPacket, arrivalMs: number): void {
    // Relayed already (LegSocket.relayTo): what is left is recording.
    const recordings = this.recordings;
    if (recordings.length === 0) return;
    const leg = (role === 'caller' ? this.caller : this.callee)!;
    if (packet.payloadType === leg.codec.telephoneEventPayloadType && leg.decoder) {
      this.onTelephoneEvent(leg, packet, arrivalMs);
      return;
    }
    if (!leg.decoder || packet.payloadType !== leg.codec.payloadType) {
      // Comfort noise, an unnegotiated payload type...: relayed, not part of the recorded audio.
      leg.notRecorded++;
      return;
    }
    // Valid until this leg's next packet (the decoder reuses its buffer): the timelines copy it.
    let samples: Int16Array;
    try {
      samples = leg.decoder(packet.payload);
    } catch (e) {
      // A payload the codec refuses (a corrupt Opus packet): counted by reason, the call goes on.
      leg.socket.drop(reasonOf(e, 'undecodable'));
      return;
    }
    const timestamp = leg.scaler.toSamples(packet.timestamp);
    const timelinePacket = { ssrc: packet.ssrc, sequenceNumber: packet.sequenceNumber, timestamp, samples };
    for (let i = 0; i < recordings.length; i++) recordings[i]!.push(role, timelinePacket, arrivalMs);
  }

  /** RFC 4733 DTMF: metadata of the recordings (and maybe masked out of their audio). */
  private onTelephoneEvent(leg: CallLeg, packet: RtpPacket, arrivalMs: number): void {
    let event;
    try {
      event = parseTelephoneEvent(packet.payload);
    } catch (e) {
      leg.socket.drop(reasonOf(e, 'bad-telephone-event'));
      return;
    }
    leg.telephoneEvents++;
    const eventPacket = {
      ssrc: packet.ssrc,
      timestamp: leg.scaler.toSamples(packet.timestamp),
      event: { ...event, duration: leg.scaler.toSampleCount(event.duration) },
    };
    for (const recording of this.recordings) recording.pushTelephoneEvent(leg.role, eventPacket, arrivalMs);
  }
}

/** The native decoding of a codec the transport can record itself: see CallLeg.nativeDecode. */
function nativeDecodeOf(codec: LegCodec): Int16Array | null | undefined {
  if (codec.clockRate !== 8000 || codec.payloadType === codec.telephoneEventPayloadType) return undefined;
  if (codec.name === 'PCMU' || codec.name === 'PCMA') return g711DecodeTable(codec.name);
  return codec.name === 'L16' ? null : undefined;
}

function otherRole(role: LegRole): LegRole {
  return role === 'caller' ? 'callee' : 'caller';
}

function reasonOf(e: unknown, fallback: string): string {
  return isCapstanError(e) && typeof e.details?.reason === 'string' ? e.details.reason : fallback;
}
