/**
 * The native UDP socket set against real sockets: what it receives and relays must be what
 * node:dgram receives and relays, datagram for datagram; failures are counted, never thrown.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isCapstanError } from '../../../core/errors.ts';
import { MediaCall } from '../../../media/call/media-call.ts';
import { Recording } from '../../../media/recording/recording.ts';
import { DgramTransport } from '../../../media/rtp/dgram-transport.ts';
import { LegSocket } from '../../../media/rtp/leg-socket.ts';
import { PacketCounters } from '../../../media/rtp/packet-counters.ts';
import { loadNativeUdpAddon, NATIVE_UDP_DISABLED_ENV } from '../../../media/rtp/native-udp-addon.ts';
import { NativeUdpTransport } from '../../../media/rtp/native-udp-transport.ts';
import { openUdpTransport } from '../../../media/rtp/open-udp-transport.ts';
import { RtpPacket } from '../../../media/rtp/rtp-packet.ts';
import { RtpPortPool } from '../../../media/rtp/rtp-port-pool.ts';
import type { UdpSocket, UdpSource, UdpTransport } from '../../../media/rtp/udp-transport.ts';
import { until } from '../../helpers/until.ts';

/** Resolves once `condition` holds (polled), or fails after 5 s. */
const eventually = (condition: () => boolean) => until(condition, (v) => v, 5000);

interface Got {
  data: Buffer;
  source: UdpSource | undefined;
}

/** Listens on `socket`, copying each datagram (the native set reuses its memory). */
function collect(socket: UdpSocket): { got: Got[]; sent: boolean[]; errors: Error[] } {
  const out = { got: [] as Got[], sent: [] as boolean[], errors: [] as Error[] };
  socket.listen({
    onDatagram: (d) => out.got.push({ data: Buffer.from(d), source: socket.currentSource() }),
    onSent: (ok) => out.sent.push(ok),
    onError: (e) => out.errors.push(e),
  });
  return out;
}

