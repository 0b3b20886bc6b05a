/**
 * The media server over its two UDP transports: the same packets, sent at the same moments to a
 * server on the native socket set and to one on node:dgram, must give the same recording sample
 * for sample, the same relayed datagrams and the same counters. And a server whose addon cannot
 * load falls back to node:dgram (auto) or refuses to start (native).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulawDecode } from '../../../media/codecs/g711.ts';
import { RecordingResult, type AllocateCallResponse } from '../../../media/control-api.ts';
import { NATIVE_UDP_DISABLED_ENV } from '../../../media/rtp/native-udp-addon.ts';
import { NativeUdpTransport } from '../../../media/rtp/native-udp-transport.ts';
import { RtpPacket } from '../../../media/rtp/rtp-packet.ts';
import { MediaServer, runMediaServer } from '../../../media/server/main.ts';
import { controlApi, type ControlApi } from './control-api-client.ts';
import { randomPayloads, RtpParty } from './rtp-party.ts';
import { stereoChannels } from './wav-channels.ts';

const SECRET = 'media-server-udp-test-secret';
const PCMU = { payloadType: 0, name: 'PCMU' as const, telephoneEventPayloadType: 101 };
let dir: string;
const servers: Record<'native' | 'dgram', MediaServer> = {} as never;
const apis: Record<'native' | 'dgram', ControlApi> = {} as never;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'media-server-udp-'));
  for (const [udp, rtpPorts] of [
    ['native', [47900, 47949]],
    ['dgram', [47950, 47999]],
  ] as const) {
    servers[udp] = await runMediaServer({
      location: 'test',
      id: `ms-${udp}`,
      port: 0,
      address: '127.0.0.1',
      rtpAddress: '127.0.0.1',
      rtpPorts: [...rtpPorts],
      dataDir: join(dir, udp),
      secret: SECRET,
      logLevel: 'silent',
      udp,
    });
    apis[udp] = controlApi(() => servers[udp].controlUrl, SECRET);
  }
});

afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Index where `needle` starts in `hay`, or -1. */
function indexOf(hay: Int16Array, needle: Int16Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

describe('media server: native socket set and node:dgram give the same result', () => {
  it('records the same packet sequence to the same samples, relays the same datagrams and counts the same drops', async () => {
    expect(servers.native.transport.kind).toBe('native');
    expect(servers.dgram.transport.kind).toBe('dgram');
    const [a, b] = await Promise.all([RtpParty.open(), RtpParty.open()]);
    try {
      const ports = {} as Record<'native' | 'dgram', Record<string, number>>;
      for (const udp of ['native', 'dgram'] as const) {
        const legs = (['caller', 'callee'] as const).map((legId) => ({ legId, codec: PCMU, remote: (legId === 'caller' ? a : b).endpoint }));
        const allocated = await apis[udp]('POST', '/v1/calls', { callId: 'same', legs });
        expect(allocated.status).toBe(200);
        ports[udp] = Object.fromEntries((allocated.json as AllocateCallResponse).legs.map((l) => [l.legId, l.rtp.port]));
        expect((await apis[udp]('POST', '/v1/calls/same/recordings', { recordingId: 'r', mime: 'audio/L16', channels: 2 })).status).toBe(200);
      }

      // 60 packets a leg at 20 ms: the caller's 10th lost, its 20th twice, its 30th and 31st
      // swapped; RTCP, junk, comfort noise and a DTMF event in between.
      const fromA = randomPayloads(60, 11);
      const fromB = randomPayloads(60, 12);
      const packet = (payloads: Uint8Array[], i: number, ssrc: number, payloadType = 0) =>
        new RtpPacket({ payloadType, sequenceNumber: 3000 + i, timestamp: 9000 + 160 * i, ssrc, payload: payloads[i]! }).serialize();
      const ticks: { from: RtpParty; leg: 'caller' | 'callee'; datagram: Buffer }[][] = [];
      for (let i = 0; i < 60; i++) {
        const tick: (typeof ticks)[number] = [];
        const callerOrder = i === 30 ? [31, 30] : i === 31 ? [] : i === 10 ? [] : i === 20 ? [20, 20] : [i];
        for (const n of callerOrder) tick.push({ from: a, leg: 'caller', datagram: packet(fromA, n, 0xa) });
        tick.push({ from: b, leg: 'callee', datagram: packet(fromB, i, 0xb) });
        if (i % 15 === 4) tick.push({ from: a, leg: 'caller', datagram: Buffer.from('80c8000600000001', 'hex') });
        if (i % 15 === 6) tick.push({ from: b, leg: 'callee', datagram: Buffer.alloc(9) });
        if (i % 15 === 8) tick.push({ from: b, leg: 'callee', datagram: new RtpPacket({ payloadType: 13, sequenceNumber: 1, timestamp: 1, ssrc: 0xb, payload: Buffer.from([40]) }).serialize() });
        if (i === 40) tick.push({ from: a, leg: 'caller', datagram: new RtpPacket({ payloadType: 101, sequenceNumber: 3041, timestamp: 9000 + 160 * 40, ssrc: 0xa, payload: Buffer.from([5, 0x8a, 0, 160]) }).serialize() });
        ticks.push(tick);
      }
      const start = performance.now();
      for (let i = 0; i < ticks.length; i++) {
        const wait = start + 20 * i - performance.now();
        if (wait > 0) await sleep(wait);
        // The same datagram to both servers at once: they see the same sequence at the same moments.
        for (const { from, leg, datagram } of ticks[i]!) {
          await Promise.all([from.sendRaw(datagram, ports.native[leg]!), from.sendRaw(datagram, ports.dgram[leg]!)]);
        }
      }
      await sleep(300);

      const results = {} as Record<'native' | 'dgram', { result: RecordingResult; channels: { left: Int16Array; right: Int16Array } }>;
      for (const udp of ['native', 'dgram'] as const) {
        const stopped = await apis[udp]('POST', '/v1/recordings/r/stop');
        expect(stopped.status).toBe(200);
        const result = RecordingResult.parse(stopped.json);
        const file = Buffer.from(await (await fetch(result.uri)).arrayBuffer());
        results[udp] = { result, channels: stereoChannels(file) };
      }

      // The audio: from each leg's first packet on, sample for sample (where it starts on the
      // timeline is its arrival time, which may differ by a fraction of a packet).
      for (const side of ['left', 'right'] as const) {
        const first = ulawDecode((side === 'left' ? fromA : fromB)[0]!);
        const spans = (['native', 'dgram'] as const).map((udp) => {
          const channel = results[udp].channels[side];
          const at = indexOf(channel, first);
          expect(at, `${udp} ${side}`).toBeGreaterThanOrEqual(0);
          return channel.subarray(at, at + 60 * 160);
        });
        expect(spans[0]!.length).toBe(60 * 160);
        expect(spans[0]).toEqual(spans[1]);
      }
      // The native server placed the PCMU audio in C (media/native/leg_timeline.c), node:dgram's in TypeScript.
      expect(servers.native.transport).toBeInstanceOf(NativeUdpTransport);
      expect((servers.native.transport as NativeUdpTransport).stats.recorded).toBe(120); // 60 per leg, the duplicate included
      const { legs: nativeLegs, ...nativeTimeline } = results.native.result.stats;
      const { legs: dgramLegs, ...dgramTimeline } = results.dgram.result.stats;
      expect(nativeTimeline).toEqual(dgramTimeline);
      expect(nativeLegs).toEqual(dgramLegs);
      // DTMF: the same digits; where they sit depends on arrival like the audio.
      const digits = (r: RecordingResult) => r.dtmf.map(({ leg, digit, durationMs }) => ({ leg, digit, durationMs }));
      expect(digits(results.native.result)).toEqual(digits(results.dgram.result));
      expect(digits(results.native.result)).toEqual([{ leg: "caller", digit: "5", durationMs: 20 }]);
      expect(nativeTimeline).toMatchObject({ caller: { placed: 59, duplicates: 1 }, callee: { placed: 60 } });
      expect(nativeLegs).toMatchObject({
        caller: { dropped: { rtcp: 4 }, telephoneEvents: 1 },
        callee: { dropped: { 'too-short': 4 }, notRecorded: 4 },
      });

      // The relay: each party got the same datagrams from both servers, in the same order.
      const relayedBy = (party: RtpParty, port: number) => party.received.filter((r) => r.from.port === port).map((r) => r.raw);
      expect(relayedBy(b, ports.native.callee!)).toEqual(relayedBy(b, ports.dgram.callee!));
      expect(relayedBy(a, ports.native.caller!)).toEqual(relayedBy(a, ports.dgram.caller!));
      expect(relayedBy(b, ports.native.callee!).length).toBe(61); // 59 + the duplicate + the DTMF event
      expect(relayedBy(a, ports.native.caller!).length).toBe(64); // 60 + 4 comfort noise
      for (const udp of ['native', 'dgram'] as const) expect((await apis[udp]('DELETE', '/v1/calls/same')).status).toBe(204);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('media server: when the native addon cannot load', () => {
  it('uses node:dgram with a warning in auto, and refuses to start in native', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const options = { location: 'test', port: 0, address: '127.0.0.1', rtpAddress: '127.0.0.1', rtpPorts: [47890, 47899] as [number, number], secret: SECRET, logger };
    process.env[NATIVE_UDP_DISABLED_ENV] = '1';
    try {
      const server = new MediaServer({ ...options, id: 'ms-fallback', dataDir: join(dir, 'fallback') });
      expect(server.transport.kind).toBe('dgram');
      expect(lines.some((l) => l.level === 40 && l.msg.includes('node:dgram'))).toBe(true);
      await server.start();
      try {
        const api = controlApi(() => server.controlUrl, SECRET);
        const party = await RtpParty.open();
        try {
          const allocated = await api('POST', '/v1/calls', { callId: 'fb', legs: [{ legId: 'caller', codec: PCMU }] });
          const port = (allocated.json as AllocateCallResponse).legs[0]!.rtp.port;
          await party.sendRaw(Buffer.alloc(3), port);
          await sleep(50);
          expect((await api('GET', '/v1/health')).json.packets).toEqual({ received: 1, dropped: { 'too-short': 1 } });
        } finally {
          party.close();
        }
      } finally {
        await server.close();
      }
      expect(() => new MediaServer({ ...options, id: 'ms-native', dataDir: join(dir, 'native-only'), udp: 'native' })).toThrow(
        expect.objectContaining({ code: 'CAPSTAN_ERR_NATIVE_UDP' }),
      );
    } finally {
      delete process.env[NATIVE_UDP_DISABLED_ENV];
    }
  });
});
