/**
 * Opus over SIP: a caller whose SDP prefers Opus (RFC 7587, opus/48000/2) and a callee that takes
 * it, both plain UDP phones written here, around the B2BUA. The media server relays the Opus RTP
 * unchanged and records it; ffmpeg decodes the recording.
 */
import discordOpus from '@discordjs/opus';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { RtpPacket } from '../../media/rtp/rtp-packet.ts';
import { alignedCorrelation } from '../helpers/audio-quality.ts';
import { ffmpegDecode } from '../helpers/ffmpeg-audio.ts';
import { startTestHost } from '../helpers/host.ts';
import { until } from '../helpers/until.ts';

const { OpusEncoder } = discordOpus;
const speech = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!.subarray(0, 16000);

/** A UDP socket that keeps what it receives. */
async function udp(): Promise<{ socket: Socket; port: number; inbox: Buffer[] }> {
  const socket = createSocket('udp4');
  const inbox: Buffer[] = [];
  socket.on('message', (m) => inbox.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { socket, port: socket.address().port, inbox };
}

const sdp = (port: number) =>
  ['v=0', 'o=phone 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 111 0 101`, 'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 useinbandfec=1', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/48000', 'a=sendrecv', ''].join('\r\n');

function message(start: string, headers: string[], body = ''): Buffer {
  return Buffer.from([start, ...headers, ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'));
}

const headerOf = (text: string, name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'im').exec(text)?.[1]?.trim();

describe('Opus in SDP', () => {
  let host: Host;
  let callee: Awaited<ReturnType<typeof udp>>;
  let calleeRtp: Awaited<ReturnType<typeof udp>>;
  let invitedWith = '';
  beforeAll(async () => {
    callee = await udp();
    calleeRtp = await udp();
    // The callee phone: answers any INVITE with Opus, and any BYE with 200.
    callee.socket.on('message', (m) => {
      const text = m.toString();
      const start = text.split('\r\n', 1)[0]!;
      const echo = ['Via', 'From', 'To', 'Call-ID', 'CSeq'].map((h) => `${h}: ${headerOf(text, h)}${h === 'To' && start.startsWith('INVITE') && !/tag=/.test(headerOf(text, 'To')!) ? ';tag=callee' : ''}`);
      const via = /SIP\/2\.0\/UDP ([^;:]+):(\d+)/.exec(headerOf(text, 'Via')!)!;
      const to = { address: via[1]!, port: Number(via[2]) };
      if (start.startsWith('INVITE')) {
        invitedWith = text;
        callee.socket.send(message('SIP/2.0 200 OK', [...echo, `Contact: <sip:callee@127.0.0.1:${callee.port}>`], sdp(calleeRtp.port)), to.port, to.address);
      } else if (start.startsWith('BYE')) callee.socket.send(message('SIP/2.0 200 OK', echo), to.port, to.address);
    });
    host = await startTestHost({ sip: { port: 0, address: '127.0.0.1', routes: [{ match: '^300', to: `sip:callee@127.0.0.1:${callee.port}` }] } });
  });
  afterAll(async () => {
    callee?.socket.close();
    calleeRtp?.socket.close();
    await host?.close();
  });

  it('negotiates Opus end to end when the caller prefers it, relays it unchanged, and records what the caller said', async () => {
    const { port: sipPort } = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number };
    const caller = await udp();
    const callerRtp = await udp();
    try {
      const callId = `opus-${Date.now()}@phone`;
      const common = [`From: <sip:5550100@127.0.0.1>;tag=caller`, `Call-ID: ${callId}`, `Contact: <sip:caller@127.0.0.1:${caller.port}>`, 'Max-Forwards: 70'];
      caller.socket.send(message('INVITE sip:300100@127.0.0.1 SIP/2.0', [`Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bKinv1`, 'To: <sip:300100@127.0.0.1>', 'CSeq: 1 INVITE', ...common], sdp(callerRtp.port)), sipPort, '127.0.0.1');
      const ok = await until(async () => caller.inbox.map((b) => b.toString()).find((t) => t.startsWith('SIP/2.0 200')), (t) => t !== undefined, 10_000);
      // The callee was offered Opus alone (with telephone-event on Opus's clock), and so was the caller answered.
      expect(invitedWith).toMatch(/^m=audio \d+ RTP\/AVP 111 101\r?$/m);
      expect(invitedWith).toMatch(/^a=rtpmap:111 opus\/48000\/2\r?$/m);
      expect(invitedWith).toMatch(/^a=rtpmap:101 telephone-event\/48000\r?$/m);
      expect(ok).toMatch(/^a=rtpmap:111 opus\/48000\/2\r?$/m);
      const to = headerOf(ok!, 'To')!;
      const target = {
        address: /^c=IN IP4 (\S+)/m.exec(ok!)![1]!,
        port: Number(/^m=audio (\d+)/m.exec(ok!)![1]),
      };
      caller.socket.send(message('ACK sip:300100@127.0.0.1 SIP/2.0', [`Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bKack1`, `To: ${to}`, 'CSeq: 1 ACK', ...common]), sipPort, '127.0.0.1');

      // Two seconds of speech in Opus: 20 ms frames, the 48 kHz RTP clock.
      const enc = new OpusEncoder(8000, 1);
      const t0 = performance.now();
      for (let i = 0; i < speech.length / 160; i++) {
        const frame = Buffer.from(speech.buffer, speech.byteOffset + i * 320, 320);
        const payload = enc.encode(frame);
        const packet = new RtpPacket({ marker: i === 0, payloadType: 111, sequenceNumber: 1000 + i, timestamp: 5000 + i * 960, ssrc: 0x1234, payload }).serialize();
        callerRtp.socket.send(packet, target.port, target.address);
        const wait = t0 + (i + 1) * 20 - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      await new Promise((r) => setTimeout(r, 200));
      caller.socket.send(message('BYE sip:300100@127.0.0.1 SIP/2.0', [`Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bKbye1`, `To: ${to}`, 'CSeq: 2 BYE', ...common]), sipPort, '127.0.0.1');

      // The callee's phone got the caller's packets through the media server, still Opus.
      const relayed = calleeRtp.inbox.map((b) => RtpPacket.parse(b));
      expect(relayed.length).toBeGreaterThanOrEqual(95);
      expect(new Set(relayed.map((p) => p.payloadType))).toEqual(new Set([111]));

      const { items } = await until(
        async () => (await (await fetch(`${host.url}/api/v1/recordings?dnis=300100`)).json()) as { items: { id: string; status: string }[] },
        (r) => r.items.length === 1 && r.items[0]!.status === 'stored',
        20_000,
      );
      const file = join(mkdtempSync(join(tmpdir(), 'capstan-sip-opus-')), 'opus-call.wav');
      writeFileSync(file, Buffer.from(await (await fetch(`${host.url}/api/v1/recordings/${items[0]!.id}/audio`)).arrayBuffer()));
      const [left] = ffmpegDecode(file, 2);
      const { correlation } = alignedCorrelation(speech, left!, 16000);
      console.log(`SIP Opus: caller's speech vs recording, correlation ${correlation.toFixed(4)}`);
      expect(correlation).toBeGreaterThan(0.9);
    } finally {
      caller.socket.close();
      callerRtp.socket.close();
    }
  }, 60_000);
});
