/**
 * The media server over real UDP with what real legs send besides G.711: an Opus leg (48 kHz RTP
 * clock, dynamic payload type), RFC 4733 DTMF (masked on request), and loss on a leg.
 */
import discordOpus from '@discordjs/opus';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulawDecode, ulawEncode } from '../../../media/codecs/g711.ts';
import { RecordingResult, type AllocateCallResponse } from '../../../media/control-api.ts';
import { RtpPacket } from '../../../media/rtp/rtp-packet.ts';
import { serializeTelephoneEvent } from '../../../media/rtp/telephone-event.ts';
import { runMediaServer, type MediaServer } from '../../../media/server/main.ts';
import { randomPayloads, RtpParty } from './rtp-party.ts';
import { controlApi } from './control-api-client.ts';
import { stereoChannels } from './wav-channels.ts';

const { OpusEncoder } = discordOpus;
const SECRET = 'media-server-legs-secret';
let dir: string;
let server: MediaServer;

const api = controlApi(() => server.controlUrl, SECRET);

async function channels(uri: string): Promise<{ left: Int16Array; right: Int16Array }> {
  return stereoChannels(Buffer.from(await (await fetch(uri)).arrayBuffer()));
}

function rms(x: Int16Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'media-server-legs-'));
  server = await runMediaServer({
    location: 'test',
    id: 'ms-legs',
    port: 0,
    address: '127.0.0.1',
    rtpAddress: '127.0.0.1',
    rtpPorts: [47400, 47499],
    dataDir: dir,
    secret: SECRET,
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('media server: Opus legs, DTMF and loss', () => {
  it('records an Opus caller beside a PCMU callee, lists the caller\'s DTMF and masks it out of the audio', async () => {
    const [a, b] = await Promise.all([RtpParty.open(), RtpParty.open()]);
    try {
      const legs = [
        { legId: 'caller', codec: { payloadType: 111, name: 'opus', clockRate: 48000, telephoneEventPayloadType: 101 }, remote: a.endpoint },
        { legId: 'callee', codec: { payloadType: 0, name: 'PCMU', telephoneEventPayloadType: 101 }, remote: b.endpoint },
      ];
      const allocated = await api('POST', '/v1/calls', { callId: 'c-opus', legs });
      expect(allocated.status).toBe(200);
      const ports = Object.fromEntries((allocated.json as AllocateCallResponse).legs.map((l) => [l.legId, l.rtp.port]));
      const started = await api('POST', '/v1/calls/c-opus/recordings', { recordingId: 'r-opus', mime: 'audio/L16', channels: 2, maskDtmf: true });
      expect(started.status).toBe(200);
      const t0 = performance.now();

      // Caller: 1.6 s of a 440 Hz tone in Opus (20 ms, 48 kHz clock); a '7' from 0.6 s to 0.8 s.
      const enc = new OpusEncoder(48000, 1);
      const fromB = randomPayloads(80, 5);
      const start = performance.now();
      const ssrc = 0x0a0a;
      for (let i = 0; i < 80; i++) {
        const wait = start + 20 * i - performance.now();
        if (wait > 0) await sleep(wait);
        const pcm = Buffer.alloc(1920);
        for (let s = 0; s < 960; s++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * (i * 960 + s)) / 48000)), 2 * s);
        const ts = 90_000 + 960 * i;
        await a.sendRaw(new RtpPacket({ payloadType: 111, sequenceNumber: 300 + i, timestamp: ts, ssrc, payload: enc.encode(pcm) }).serialize(), ports.caller!);
        await b.sendRaw(new RtpPacket({ payloadType: 0, sequenceNumber: 7000 + i, timestamp: 160 * i, ssrc: 0x0b0b, payload: fromB[i]! }).serialize(), ports.callee!);
        if (i >= 30 && i < 40 && i % 2 === 0) {
          // Every 40 ms an update of the event that started at packet 30's timestamp; the last three carry E.
          const duration = (i - 30 + 2) * 960;
          const end = i === 38;
          for (let r = 0; r < (end ? 3 : 1); r++) {
            const payload = serializeTelephoneEvent({ event: 7, end, volume: 10, duration });
            await a.sendRaw(new RtpPacket({ payloadType: 101, sequenceNumber: 1, timestamp: 90_000 + 960 * 30, ssrc, payload }).serialize(), ports.caller!);
          }
        }
      }
      await sleep(40);
      const stopAsked = performance.now();
      const stopped = await api('POST', '/v1/recordings/r-opus/stop');
      expect(stopped.status).toBe(200);
      const result = RecordingResult.parse(stopped.json);
      // At least from the start's answer to the stop's request (the stop itself may take long on a loaded machine).
      expect(result.samples).toBeGreaterThanOrEqual(Math.floor((stopAsked - t0 - 20) * 8));

      // The digit: its place is where packet 30 of the caller landed, 200 ms long.
      expect(result.dtmf).toHaveLength(1);
      const [dtmf] = result.dtmf;
      expect(dtmf).toMatchObject({ leg: 'caller', digit: '7', durationMs: 200 });
      const { left, right } = await channels(result.uri);
      const toneStart = left.findIndex((v) => Math.abs(v) > 1000);
      expect(Math.abs(dtmf!.atMs * 8 - (toneStart + 30 * 160))).toBeLessThanOrEqual(160);

      // Left: the tone, except in the digit's span, which is silence. Right: the PCMU, untouched.
      const at = Math.round(dtmf!.atMs * 8);
      expect(left.subarray(at, at + 1600).every((v) => v === 0)).toBe(true);
      expect(rms(left.subarray(toneStart + 1600, at - 160))).toBeGreaterThan(3000);
      expect(rms(left.subarray(at + 1600 + 160, at + 1600 + 160 + 1600))).toBeGreaterThan(3000);
      const expected = ulawDecode(Buffer.concat(fromB));
      const rightStart = right.findIndex((_, i) => right[i] === expected[0] && right[i + 1] === expected[1] && right[i + 2] === expected[2]);
      expect(right.subarray(rightStart, rightStart + expected.length)).toEqual(expected);

      expect(result.stats).toMatchObject({ caller: { placed: 80, late: 0 }, callee: { placed: 80, late: 0 } });
      expect((result.stats.legs as any).caller.telephoneEvents).toBe(7);
      // Relay: the callee's party got every caller packet, Opus and DTMF, unchanged.
      expect(b.received.filter((r) => r.packet.payloadType === 101)).toHaveLength(7);
      await api('DELETE', '/v1/calls/c-opus');
    } finally {
      a.close();
      b.close();
    }
  });

  it('conceals a lost packet on a leg and counts malformed Opus and DTMF payloads by reason', async () => {
    const [a] = await Promise.all([RtpParty.open()]);
    try {
      const legs = [{ legId: 'caller', codec: { payloadType: 111, name: 'opus', clockRate: 48000, telephoneEventPayloadType: 101 } }];
      const allocated = await api('POST', '/v1/calls', { callId: 'c-loss', legs });
      const port = (allocated.json as AllocateCallResponse).legs[0]!.rtp.port;
      await api('POST', '/v1/calls/c-loss/recordings', { recordingId: 'r-loss', mime: 'audio/L16', channels: 2 });
      const enc = new OpusEncoder(48000, 1);
      const start = performance.now();
      for (let i = 0; i < 40; i++) {
        const wait = start + 20 * i - performance.now();
        if (wait > 0) await sleep(wait);
        const pcm = Buffer.alloc(1920);
        for (let s = 0; s < 960; s++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 300 * (i * 960 + s)) / 48000)), 2 * s);
        const payload = enc.encode(pcm);
        if (i === 20) continue; // lost
        await a.sendRaw(new RtpPacket({ payloadType: 111, sequenceNumber: i, timestamp: 960 * i, ssrc: 9, payload }).serialize(), port);
      }
      await a.sendRaw(new RtpPacket({ payloadType: 111, sequenceNumber: 100, timestamp: 960 * 100, ssrc: 9, payload: Uint8Array.of(0xf9, 1) }).serialize(), port);
      await a.sendRaw(new RtpPacket({ payloadType: 101, sequenceNumber: 101, timestamp: 960 * 100, ssrc: 9, payload: Uint8Array.of(1, 2) }).serialize(), port);
      await sleep(60);
      const result = RecordingResult.parse((await api('POST', '/v1/recordings/r-loss/stop')).json);
      const { left } = await channels(result.uri);
      const toneStart = left.findIndex((v) => Math.abs(v) > 1000);
      // The lost packet's 20 ms are not silence: the previous 20 ms at half level.
      const gap = left.subarray(toneStart + 20 * 160, toneStart + 21 * 160);
      expect(rms(gap)).toBeGreaterThan(1500);
      expect(result.stats).toMatchObject({ caller: { lost: 1, concealedSamples: 160 } });
      expect((result.stats.legs as any).caller.dropped).toMatchObject({ 'bad-opus': 1, 'bad-telephone-event': 1 });
      await api('DELETE', '/v1/calls/c-loss');
    } finally {
      a.close();
    }
  });
});
