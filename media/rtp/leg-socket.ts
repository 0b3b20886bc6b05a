/**
 * The UDP socket of one call leg: receives that party's RTP, parses it, hands valid packets to
 * the call, and sends (relays) the other party's packets to this party.
 *
 * Nothing received may throw into the event loop: malformed datagrams are counted by reason and
 * dropped; a throwing packet handler is caught and counted as 'handler-error'.
 *
 * The party's address is never learned from what it sends: packets are relayed only to remotes
 * configured by the host (AllocateCallRequest / SetRemoteRequest). Learning it (symmetric RTP /
 * latching) would let anyone who guesses the port hijack the other party's audio.
 */
import { isCapstanError } from '../../core/errors.ts';
import type { Endpoint } from '../control-api.ts';
import { RtpPacket } from './rtp-packet.ts';
import type { LegTimelineOptions } from '../recording/leg-timeline.ts';
import type { NativeLegTimeline } from '../recording/native-leg-timeline.ts';
import { PacketCounters } from './packet-counters.ts';
import type { RecordingTarget, UdpSocket } from './udp-transport.ts';

export interface LegSocketOptions {
  /** A bound socket from the media server's UDP transport (node:dgram or the native set). */
  socket: UdpSocket;
  port: number;
  /**
   * Called for every valid packet with the raw datagram and the arrival time (performance.now).
   * The packet's views and the datagram are only valid during the call (the native transport
   * reuses the memory for its next batch): copy what must be kept.
   */
  onPacket: (packet: RtpPacket, datagram: Buffer, arrivalMs: number) => void;
  /** Server-wide counters, updated alongside the leg's own. */
  serverCounters?: PacketCounters;
  /** Told about socket-level errors (which never close the socket on their own). */
  onError?: (error: Error) => void;
}

export class LegSocket {
  readonly port: number;
  readonly counters = new PacketCounters();
  /** Relays sent from JavaScript (the transport's own are in nativeCounts). */
  #relayed = 0;
  /** Removes the transport's counts from the leg's and the server's counters (folding them in) at close. */
  readonly #removeSources: (() => void)[] = [];
  private readonly socket: UdpSocket;
  private readonly options: LegSocketOptions;
  private closing: Promise<void> | undefined;
  /** Where this leg's RTP is relayed: out of the other leg's socket to its party. */
  private relay: { via: LegSocket; to: Endpoint } | undefined;
  /** The transport relays natively (the native socket set): receive() then does not. */
  private relayNative = false;

  constructor(options: LegSocketOptions) {
    this.options = options;
    this.socket = options.socket;
    this.port = options.port;
    this.socket.listen({
      onDatagram: (msg, arrivalMs) => this.receive(msg, arrivalMs),
      onSent: (ok) => {
        if (ok) this.#relayed++;
        else this.count('relay-failed');
      },
      // Socket errors never close the socket; ICMP unreachable and the like are logged.
      onError: (e) => options.onError?.(e),
    });
    const native = this.socket.nativeCounts?.bind(this.socket);
    if (native) {
      this.#removeSources.push(this.counters.addSource(native));
      if (options.serverCounters) this.#removeSources.push(options.serverCounters.addSource(native));
    }
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Datagrams sent out of this socket to its party: the other leg's packets, relayed. */
  get relayed(): number {
    return this.#relayed + (this.socket.nativeCounts?.().relayed ?? 0);
  }

  /**
   * Relays every valid RTP packet this leg receives (RTCP and malformed datagrams are not) out of
   * `via` to `to`, before the packet handler sees it; undefined stops. The native socket set does
   * it without JavaScript (and counts the outcomes itself); node:dgram, here in receive().
   * Outcomes are counted on `via` either way.
   */
  relayTo(via: LegSocket | undefined, to: Endpoint | undefined): void {
    if (this.closing) return;
    this.relay = via && to ? { via, to } : undefined;
    this.relayNative = via !== undefined && to !== undefined && (this.socket.setRelay?.(via.socket, to) ?? false);
    if (!this.relayNative) this.socket.setRelay?.(undefined, undefined);
  }

  /** A timeline the transport fills from this socket itself (see recordTo), or undefined when it cannot. */
  createTimeline(options: LegTimelineOptions | undefined): NativeLegTimeline | undefined {
    return this.closing ? undefined : this.socket.createTimeline?.(options);
  }

  /**
   * Has the transport place this leg's RTP audio of `payloadType` on `targets` itself (decoded
   * with `decodeTable`, or as L16 when null): those packets then reach neither the parser nor the
   * packet handler, only the counters. No targets stops. False when the transport cannot: the
   * packets then come to the handler as before.
   */
  recordTo(payloadType: number, decodeTable: Int16Array | null, targets: readonly RecordingTarget[]): boolean {
    if (this.closing) return false;
    return this.socket.setRecording?.(payloadType, decodeTable, targets) ?? false;
  }

  /** Sends a datagram as is (relay). Failures are counted, never thrown. */
  send(datagram: Uint8Array, to: Endpoint): void {
    if (this.closing) return;
    this.socket.send(datagram, to);
  }

  /** Closes the socket. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.socket
      .close()
      .catch(() => {})
      .then(() => {
        for (const remove of this.#removeSources) remove();
      });
    return this.closing;
  }

  private receive(msg: Buffer, arrivalMs: number): void {
    this.counters.countReceived();
    this.options.serverCounters?.countReceived();
    // RTCP multiplexed on the RTP port (RFC 5761) has packet types 200-204 where RTP has M+PT.
    if (msg.length >= 2 && msg[1]! >= 200 && msg[1]! <= 204) {
      this.count('rtcp');
      return;
    }
    let packet: RtpPacket;
    try {
      packet = RtpPacket.parse(msg);
    } catch (e) {
      this.count(isCapstanError(e) && typeof e.details?.reason === 'string' ? e.details.reason : 'invalid');
      return;
    }
    // Relay first: the other party should not wait for decoding and recording.
    if (this.relay && !this.relayNative) this.relay.via.send(msg, this.relay.to);
    try {
      this.options.onPacket(packet, msg, arrivalMs);
    } catch {
      this.count('handler-error');
    }
  }

  /** Counts a packet dropped after parsing (undecodable payload...) under `reason`, here and server-wide. */
  drop(reason: string): void {
    this.count(reason);
  }

  private count(reason: string): void {
    this.counters.drop(reason);
    this.options.serverCounters?.drop(reason);
  }
}
