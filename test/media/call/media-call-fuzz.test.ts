/**
 * Property-based fuzzing of the receive path: RtpPacket.parse on arbitrary bytes, and a real
 * MediaCall (real UDP sockets, over node:dgram and over the native socket set; a real Recording
 * writing a file) fed random and malformed datagrams — nothing escapes as a throw, every datagram
 * is accounted for by reason, exactly the valid RTP is relayed to the other party (the native
 * set's checks in C against RtpPacket.parse), memory stays flat.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCapstanError } from '../../../core/errors.ts';
import { MediaCall } from '../../../media/call/media-call.ts';
import { Recording } from '../../../media/recording/recording.ts';
import { DgramTransport } from '../../../media/rtp/dgram-transport.ts';
import { PacketCounters } from '../../../media/rtp/packet-counters.ts';
import { NativeUdpTransport } from '../../../media/rtp/native-udp-transport.ts';
import { RtpPacket } from '../../../media/rtp/rtp-packet.ts';
import { RtpPortPool } from '../../../media/rtp/rtp-port-pool.ts';
import { serializeTelephoneEvent } from '../../../media/rtp/telephone-event.ts';

const REASONS = new Set(['too-short', 'bad-version', 'bad-csrc', 'bad-extension', 'bad-padding']);

/** What the leg socket must count a datagram as: 'rtcp', a parse reason, or 'valid'. */
function classify(buf: Uint8Array): string {
  if (buf.length >= 2 && buf[1]! >= 200 && buf[1]! <= 204) return 'rtcp';
  try {
    RtpPacket.parse(buf);
    return 'valid';
  } catch (e) {
    return (e as { details: { reason: string } }).details.reason;
  }
}

/** Datagrams that look like RTP often enough to reach the decoders: valid headers, hostile payloads. */
const datagram = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 300 }),
  // Version 2 with random padding, extension and CSRC bits, and a padding count that is often 0 or too long.
  fc
    .record({ b0: fc.integer({ min: 0x80, max: 0xbf }), b1: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ minLength: 10, maxLength: 80 }), last: fc.constantFrom(0, 1, 2, 4, 12, 40, 255) })
    .map(({ b0, b1, body, last }) => Uint8Array.of(b0, b1, ...body, last)),
  fc
    .record({
      pt: fc.constantFrom(0, 8, 101, 111, 13, 96, 127),
      seq: fc.integer({ min: 0, max: 0xffff }),
      ts: fc.integer({ min: 0, max: 0xffffffff }),
      ssrc: fc.constantFrom(1, 2, 0xffffffff),
      payload: fc.oneof(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.record({ event: fc.integer({ min: 0, max: 255 }), end: fc.boolean(), duration: fc.integer({ min: 0, max: 0xffff }) }).map((e) => serializeTelephoneEvent({ ...e, volume: 10 })),
      ),
      cut: fc.integer({ min: 0, max: 40 }),
      flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))),
    })
    .map(({ pt, seq, ts, ssrc, payload, cut, flip }) => {
      const bytes = new RtpPacket({ payloadType: pt, sequenceNumber: seq, timestamp: ts, ssrc, payload }).serialize();
      if (flip) bytes[flip[0] % bytes.length] = flip[1];
      return cut > 30 ? bytes.subarray(0, cut - 30) : bytes;
    }),
);