async function peer(type: 'udp4' | 'udp6' = 'udp4'): Promise<{ socket: Socket; port: number; got: { data: Buffer; from: RemoteInfo }[] }> {
  const socket = createSocket(type);
  const got: { data: Buffer; from: RemoteInfo }[] = [];
  socket.on('message', (data, from) => got.push({ data, from }));
  await new Promise<void>((r) => socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', r));
  return { socket, port: socket.address().port, got };
}

function rtp(seq: number, ssrc: number, payloadType = 0): Buffer {
  return new RtpPacket({ payloadType, sequenceNumber: seq, timestamp: 160 * seq, ssrc, payload: Buffer.alloc(160, seq & 0xff) }).serialize();
}

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

describe('native UDP socket set: receiving', () => {
  it('delivers each datagram from IPv4 and IPv6 senders to the socket it was sent to, with its source', async () => {
    const set = new NativeUdpTransport();
    open.push(set);
    const v4 = (await set.bind(0, '127.0.0.1'))!;
    const v6 = (await set.bind(0, '::1'))!;
    expect(v4.port).toBeGreaterThan(0);
    expect(v6.port).toBeGreaterThan(0);
    const at4 = collect(v4);
    const at6 = collect(v6);
    const p4 = await peer('udp4');
    const p6 = await peer('udp6');
    open.push(p4.socket, p6.socket);
    for (let i = 0; i < 20; i++) {
      p4.socket.send(`four ${i}`, v4.port, '127.0.0.1');
      p6.socket.send(`six ${i}`, v6.port, '::1');
    }
    await eventually(() => at4.got.length === 20 && at6.got.length === 20);
    expect(at4.got.map((g) => g.data.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `four ${i}`));
    expect(at6.got.map((g) => g.data.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `six ${i}`));
    expect(at4.got[0]!.source).toEqual({ address: '127.0.0.1', family: 'IPv4', port: p4.port });
    expect(at6.got[0]!.source).toEqual({ address: '::1', family: 'IPv6', port: p6.port });
    expect(v4.currentSource()).toBeUndefined(); // only during a delivery
  });

  it('hands thousands of datagrams for hundreds of sockets to JavaScript in far fewer callbacks, none lost', async () => {
    const set = new NativeUdpTransport();
    open.push(set);
    const sockets = await Promise.all(Array.from({ length: 200 }, () => set.bind(0, '127.0.0.1')));
    const counts = new Array<number>(sockets.length).fill(0);
    sockets.forEach((s, i) => s!.listen({ onDatagram: () => counts[i]!++, onSent: () => {}, onError: () => {} }));
    const p = await peer();
    open.push(p.socket);
    const datagram = Buffer.alloc(172, 0x80);
    for (let round = 0; round < 10; round++) for (const s of sockets) p.socket.send(datagram, s!.port, '127.0.0.1');
    await eventually(() => counts.every((c) => c === 10));
    expect(set.stats.received).toBe(2000);
    expect(set.stats.batches).toBeLessThan(2000 / 4);
  });

  it('delivers a datagram of 60 000 bytes whole', async () => {
    const set = new NativeUdpTransport();
    open.push(set);
    const s = (await set.bind(0, '127.0.0.1'))!;
    const at = collect(s);
    const p = await peer();
    open.push(p.socket);
    const big = Buffer.alloc(60_000);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    p.socket.send(big, s.port, '127.0.0.1');
    p.socket.send('small', s.port, '127.0.0.1');
    await eventually(() => at.got.length === 2);
    expect(at.got[0]!.data.equals(big)).toBe(true);
    expect(at.got[1]!.data.toString()).toBe('small');
  });
});

describe('native UDP socket set: sending, binding, closing', () => {
  it('sends what it is given, in order, from the socket it was given to', async () => {
    const set = new NativeUdpTransport();
    open.push(set);
    const a = (await set.bind(0, '127.0.0.1'))!;
    const b = (await set.bind(0, '127.0.0.1'))!;
    const outA = collect(a);
    const outB = collect(b);
    const p = await peer();
    open.push(p.socket);
    for (let i = 0; i < 50; i++) {
      a.send(Buffer.from(`a${i}`), { address: '127.0.0.1', port: p.port });
      b.send(Buffer.from(`b${i}`), { address: '127.0.0.1', port: p.port });
    }
    await eventually(() => p.got.length === 100);
    expect(p.got.filter((g) => g.from.port === a.port).map((g) => g.data.toString())).toEqual(Array.from({ length: 50 }, (_, i) => `a${i}`));
    expect(p.got.filter((g) => g.from.port === b.port).map((g) => g.data.toString())).toEqual(Array.from({ length: 50 }, (_, i) => `b${i}`));
    expect(outA.sent).toEqual(new Array(50).fill(true));
    expect(outB.sent).toEqual(new Array(50).fill(true));
  });

  it('relays RTP natively out of another socket, not RTCP, and stops when told or when that socket closes', async () => {
    const set = new NativeUdpTransport();
    open.push(set);
    const inbound = (await set.bind(0, '127.0.0.1'))!;
    const outbound = (await set.bind(0, '127.0.0.1'))!;
    const p = await peer();
    open.push(p.socket);
    const seen: string[] = [];
    const sent: boolean[] = [];
    inbound.listen({ onDatagram: (d) => seen.push(String(d.readUInt16BE(2))), onSent: () => {}, onError: () => {} });
    // Native relays are counted by the set on the sending socket, not reported one by one.
    outbound.listen({ onDatagram: () => {}, onSent: (ok) => sent.push(ok), onError: () => {} });
    expect(inbound.setRelay!(outbound, { address: '127.0.0.1', port: p.port })).toBe(true);
    const sender = await peer();
    open.push(sender.socket);
    for (let i = 0; i < 5; i++) sender.socket.send(rtp(i, 7), inbound.port, '127.0.0.1');
    sender.socket.send(Buffer.from('80c8000600000001', 'hex'), inbound.port, '127.0.0.1'); // RTCP: not relayed
    await eventually(() => seen.length === 6 && p.got.length === 5);
    expect(p.got.map((g) => g.data)).toEqual([0, 1, 2, 3, 4].map((i) => rtp(i, 7)));
    expect(p.got.every((g) => g.from.port === outbound.port)).toBe(true);
    expect(outbound.nativeCounts!()).toEqual({ recorded: 0, relayed: 5, relayFailed: 0 });
    expect(sent).toEqual([]);

    // A host name is left to the caller: no native relay for it.
    expect(inbound.setRelay!(outbound, { address: 'localhost', port: p.port })).toBe(false);
    sender.socket.send(rtp(5, 7), inbound.port, '127.0.0.1');
    await eventually(() => seen.length === 7);
    expect(inbound.setRelay!(outbound, { address: '127.0.0.1', port: p.port })).toBe(true);
    expect(inbound.setRelay!(undefined, undefined)).toBe(true);
    sender.socket.send(rtp(6, 7), inbound.port, '127.0.0.1');
    await eventually(() => seen.length === 8);
    expect(inbound.setRelay!(outbound, { address: '127.0.0.1', port: p.port })).toBe(true);
    await outbound.close();
    sender.socket.send(rtp(7, 7), inbound.port, '127.0.0.1');
    await eventually(() => seen.length === 9);
    await sleep(30);
    expect(p.got).toHaveLength(5);
    // The closed socket kept its counts; the relay through it after its close was neither sent nor counted.
    expect(outbound.nativeCounts!()).toEqual({ recorded: 0, relayed: 5, relayFailed: 0 });
    expect(inbound.setRelay!(outbound, { address: '127.0.0.1', port: p.port })).toBe(false);
  });

  it('counts a relay the kernel refuses as relay-failed on the leg that sends it, without throwing', async () => {
    const set = new NativeUdpTransport();
    open.push(set);
    const [inbound, outbound] = [(await set.bind(0, '127.0.0.1'))!, (await set.bind(0, '127.0.0.1'))!];
    const server = new PacketCounters();
    const legs = [inbound, outbound].map((socket) => new LegSocket({ socket, port: socket.port, serverCounters: server, onPacket: () => {} }));
    // An IPv6 destination for an IPv4 socket: every sendmmsg fails (EAFNOSUPPORT).
    legs[0]!.relayTo(legs[1], { address: '::1', port: 9 });
    const sender = await peer();
    open.push(sender.socket);
    for (let i = 0; i < 3; i++) sender.socket.send(rtp(i, 7), inbound.port, '127.0.0.1');
    await eventually(() => legs[0]!.counters.received === 3);
    await eventually(() => legs[1]!.counters.dropped['relay-failed'] === 3);
    expect(legs[1]!.relayed).toBe(0);
    expect(server.snapshot()).toEqual({ received: 3, dropped: { 'relay-failed': 3 } });
    // Closed, the legs keep their counts (the set forgets the sockets).
    await Promise.all(legs.map((l) => l.close()));
    expect(server.snapshot()).toEqual({ received: 3, dropped: { 'relay-failed': 3 } });
    expect(legs[1]!.counters.snapshot()).toEqual({ received: 0, dropped: { 'relay-failed': 3 } });
  });

  it('sends to a host name once it resolves, and counts a send it cannot make as failed without throwing', async () => {
    const set = new NativeUdpTransport();
    open.push(set);
    const s = (await set.bind(0, '127.0.0.1'))!;
    const out = collect(s);
    const p = await peer();
    open.push(p.socket);
    s.send(Buffer.from('by name'), { address: 'localhost', port: p.port });
    await eventually(() => p.got.length === 1);
    expect(p.got[0]!.data.toString()).toBe('by name');
    // An IPv6 destination from an IPv4 socket, and a name that does not resolve.
    s.send(Buffer.from('x'), { address: '::1', port: p.port });
    s.send(Buffer.from('y'), { address: 'no-such-host.invalid', port: p.port });
    await eventually(() => out.sent.length === 3);
    expect(out.sent).toEqual([true, false, false]);
    expect(set.stats.sendFailures).toBe(1);
  });

  it('refuses a port another socket holds, so the port pool moves on to the next even port', async () => {
    const holder = createSocket('udp4');
    open.push(holder);
    await new Promise<void>((r) => holder.bind(47800, '127.0.0.1', r));
    const set = new NativeUdpTransport();
    open.push(set);
    expect(await set.bind(47800, '127.0.0.1')).toBeUndefined();
    expect(await set.bind(47800, '203.0.113.9')).toBeUndefined(); // not an address of this machine
    const pool = new RtpPortPool({ range: { min: 47800, max: 47809 }, address: '127.0.0.1', transport: set });
    const first = await pool.bind();
    expect(first.port).toBe(47802);
    // Also against itself: the set's own socket holds 47802 for a second pool.
    const other = new RtpPortPool({ range: { min: 47802, max: 47805 }, address: '127.0.0.1', transport: set });
    expect((await other.bind()).port).toBe(47804);
  });

  it('closes a socket and the set idempotently; a closed socket neither receives nor sends', async () => {
    const set = new NativeUdpTransport();
    const s = (await set.bind(0, '127.0.0.1'))!;
    const keep = (await set.bind(0, '127.0.0.1'))!;
    const out = collect(s);
    const kept = collect(keep);
    const p = await peer();
    open.push(p.socket);
    const port = s.port;
    await s.close();
    await s.close();
    s.send(Buffer.from('after close'), { address: '127.0.0.1', port: p.port });
    p.socket.send('to a closed port', port, '127.0.0.1');
    p.socket.send('to an open one', keep.port, '127.0.0.1');
    await eventually(() => kept.got.length === 1);
    await sleep(50);
    expect(out.got).toEqual([]);
    expect(out.sent).toEqual([]);
    expect(p.got).toEqual([]);
    // The port is free again: node:dgram can take it.
    const again = createSocket('udp4');
    await new Promise<void>((r) => again.bind(port, '127.0.0.1', r));
    again.close();

    await set.close();
    await set.close();
    expect(await set.bind(0, '127.0.0.1')).toBeUndefined();
    keep.send(Buffer.from('x'), { address: '127.0.0.1', port: p.port });
    await keep.close();
    await sleep(20);
    expect(p.got).toEqual([]);
  });
});

describe('native UDP socket set: a media call over it', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'native-udp-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Plays one packet sequence (RTP, RTCP, junk) into a recorded call; returns what came out. */
  async function run(transport: UdpTransport, range: { min: number; max: number }) {
    const [a, b] = await Promise.all([peer(), peer()]);
    const pool = new RtpPortPool({ range, address: '127.0.0.1', transport });
    const counters = new PacketCounters();
    const call = await MediaCall.allocate(
      {
        callId: `relay-${transport.kind}`,
        legs: [
          { legId: 'caller', codec: { payloadType: 0, name: 'PCMU', clockRate: 8000 }, remote: { address: '127.0.0.1', port: a.port } },
          { legId: 'callee', codec: { payloadType: 0, name: 'PCMU', clockRate: 8000 }, remote: { address: '127.0.0.1', port: b.port } },
        ],
      },
      { pool, counters, logger: pino({ level: 'silent' }) },
    );
    // As the media server records: on the native set the legs' G.711 goes onto C timelines there.
    const recording = new Recording({
      recordingId: transport.kind,
      path: join(dir, `${transport.kind}.wav`),
      mime: 'audio/L16',
      channels: 2,
      legs: call.legRoles,
      signUri: (n) => n,
      createTimeline: (leg, options) => call.createTimeline(leg, options),
    });
    await recording.open();
    call.addRecording(recording);
    const ports = Object.fromEntries(call.endpoints('127.0.0.1').map((e) => [e.legId, e.rtp.port]));
    const sequence: [Socket, number, Buffer][] = [];
    for (let i = 0; i < 40; i++) {
      sequence.push([a.socket, ports.caller!, rtp(100 + i, 0xa)]);
      sequence.push([b.socket, ports.callee!, rtp(7000 + i, 0xb)]);
      if (i % 10 === 3) sequence.push([a.socket, ports.caller!, Buffer.from('80c8000600000001', 'hex')]); // RTCP SR
      if (i % 10 === 5) sequence.push([b.socket, ports.callee!, Buffer.alloc(7)]); // too short
      if (i % 10 === 7) sequence.push([a.socket, ports.caller!, Buffer.from('40000001000000010000000100', 'hex')]); // version 1
      if (i % 10 === 8) sequence.push([b.socket, ports.callee!, rtp(9000 + i, 0xb, 13)]); // comfort noise: relayed, not recorded
    }
    // The length checks the native relay makes in C must agree with RtpPacket.parse: the edge cases.
    const withEverything = new RtpPacket({ payloadType: 13, sequenceNumber: 1, timestamp: 1, ssrc: 0xc, csrcs: [1, 2], extension: { profile: 0xbede, data: Buffer.alloc(8, 1) }, payload: Buffer.alloc(3, 9), paddingLength: 4 }).serialize();
    const edge: Buffer[] = [
      withEverything, // valid: CSRCs, an extension and padding — relayed
      Buffer.concat([Buffer.from([0x8f, 0]), Buffer.alloc(20)]), // 15 CSRCs in 22 bytes
      Buffer.concat([Buffer.from([0x90, 0]), Buffer.alloc(12)]), // an extension header cut short
      Buffer.concat([Buffer.from([0x90, 0]), Buffer.alloc(10), Buffer.from([0xbe, 0xde, 0, 9])]), // extension longer than the packet
      Buffer.concat([Buffer.from([0xa0, 0]), Buffer.alloc(13), Buffer.from([0])]), // padding count 0
      Buffer.concat([Buffer.from([0xa0, 0]), Buffer.alloc(13), Buffer.from([40])]), // padding longer than the payload
      Buffer.from([0x80, 200]), // two bytes of RTCP
    ];
    for (const d of edge) sequence.push([b.socket, ports.callee!, d]);
    for (const [from, port, datagram] of sequence) from.send(datagram, port, '127.0.0.1');
    const parses = (d: Buffer) => {
      try {
        RtpPacket.parse(d);
        return true;
      } catch {
        return false;
      }
    };
    const expectRelayed = sequence.filter(([, , d]) => parses(d) && !(d[1]! >= 200 && d[1]! <= 204)).length;
    await eventually(() => counters.received === sequence.length && a.got.length + b.got.length === expectRelayed);
    await sleep(30);
    const result = await recording.stop();
    const stats = call.stats();
    await call.close();
    a.socket.close();
    b.socket.close();
    return {
      toCaller: a.got.map((g) => g.data),
      toCallee: b.got.map((g) => g.data),
      stats,
      counters: counters.snapshot(),
      timeline: { caller: result.stats.caller, callee: result.stats.callee },
    };
  }

  it('relays and counts real RTP exactly as node:dgram does: same bytes in the same order, same counters', async () => {
    const native = new NativeUdpTransport();
    open.push(native);
    const viaNative = await run(native, { min: 47820, max: 47829 });
    const viaDgram = await run(new DgramTransport(), { min: 47830, max: 47839 });
    expect(viaNative.toCallee.length).toBe(40); // the caller's 40 RTP packets
    expect(viaNative.toCaller.length).toBe(40 + 4 + 1); // the callee's 40, its comfort noise, the valid edge case
    expect(viaNative.toCallee).toEqual(viaDgram.toCallee);
    expect(viaNative.toCaller).toEqual(viaDgram.toCaller);
    expect(viaNative.stats).toEqual(viaDgram.stats);
    expect(viaNative.counters).toEqual(viaDgram.counters);
    expect(viaNative.counters.dropped).toEqual({ rtcp: 5, 'too-short': 4, 'bad-version': 4, 'bad-csrc': 1, 'bad-extension': 2, 'bad-padding': 2 });
    expect(viaNative.timeline).toEqual(viaDgram.timeline);
    // The 80 PCMU packets were decoded and placed in C; JavaScript only counted them.
    expect(native.stats.recorded).toBe(80);
    // A leg counts what it sent (the other party's packets) and what it received but did not record.
    expect(viaNative.stats).toMatchObject({ caller: { relayed: 45 }, callee: { relayed: 40, notRecorded: 5 } });
  });
});

