/**
 * UDP over the native socket set (media/native/udp_set.c, docs/native-udp.md): every socket of the
 * media server in one epoll set, read with recvmmsg, one JavaScript callback per wake-up for
 * every datagram of every socket, and the sends queued during that callback written with
 * sendmmsg in one native call at its end. Per datagram, JavaScript only reads a few integers and
 * makes a Buffer view; node:dgram makes a native→JS callback, a Buffer and an rinfo object per
 * datagram received, and a request object, a lookup and a callback per datagram sent.
 *
 * The datagram views point into memory the next batch overwrites: a handler must copy what it
 * keeps (the media path does: relay sends are copied into the send buffer here, decoders copy
 * the payload into samples).
 */
import { lookup } from 'node:dns/promises';
import type { Endpoint } from '../control-api.ts';
import { errnoError } from '../errno-error.ts';
import type { LegTimelineOptions } from '../recording/leg-timeline.ts';
import { NativeLegTimeline, nativeTimelineOptions } from '../recording/native-leg-timeline.ts';
import { loadNativeUdpAddon, NATIVE_FIELD as F, type NativeUdpAddon } from './native-udp-addon.ts';
import type { NativeSocketCounts, RecordingTarget, UdpSocket, UdpSocketHandlers, UdpSource, UdpTransport } from './udp-transport.ts';

/** Socket ids are `generation << 20 | slot` (udp_set.c). */
const SLOT_MASK = (1 << 20) - 1;
/** Sends held per destination while its host name resolves; more are counted as failed. */
const MAX_WAITING = 64;

/** A destination as the send table wants it: [family, scope, 4 address words]. */
interface Destination {
  address: string;
  port: number;
  words: Int32Array | undefined;
  /** Sends waiting for the host name to resolve. */
  waiting: { socket: NativeUdpSocket; bytes: Uint8Array }[] | undefined;
}

class NativeUdpSocket implements UdpSocket {
  readonly port: number;
  readonly id: number;
  readonly family: 4 | 6;
  handlers: UdpSocketHandlers | undefined;
  closed = false;
  /** The set's counts for this socket, kept when it closes (the set forgets a closed socket). */
  finalCounts: NativeSocketCounts | undefined;
  private readonly set: NativeUdpTransport;

  constructor(set: NativeUdpTransport, id: number, port: number, family: 4 | 6) {
    this.set = set;
    this.id = id;
    this.port = port;
    this.family = family;
  }

  listen(handlers: UdpSocketHandlers): void {
    this.handlers = handlers;
  }

  send(datagram: Uint8Array, to: Endpoint): void {
    if (!this.closed) this.set.send(this, datagram, to);
  }

  setRelay(via: UdpSocket | undefined, to: Endpoint | undefined): boolean {
    return !this.closed && this.set.setRelay(this, via, to);
  }

  createTimeline(options: LegTimelineOptions | undefined): NativeLegTimeline | undefined {
    return this.closed ? undefined : this.set.createTimeline(options);
  }

  setRecording(payloadType: number, decodeTable: Int16Array | null, targets: readonly RecordingTarget[]): boolean {
    return !this.closed && this.set.setRecording(this, payloadType, decodeTable, targets);
  }

  nativeCounts(): NativeSocketCounts {
    return this.finalCounts ?? this.set.countsOf(this);
  }

  currentSource(): UdpSource | undefined {
    return this.set.sourceOf(this);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.set.closeSocket(this);
    }
    return Promise.resolve();
  }
}

/** What a native set has done since it opened. */
export interface NativeUdpStats {
  /** JavaScript callbacks: one per wake-up (or per 1024 datagrams). */
  batches: number;
  /** Table entries delivered: datagrams and receive errors. */
  received: number;
  /** Datagrams not delivered: their audio was placed on recording timelines by the set itself. */
  recorded: number;
  /** Datagrams handed to the kernel, and those it refused. */
  sent: number;
  sendFailures: number;
}