describe('RtpPacket.parse under fuzzing', () => {
  it('on arbitrary bytes either parses consistently or refuses with a known reason, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (buf) => {
        try {
          const p = RtpPacket.parse(buf);
          expect(p.byteLength).toBe(buf.length);
          expect(Buffer.from(p.serialize()).subarray(12 + 4 * p.csrcs.length)).toEqual(Buffer.from(buf).subarray(12 + 4 * p.csrcs.length).map((v, i, a) => (p.paddingLength > 0 && i >= a.length - p.paddingLength && i < a.length - 1 ? 0 : v)));
        } catch (e) {
          expect(isCapstanError(e) && e.code === 'CAPSTAN_ERR_RTP_INVALID').toBe(true);
          expect(REASONS.has((e as { details: { reason: string } }).details.reason)).toBe(true);
        }
      }),
      { numRuns: 20_000 },
    );
  });

  it('round-trips every packet built from valid fields', () => {
    fc.assert(
      fc.property(
        fc.record({
          marker: fc.boolean(),
          payloadType: fc.integer({ min: 0, max: 127 }),
          sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
          timestamp: fc.integer({ min: 0, max: 0xffffffff }),
          ssrc: fc.integer({ min: 0, max: 0xffffffff }),
          csrcs: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
          extension: fc.option(fc.record({ profile: fc.integer({ min: 0, max: 0xffff }), data: fc.integer({ min: 0, max: 8 }).map((w) => new Uint8Array(4 * w).fill(w)) }), { nil: undefined }),
          payload: fc.uint8Array({ maxLength: 200 }),
          paddingLength: fc.integer({ min: 0, max: 255 }),
        }),
        (fields) => {
          const p = RtpPacket.parse(new RtpPacket(fields).serialize());
          expect({ ...p, payload: Buffer.from(p.payload), extension: p.extension && { ...p.extension, data: Buffer.from(p.extension.data) } }).toEqual({
            ...fields,
            payload: Buffer.from(fields.payload),
            extension: fields.extension && { ...fields.extension, data: Buffer.from(fields.extension.data) },
          });
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe.each(['dgram', 'native'] as const)('MediaCall under fuzzing over real UDP (%s transport)', (kind) => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'media-call-fuzz-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts every random or malformed datagram by reason, throws nothing, and keeps memory flat', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    const counters = new PacketCounters();
    const transport = kind === 'native' ? new NativeUdpTransport() : new DgramTransport();
    const pool = new RtpPortPool({ range: { min: 47600, max: 47699 }, address: '127.0.0.1', transport });
    // The parties: each counts what the call relays to it.
    const parties = await Promise.all(
      [0, 1].map(async () => {
        const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
        const party = { socket, port: 0, got: 0 };
        socket.on('message', () => party.got++);
        await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
        party.port = socket.address().port;
        return party;
      }),
    );
    const call = await MediaCall.allocate(
      {
        callId: 'fuzz',
        legs: [
          { legId: 'caller', codec: { payloadType: 0, name: 'PCMU', clockRate: 8000, telephoneEventPayloadType: 101 }, remote: { address: '127.0.0.1', port: parties[0]!.port } },
          { legId: 'callee', codec: { payloadType: 111, name: 'opus', clockRate: 48000, telephoneEventPayloadType: 101 }, remote: { address: '127.0.0.1', port: parties[1]!.port } },
        ],
      },
      { pool, counters, logger: pino({ level: 'silent' }) },
    );
    const recording = new Recording({
      recordingId: 'fuzz',
      path: join(dir, 'fuzz.wav'),
      mime: 'audio/L16',
      channels: 2,
      legs: call.legRoles,
      signUri: (n) => `http://127.0.0.1/${n}`,
    });
    call.addRecording(recording);
    await recording.open();
    const ports = Object.fromEntries(call.endpoints('127.0.0.1').map((e) => [e.legId, e.rtp.port]));
    const sender = createSocket('udp4');
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));

    const expected: Record<string, Record<string, number>> = { caller: {}, callee: {} };
    const samples = fc.sample(datagram, { numRuns: 5000, seed: 4733 });
    let total = 0;
    const caughtUp = async (sent: number): Promise<void> => {
      const deadline = performance.now() + 2000;
      while (counters.received < total + sent && performance.now() < deadline) await new Promise((res) => setImmediate(res));
    };
    const send = async (rounds: number): Promise<number> => {
      let sent = 0;
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < samples.length; i++) {
          const leg = i % 2 === 0 ? 'caller' : 'callee';
          const buf = samples[i]!;
          const kind = classify(buf);
          expected[leg]![kind] = (expected[leg]![kind] ?? 0) + 1;
          sender.send(buf, ports[leg]!, '127.0.0.1');
          sent++;
          // Paced by what was received so the kernel's socket buffers never overflow: every
          // datagram must arrive (the receiver is this process's own event loop).
          if (sent % 100 === 0) await caughtUp(sent);
        }
      }
      await caughtUp(sent);
      return sent;
    };
    try {
      total = await send(2); // warm-up: JIT, decoders, ring buffers
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      const sent = (await send(10)) + total;
      gc();
      const heapAfter = process.memoryUsage().heapUsed;
      const result = await recording.stop();
      expect(result.samples).toBeGreaterThan(0);

      // What the caller sent that is valid RTP reaches the callee's party, and the other way round.
      const [toCaller, toCallee] = [expected.callee!.valid ?? 0, expected.caller!.valid ?? 0];
      const relayDeadline = performance.now() + 5000;
      while ((parties[0]!.got < toCaller || parties[1]!.got < toCallee) && performance.now() < relayDeadline) await new Promise((res) => setTimeout(res, 10));
      expect([parties[0]!.got, parties[1]!.got]).toEqual([toCaller, toCallee]);
      const stats = call.stats() as Record<string, { received: number; relayed: number; dropped: Record<string, number>; notRecorded: number; telephoneEvents: number }>;
      expect([stats.caller!.relayed, stats.callee!.relayed]).toEqual([toCaller, toCallee]);
      expect(stats.caller!.received + stats.callee!.received).toBe(sent);
      for (const leg of ['caller', 'callee'] as const) {
        const got = stats[leg]!;
        const want = expected[leg]!;
        for (const reason of [...REASONS, 'rtcp']) expect(got.dropped[reason] ?? 0, `${leg} ${reason}`).toBe(want[reason] ?? 0);
        expect(got.dropped['handler-error']).toBeUndefined();
        // Every valid packet went somewhere counted: audio, DTMF, not recorded, or refused by its decoder.
        const decoderDrops = (got.dropped['bad-opus'] ?? 0) + (got.dropped['bad-telephone-event'] ?? 0);
        const toTimeline = (result.stats[leg] as { received: number }).received;
        expect(decoderDrops + got.notRecorded + got.telephoneEvents + toTimeline).toBe(want.valid ?? 0);
        expect(Object.keys(got.dropped).sort()).toEqual(Object.keys(got.dropped).filter((r) => REASONS.has(r) || ['rtcp', 'bad-opus', 'bad-telephone-event'].includes(r)).sort());
      }
      expect(stats.callee!.dropped['bad-opus']).toBeGreaterThan(0);
      expect(uncaught).toEqual([]);
      // 50 000 datagrams later: no growth beyond noise (each would be ~200 bytes if kept).
      expect(heapAfter - heapBefore).toBeLessThan(3 * 1024 * 1024);
    } finally {
      process.off('uncaughtException', onUncaught);
      sender.close();
      for (const party of parties) party.socket.close();
      await recording.stop().catch(() => {});
      await call.close();
      await transport.close();
    }
  });
});