describe('native UDP socket set: recording in C', () => {
  it('places a leg\'s audio on every recording in progress from its own start, and stops when a recording stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'native-rec-'));
    const native = new NativeUdpTransport();
    open.push(native);
    const pool = new RtpPortPool({ range: { min: 47840, max: 47849 }, address: '127.0.0.1', transport: native });
    const call = await MediaCall.allocate(
      { callId: 'two-recordings', legs: [{ legId: 'caller', codec: { payloadType: 8, name: 'PCMA', clockRate: 8000 } }] },
      { pool, counters: new PacketCounters(), logger: pino({ level: 'silent' }) },
    );
    const start = (id: string) => {
      const r = new Recording({ recordingId: id, path: join(dir, `${id}.wav`), mime: 'audio/L16', channels: 1, legs: call.legRoles, signUri: (n) => n, createTimeline: (leg, o) => call.createTimeline(leg, o) });
      call.addRecording(r);
      return r;
    };
    const [a] = await Promise.all([peer()]);
    const port = call.endpoints('127.0.0.1')[0]!.rtp.port;
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i++) a.socket.send(new RtpPacket({ payloadType: 8, sequenceNumber: i, timestamp: 160 * i, ssrc: 5, payload: Buffer.alloc(160, 0xd5) }).serialize(), port, '127.0.0.1');
      await eventually(() => call.leg('caller').socket.counters.received === to);
    };
    const first = start('first');
    await first.open();
    await send(0, 10);
    const second = start('second');
    await second.open();
    await send(10, 25);
    const firstResult = await first.stop();
    call.removeRecording(first);
    await send(25, 30);
    const secondResult = await second.stop();
    call.removeRecording(second);
    await send(30, 33);
    // Each recording counted what arrived while it ran; all of it was placed in C (the 30
    // datagrams that came while one ran; the last 3, with none, went nowhere).
    expect(firstResult.stats.caller).toMatchObject({ received: 25, placed: 25, sources: 1 });
    expect(secondResult.stats.caller).toMatchObject({ received: 20, placed: 20, sources: 1 });
    expect(native.stats.recorded).toBe(30);
    expect(call.stats()).toMatchObject({ caller: { received: 33, notRecorded: 0, dropped: {} } });
    await call.close();
    a.socket.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('native UDP addon: loading and fallback', () => {
  it('fails to load with CAPSTAN_ERR_NATIVE_UDP when missing or disabled, and auto falls back to node:dgram with a warning', () => {
    let missing: unknown;
    try {
      loadNativeUdpAddon(join(tmpdir(), 'no-such-capstan_udp.node'));
    } catch (e) {
      missing = e;
    }
    expect(isCapstanError(missing) && missing.code === 'CAPSTAN_ERR_NATIVE_UDP' && missing.details?.reason).toBe('load-failed');

    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    process.env[NATIVE_UDP_DISABLED_ENV] = '1';
    try {
      const fallback = openUdpTransport('auto', logger);
      open.push(fallback);
      expect(fallback.kind).toBe('dgram');
      expect(lines).toEqual([expect.objectContaining({ level: 40, msg: expect.stringContaining('node:dgram') })]);
      expect(() => openUdpTransport('native', logger)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_NATIVE_UDP' }));
      expect(openUdpTransport('dgram', logger).kind).toBe('dgram');
    } finally {
      delete process.env[NATIVE_UDP_DISABLED_ENV];
    }
    const native = openUdpTransport('auto', logger);
    open.push(native);
    expect(native.kind).toBe('native');
  });
});
