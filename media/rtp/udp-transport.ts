/**
 * The UDP sockets a media server's call legs use, behind one small interface so a leg works the
 * same over node:dgram (one event per datagram) and over the native socket set (one callback per
 * batch of datagrams from every socket: docs/native-udp.md).
 *
 * Contract for both: binding a port someone holds fails (resolves undefined) rather than sharing
 * it; nothing received or sent throws into the event loop (send failures come back through
 * `onSent(false)`); `close()` is idempotent.
 */
import type { Endpoint } from '../control-api.ts';
import type { LegTimelineOptions } from '../recording/leg-timeline.ts';
import type { NativeLegTimeline } from '../recording/native-leg-timeline.ts';

export interface NativeSocketCounts {
  recorded: number;
  relayed: number;
  relayFailed: number;
}

/** A timeline a socket places its audio on, and the arrival time (performance.now) of its sample 0. */
export interface RecordingTarget {
  timeline: NativeLegTimeline;
  t0: number;
}

/** Which implementation: the native socket set, or node:dgram. */
export type UdpTransportKind = 'native' | 'dgram';

/** Where a datagram came from. */
export interface UdpSource {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

export interface UdpSocketHandlers {
  /**
   * A datagram arrived at `arrivalMs` (performance.now). The buffer is only valid during the call:
   * the native transport reuses its memory for the next batch, so copy what must outlive it.
   */
  onDatagram(datagram: Buffer, arrivalMs: number): void;
  /** The outcome of each `send`, in order: true when the kernel took the datagram. */
  onSent(ok: boolean): void;
  /** A socket-level error; the socket stays open. */
  onError(error: Error): void;
}

export interface UdpSocket {
  /** The bound port. */
  readonly port: number;
  /** Receives datagrams from now on (none is delivered before). Replaces earlier handlers. */
  listen(handlers: UdpSocketHandlers): void;
  /**
   * Sends a copy of `datagram` (it may be reused as soon as this returns). The outcome comes back
   * through `onSent`; a closed socket drops it silently.
   */
  send(datagram: Uint8Array, to: Endpoint): void;
  /**
   * Relays, from now on, every valid RTP packet this socket receives (RtpPacket.parse accepts it,
   * and it is not RTCP) out of `via` to `to`, before `onDatagram` sees it; the outcomes are counted
   * in `via`'s nativeCounts. `via` undefined stops. Optional: false (or absent) when this
   * transport or this destination cannot, and the caller relays in JavaScript itself.
   */
  setRelay?(via: UdpSocket | undefined, to: Endpoint | undefined): boolean;
  /**
   * A timeline this transport can fill itself, or undefined (absent: node:dgram, or options the
   * native timeline cannot follow exactly).
   */
  createTimeline?(options: LegTimelineOptions | undefined): NativeLegTimeline | undefined;
  /**
   * From now on, places every valid RTP packet of `payloadType` this socket receives on the
   * `targets` (timelines from createTimeline, each at (arrival − t0) × 8 samples), decoded with
   * `decodeTable` (G.711: 256 codes) or as L16 (null), and counts it (nativeCounts) instead of
   * delivering it. No targets stops. Optional: false when this transport cannot.
   */
  setRecording?(payloadType: number, decodeTable: Int16Array | null, targets: readonly RecordingTarget[]): boolean;
  /**
   * What the transport did for this socket without calling its handlers: datagrams received and
   * recorded, and native relays of the other socket's datagrams sent from this one and failed.
   * Still answered (the last counts) after close. Absent: the handlers see everything.
   */
  nativeCounts?(): NativeSocketCounts;
  /** Where the datagram being delivered to `onDatagram` came from; only valid during that call. */
  currentSource(): UdpSource | undefined;
  /** Closes the socket. Idempotent. */
  close(): Promise<void>;
}

export interface UdpTransport {
  readonly kind: UdpTransportKind;
  /**
   * Binds `address`:`port` (port 0: any free port).
   * @returns the socket, or undefined when the port cannot be bound (taken, address not local).
   */
  bind(port: number, address: string): Promise<UdpSocket | undefined>;
  /** Closes every socket it bound. Idempotent. */
  close(): Promise<void>;
}