export class NativeUdpTransport implements UdpTransport {
  readonly kind = 'native' as const;
  private readonly counts = { batches: 0, received: 0, sent: 0, sendFailures: 0 };
  private recordedAtClose = 0;
  private readonly countsOut = new Float64Array(3);
  private readonly addon: NativeUdpAddon;
  private readonly handle: unknown;
  private readonly fields: number;
  private readonly recvTable: Int32Array;
  private readonly recvTableBytes: Uint8Array;
  private readonly recvData: Buffer;
  private readonly sendTable: Int32Array;
  private readonly sendData: Uint8Array;
  private readonly sendEntries: number;
  /** By slot (id & SLOT_MASK); the id check rejects a slot's earlier socket. */
  private readonly sockets: (NativeUdpSocket | undefined)[] = [];
  private readonly destinations = new WeakMap<Endpoint, Destination>();
  private readonly outcomeIds: Int32Array;
  private readonly outcomeOk: Uint8Array;
  private sendCount = 0;
  private sendUsed = 0;
  private inBatch = false;
  private flushScheduled = false;
  /** Table index of the datagram being delivered (for currentSource), or -1. */
  private delivering = -1;
  private closed = false;

  /** @throws CapstanError CAPSTAN_ERR_NATIVE_UDP when the addon cannot be loaded. */
  constructor(addon: NativeUdpAddon = loadNativeUdpAddon()) {
    this.addon = addon;
    // performance.now() is uv_hrtime from an origin: the offset, measured once, puts the set's
    // wake-up times on that clock (within a microsecond), so packets placed natively and in
    // JavaScript share one arrival time per batch.
    // The tightest of a few readings: the first performance.now() of a process can take a
    // millisecond or two.
    let offset = 0;
    let spread = Infinity;
    for (let i = 0; i < 5; i++) {
      const before = addon.clockMs();
      const now = performance.now();
      const after = addon.clockMs();
      if (after - before < spread) {
        spread = after - before;
        offset = (before + after) / 2 - now;
      }
    }
    const memory = addon.open((count, arrivalMs) => this.onBatch(count, arrivalMs), offset);
    this.handle = memory.handle;
    this.fields = memory.fields;
    this.recvTable = new Int32Array(memory.recvTable);
    this.recvTableBytes = new Uint8Array(memory.recvTable);
    this.recvData = Buffer.from(memory.recvData);
    this.sendTable = new Int32Array(memory.sendTable);
    this.sendData = new Uint8Array(memory.sendData);
    this.sendEntries = memory.sendEntries;
    this.outcomeIds = new Int32Array(memory.sendEntries);
    this.outcomeOk = new Uint8Array(memory.sendEntries);
  }

  get stats(): NativeUdpStats {
    return { ...this.counts, recorded: this.closed ? this.recordedAtClose : this.addon.recordedTotal(this.handle) };
  }

  /** The set's counts for an open socket (zeros for one it no longer has). */
  countsOf(socket: NativeUdpSocket): NativeSocketCounts {
    const out = this.countsOut;
    if (this.closed || !this.addon.socketCounters(this.handle, socket.id, out)) return { recorded: 0, relayed: 0, relayFailed: 0 };
    return { recorded: out[0]!, relayed: out[1]!, relayFailed: out[2]! };
  }

  async bind(port: number, address: string): Promise<UdpSocket | undefined> {
    if (this.closed) return undefined;
    let ip = address;
    if (this.addon.parseAddress(address, new Int32Array(6)) === 0) {
      // A host name: resolved as node:dgram does, with the family its socket type implies.
      try {
        ip = (await lookup(address, { family: address.includes(':') ? 6 : 4 })).address;
      } catch {
        return undefined;
      }
      if (this.closed) return undefined;
    }
    const id = this.addon.bind(this.handle, ip, port);
    if (id < 0) return undefined;
    const bound = port === 0 ? this.addon.localPort(this.handle, id) : port;
    const socket = new NativeUdpSocket(this, id, bound, ip.includes(':') ? 6 : 4);
    this.sockets[id & SLOT_MASK] = socket;
    return socket;
  }

  /** Closes every socket. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    for (const socket of this.sockets) {
      if (!socket) continue;
      socket.finalCounts = this.countsOf(socket);
      socket.closed = true;
    }
    this.recordedAtClose = this.addon.recordedTotal(this.handle);
    this.closed = true;
    this.sockets.length = 0;
    this.addon.close(this.handle);
  }

  /** Queues a copy of `datagram`; flushed at the end of the current batch, or on the next turn of the loop. */
  send(socket: NativeUdpSocket, datagram: Uint8Array, to: Endpoint): void {
    let destination = this.destinations.get(to);
    if (!destination || destination.address !== to.address || destination.port !== to.port) {
      destination = this.destination(socket, to);
    }
    if (destination.words) this.enqueue(socket, datagram, destination.words, destination.port);
    else if (destination.waiting && destination.waiting.length < MAX_WAITING) destination.waiting.push({ socket, bytes: Uint8Array.from(datagram) });
    else socket.handlers?.onSent(false);
  }

