/**
 * The media-capacity benchmark's load generator, pinned to the other core: plays many legs' RTP
 * at real-time pace (one 20 ms packet per leg every 20 ms, legs' phases spread evenly over the
 * 20 ms as independent phones would be), or blasts datagrams as fast as it can (for the bare
 * socket reference). Commands and results over the IPC channel.
 *
 * It sends through the native socket set (sendmmsg, 64 datagrams a system call) when the addon
 * loads: sending 100 000 datagrams a second through node:dgram takes this whole core, and a
 * generator that falls behind makes the server's packets late — a limit of the generator, not
 * of the server. Without the addon it uses node:dgram and says so.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import discordOpus from '@discordjs/opus';
import { ulawEncode } from '../../media/codecs/g711.ts';
import { DgramTransport } from '../../media/rtp/dgram-transport.ts';
import { NativeUdpTransport } from '../../media/rtp/native-udp-transport.ts';
import type { UdpSocket, UdpTransport } from '../../media/rtp/udp-transport.ts';

interface PlayCommand {
  cmd: 'play';
  /** The media server's RTP address. */
  address: string;
  legs: { port: number; kind: 'pcmu' | 'opus' }[];
  seconds: number;
}
interface BlastCommand {
  cmd: 'blast';
  port: number;
  seconds: number;
}

let transport: UdpTransport;
try {
  transport = new NativeUdpTransport();
} catch (e) {
  process.stderr.write(`media-capacity load generator: ${(e as Error).message}; sending through node:dgram\n`);
  transport = new DgramTransport();
}
const socket: UdpSocket = (await transport.bind(0, '127.0.0.1'))!;
/** Datagrams the kernel refused (the server never saw them: a step with any is not the server's fault). */
let refused = 0;
socket.listen({
  onDatagram: () => {},
  onSent: (ok) => {
    if (!ok) refused++;
  },
  onError: () => {},
});
process.send!({ ready: true, udp: transport.kind });

/** 50 frames (1 s) of each codec's audio, encoded once: speech-like tones. */
const pcmuFrames = Array.from({ length: 50 }, (_, f) =>
  ulawEncode(Int16Array.from({ length: 160 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * (200 + 10 * f) * (f * 160 + i)) / 8000)))),
);
const opusFrames = (() => {
  const enc = new discordOpus.OpusEncoder(48000, 1);
  return Array.from({ length: 50 }, (_, f) => {
    const pcm = Buffer.alloc(1920);
    for (let i = 0; i < 960; i++) pcm.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * (200 + 10 * f) * (f * 960 + i)) / 48000)), 2 * i);
    return enc.encode(pcm);
  });
})();

/** Both transports copy what they are given: one buffer serves every packet. */
const scratch = Buffer.allocUnsafe(1500);

function packet(kind: 'pcmu' | 'opus', leg: number, n: number): Buffer {
  const payload = kind === 'pcmu' ? pcmuFrames[n % 50]! : opusFrames[n % 50]!;
  const buf = scratch.subarray(0, 12 + payload.length);
  buf[0] = 0x80;
  buf[1] = kind === 'pcmu' ? 0 : 111;
  buf.writeUInt16BE(n & 0xffff, 2);
  buf.writeUInt32BE(((kind === 'pcmu' ? 160 : 960) * n) >>> 0, 4);
  buf.writeUInt32BE(leg + 1, 8);
  buf.set(payload, 12);
  return buf;
}

async function play({ address, legs, seconds }: PlayCommand): Promise<{ sent: number[]; behindMaxMs: number; refused: number }> {
  refused = 0;
  const sent = new Array<number>(legs.length).fill(0);
  const packets = Math.round(seconds * 50);
  const spacing = 20 / legs.length;
  const start = performance.now() + 50;
  const to = legs.map((l) => ({ address, port: l.port }));
  let behindMaxMs = 0;
  // Slot s is packet floor(s / L) of leg s % L, due at start + s × spacing.
  let slot = 0;
  const slots = packets * legs.length;
  while (slot < slots) {
    const now = performance.now();
    while (slot < slots && start + slot * spacing <= now) {
      const leg = slot % legs.length;
      const n = Math.floor(slot / legs.length);
      socket.send(packet(legs[leg]!.kind, leg, n), to[leg]!);
      sent[leg]!++;
      behindMaxMs = Math.max(behindMaxMs, now - (start + slot * spacing));
      slot++;
    }
    await sleep(1);
  }
  await sleep(50);
  return { sent, behindMaxMs, refused };
}

async function blast({ port, seconds }: BlastCommand): Promise<{ sent: number }> {
  refused = 0;
  const buf = Buffer.alloc(172, 0x80);
  const to = { address: '127.0.0.1', port };
  let sent = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) socket.send(buf, to);
    sent += 256;
    await new Promise((r) => setImmediate(r));
  }
  await sleep(10);
  return { sent: sent - refused };
}

process.on('message', (m: PlayCommand | BlastCommand | { cmd: 'close' }) => {
  if (m.cmd === 'play') void play(m).then((r) => process.send!(r));
  if (m.cmd === 'blast') void blast(m).then((r) => process.send!(r));
  if (m.cmd === 'close') void transport.close().then(() => process.exit(0));
});
