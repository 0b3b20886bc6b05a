/**
 * Loads the native UDP socket set (media/native/udp_set.c, built by `npm install`) and describes
 * its functions. Loading fails — and the media server falls back to node:dgram — when the build
 * failed or was skipped, on a platform without epoll/recvmmsg, or when the environment variable
 * CAPSTAN_NATIVE_UDP_DISABLED is set (to test or to rule the addon out in production).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { CapstanError } from '../../core/errors.ts';
import type { NativeTimelineAddon } from '../recording/native-leg-timeline.ts';

/** What `open` returns: the set's handle and the memory it shares with JavaScript. */
export interface NativeUdpSetMemory {
  handle: unknown;
  /** Entries of the last received batch, `fields` int32 each (layout: NATIVE_FIELD). */
  recvTable: ArrayBuffer;
  /** The last batch's datagrams, at the entries' offsets. */
  recvData: ArrayBuffer;
  /** Entries to send, same layout; each entry's STATUS is set by `flush`. */
  sendTable: ArrayBuffer;
  /** Bytes to send, at the entries' offsets. */
  sendData: ArrayBuffer;
  fields: number;
  recvEntries: number;
  sendEntries: number;
}

export interface NativeUdpAddon extends NativeTimelineAddon {
  /**
   * Creates a set; `onBatch(count, arrivalMs)` is called once per wake-up with the entries
   * received and the wake-up's time: clockMs() − clockOffsetMs (performance.now() with the offset
   * between the two clocks).
   */
  open(onBatch: (count: number, arrivalMs: number) => void, clockOffsetMs: number): NativeUdpSetMemory;
  /** uv_hrtime in milliseconds: the clock performance.now() counts from its origin. */
  clockMs(): number;
  /** A socket id (>= 0), or -errno (-EADDRINUSE: the port is taken). */
  bind(handle: unknown, address: string, port: number): number;
  localPort(handle: unknown, id: number): number;
  /** True when it was open. Idempotent. */
  closeSocket(handle: unknown, id: number): boolean;
  /** Sends the first `count` send entries; returns how many failed. */
  flush(handle: unknown, count: number): number;
  /**
   * Relays every valid RTP datagram socket `id` receives out of socket `viaId` to `address`
   * (as parseAddress writes it) and `port`, before the batch is delivered; viaId < 0 stops. The
   * outcomes are counted on `viaId` (socketCounters).
   * 0, or -errno (EBADF: a socket is not open; EINVAL: a bad address or port).
   */
  setRelay(handle: unknown, id: number, viaId: number, address?: Int32Array, port?: number): number;
  /**
   * Places socket `id`'s RTP of `payloadType` on the timelines `timelineIds[0..count)`, each at
   * (arrival − its t0) × 8 samples, decoded with `decodeTable` (256 G.711 codes) or as L16 (null);
   * those datagrams are counted (socketCounters), not delivered. payloadType < 0 or count 0 stops.
   * 0, or -errno.
   */
  setRecording(handle: unknown, id: number, payloadType: number, decodeTable: Int16Array | null, timelineIds: Int32Array, t0s: Float64Array, count: number): number;
  /**
   * What the set did for socket `id` without JavaScript: `out` = [recorded, relayed, relayFailed]
   * (relays it sent for other sockets). False when the socket is not open.
   */
  socketCounters(handle: unknown, id: number, out: Float64Array): boolean;
  /** Datagrams the set recorded without JavaScript, over every socket it had. */
  recordedTotal(handle: unknown): number;
  /** 4 or 6 with `out` = [family, scope, 4 address words], or 0 when `address` is not numeric. */
  parseAddress(address: string, out: Int32Array): number;
  /** Closes every socket. Idempotent. */
  close(handle: unknown): void;
}

/** Field indexes of a table entry (media/native/udp_set.c). */
export const NATIVE_FIELD = { id: 0, offset: 1, length: 2, family: 3, port: 4, scope: 5, address: 6, status: 10 } as const;

export const NATIVE_UDP_DISABLED_ENV = 'CAPSTAN_NATIVE_UDP_DISABLED';

const DEFAULT_PATH = fileURLToPath(new URL('../native/build/Release/capstan_udp.node', import.meta.url));

let cached: NativeUdpAddon | undefined;

/**
 * The addon, loaded once per process.
 * @throws CapstanError CAPSTAN_ERR_NATIVE_UDP when it is disabled, missing or does not load.
 */
export function loadNativeUdpAddon(path: string = DEFAULT_PATH): NativeUdpAddon {
  if (process.env[NATIVE_UDP_DISABLED_ENV]) {
    throw new CapstanError('CAPSTAN_ERR_NATIVE_UDP', `the native UDP addon is disabled by ${NATIVE_UDP_DISABLED_ENV}`, { details: { reason: 'disabled' } });
  }
  if (path === DEFAULT_PATH && cached) return cached;
  let addon: NativeUdpAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeUdpAddon;
  } catch (e) {
    throw new CapstanError('CAPSTAN_ERR_NATIVE_UDP', `the native UDP addon cannot be loaded: ${(e as Error).message}`, {
      details: { reason: 'load-failed', path },
      cause: e,
    });
  }
  if (typeof addon.open !== 'function' || typeof addon.flush !== 'function' || typeof addon.setRelay !== 'function' || typeof addon.setRecording !== 'function') {
    throw new CapstanError('CAPSTAN_ERR_NATIVE_UDP', 'the native UDP addon is not the expected build', { details: { reason: 'unexpected', path } });
  }
  if (path === DEFAULT_PATH) cached = addon;
  return addon;
}