  /** Native relay of `socket`'s RTP out of `via` (a socket of this set) to a numeric address. */
  setRelay(socket: NativeUdpSocket, via: UdpSocket | undefined, to: Endpoint | undefined): boolean {
    if (this.closed) return false;
    if (!via || !to) return this.addon.setRelay(this.handle, socket.id, -1) === 0;
    if (!(via instanceof NativeUdpSocket) || via.closed || this.socketOf(via.id) !== via) return false;
    const words = new Int32Array(6);
    // A host name is left to the caller (node:dgram-style resolution per send): false.
    if (this.addon.parseAddress(to.address, words) === 0) {
      this.addon.setRelay(this.handle, socket.id, -1);
      return false;
    }
    return this.addon.setRelay(this.handle, socket.id, via.id, words, to.port) === 0;
  }

  /** A native timeline in this set, or undefined when the set is closed or cannot follow `options` exactly. */
  createTimeline(options: LegTimelineOptions | undefined): NativeLegTimeline | undefined {
    if (this.closed) return undefined;
    const native = nativeTimelineOptions(options);
    return native && new NativeLegTimeline(this.addon, this.handle, native);
  }

  /** Native recording of `socket`'s audio onto `targets`' timelines (none: stops). */
  setRecording(socket: NativeUdpSocket, payloadType: number, decodeTable: Int16Array | null, targets: readonly RecordingTarget[]): boolean {
    if (this.closed) return false;
    const ids = Int32Array.from(targets, (t) => t.timeline.id);
    const t0s = Float64Array.from(targets, (t) => t.t0);
    return this.addon.setRecording(this.handle, socket.id, targets.length > 0 ? payloadType : -1, decodeTable, ids, t0s, targets.length) === 0;
  }

  closeSocket(socket: NativeUdpSocket): void {
    if (this.closed) return;
    // What was queued for it still goes out, as node:dgram sends what was given before close().
    this.flush();
    socket.finalCounts = this.countsOf(socket);
    this.addon.closeSocket(this.handle, socket.id);
    if (this.sockets[socket.id & SLOT_MASK] === socket) this.sockets[socket.id & SLOT_MASK] = undefined;
  }

  sourceOf(socket: NativeUdpSocket): UdpSource | undefined {
    const base = this.delivering;
    if (base < 0 || this.recvTable[base + F.id] !== socket.id) return undefined;
    const t = this.recvTable;
    const family = t[base + F.family] === 6 ? 'IPv6' : 'IPv4';
    return { address: formatAddress(this.recvTableBytes, (base + F.address) * 4, family, t[base + F.scope]!), family, port: t[base + F.port]! };
  }

  private socketOf(id: number): NativeUdpSocket | undefined {
    const socket = this.sockets[id & SLOT_MASK];
    return socket && socket.id === id ? socket : undefined;
  }

  private onBatch(count: number, arrivalMs: number): void {
    const t = this.recvTable;
    const fields = this.fields;
    this.counts.batches++;
    this.counts.received += count;
    let thrown: { error: unknown } | undefined;
    this.inBatch = true;
    try {
      for (let i = 0; i < count; i++) {
        const base = i * fields;
        const socket = this.socketOf(t[base + F.id]!);
        this.delivering = base;
        try {
          // Relay outcomes and recorded datagrams never come here: the set counts them (socketCounters).
          if (!socket || socket.closed || !socket.handlers) continue;
          const handlers = socket.handlers;
          const status = t[base + F.status]!;
          if (status !== 0) {
            handlers.onError(errnoError(status, 'recvmmsg'));
            continue;
          }
          const offset = t[base + F.offset]!;
          handlers.onDatagram(this.recvData.subarray(offset, offset + t[base + F.length]!), arrivalMs);
        } catch (error) {
          // As with a throwing 'message' listener the error reaches the process, but only after
          // the rest of the batch is delivered: one bad handler must not cost other calls packets.
          thrown ??= { error };
        }
      }
    } finally {
      this.delivering = -1;
      this.inBatch = false;
      this.flush();
    }
    if (thrown) throw thrown.error;
  }

  private destination(socket: NativeUdpSocket, to: Endpoint): Destination {
    const words = new Int32Array(6);
    const numeric = this.addon.parseAddress(to.address, words) !== 0;
    const destination: Destination = { address: to.address, port: to.port, words: numeric ? words : undefined, waiting: numeric ? undefined : [] };
    this.destinations.set(to, destination);
    if (!numeric) void this.resolve(socket, to, destination);
    return destination;
  }

  /** A host name is looked up once per endpoint (node:dgram looks it up for every datagram). */
  private async resolve(socket: NativeUdpSocket, to: Endpoint, destination: Destination): Promise<void> {
    const waiting = destination.waiting ?? [];
    const words = new Int32Array(6);
    try {
      const { address } = await lookup(to.address, { family: socket.family });
      if (this.addon.parseAddress(address, words) === 0) throw new Error(`${address} is not an IP address`);
    } catch {
      // Forgotten, so the next send looks it up again.
      if (this.destinations.get(to) === destination) this.destinations.delete(to);
      destination.waiting = undefined;
      for (const w of waiting) w.socket.handlers?.onSent(false);
      return;
    }
    destination.words = words;
    destination.waiting = undefined;
    for (const w of waiting) if (!w.socket.closed && !this.closed) this.enqueue(w.socket, w.bytes, words, destination.port);
  }

  private enqueue(socket: NativeUdpSocket, datagram: Uint8Array, words: Int32Array, port: number): void {
    const length = datagram.byteLength;
    if (this.closed || length > this.sendData.byteLength) {
      socket.handlers?.onSent(false);
      return;
    }
    if (this.sendCount === this.sendEntries || this.sendUsed + length > this.sendData.byteLength) this.flush();
    const t = this.sendTable;
    const base = this.sendCount * this.fields;
    t[base + F.id] = socket.id;
    t[base + F.offset] = this.sendUsed;
    t[base + F.length] = length;
    t[base + F.family] = words[0]!;
    t[base + F.port] = port;
    t[base + F.scope] = words[1]!;
    t[base + F.address] = words[2]!;
    t[base + F.address + 1] = words[3]!;
    t[base + F.address + 2] = words[4]!;
    t[base + F.address + 3] = words[5]!;
    this.sendData.set(datagram, this.sendUsed);
    this.sendUsed += (length + 7) & ~7;
    this.sendCount++;
    if (!this.inBatch && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.scheduledFlush);
    }
  }

  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /** Writes the queued datagrams, then tells each socket how its sends went. */
  private flush(): void {
    const count = this.sendCount;
    if (count === 0) return;
    this.sendCount = 0;
    this.sendUsed = 0;
    const failures = this.closed ? count : this.addon.flush(this.handle, count);
    this.counts.sent += count - failures;
    this.counts.sendFailures += failures;
    // Outcomes are read out first: a handler that sends again refills the table.
    const t = this.sendTable;
    for (let i = 0; i < count; i++) {
      const base = i * this.fields;
      this.outcomeIds[i] = t[base + F.id]!;
      this.outcomeOk[i] = failures === 0 || (failures < count && t[base + F.status] === 0) ? 1 : 0;
    }
    for (let i = 0; i < count; i++) {
      this.socketOf(this.outcomeIds[i]!)?.handlers?.onSent(this.outcomeOk[i] === 1);
    }
  }
}

/** An address from its bytes, written as node:dgram writes it ('::1', '::ffff:127.0.0.1'). */
function formatAddress(bytes: Uint8Array, at: number, family: 'IPv4' | 'IPv6', scope: number): string {
  if (family === 'IPv4') return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[at + 2 * i]! << 8) | bytes[at + 2 * i + 1]!);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `::ffff:${bytes[at + 12]}.${bytes[at + 13]}.${bytes[at + 14]}.${bytes[at + 15]}`;
  // The longest run of two or more zero groups becomes '::' (RFC 5952).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  const text = bestStart < 0 ? hex.join(':') : `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
  return scope ? `${text}%${scope}` : text;
}
