/**
 * `npm run bench -- relay-latency`: how long the media server holds a packet it relays — from a
 * party's datagram arriving on one leg to the same datagram leaving for the other party —
 * measured end to end between two real UDP sockets, with and without a media call (with a
 * recording running) in the path; the difference is what the relay adds. One packet in flight
 * at a time (ping-pong), so queueing never inflates the number. Once per UDP transport: node:dgram
 * (the relay in JavaScript) and the native socket set (the relay in C), when its addon loads.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { MediaCall } from '../media/call/media-call.ts';
import { Recording } from '../media/recording/recording.ts';
import { DgramTransport } from '../media/rtp/dgram-transport.ts';
import { PacketCounters } from '../media/rtp/packet-counters.ts';
import { NativeUdpTransport } from '../media/rtp/native-udp-transport.ts';
import type { UdpTransport } from '../media/rtp/udp-transport.ts';
import { RtpPacket } from '../media/rtp/rtp-packet.ts';
import { RtpPortPool } from '../media/rtp/rtp-port-pool.ts';

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/** Round-trip-free one-way times (µs) of `count` packets from `from` to `to` via `port`. */
async function oneWay(from: Socket, to: Socket, port: number, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const datagram = new RtpPacket({ payloadType: 0, sequenceNumber: i, timestamp: 160 * i, ssrc: 7, payload: new Uint8Array(160).fill(0xff) }).serialize();
    const arrived = once(to, 'message');
    const t = process.hrtime.bigint();
    from.send(datagram, port, '127.0.0.1');
    await arrived;
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return times.slice(200); // after warm-up
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function benchRelayLatency(count = 3000): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  let native: NativeUdpTransport | undefined;
  try {
    native = new NativeUdpTransport();
  } catch (e) {
    out['native socket set'] = `not measured: ${(e as Error).message}`;
  }
  for (const transport of [new DgramTransport(), ...(native ? [native] : [])]) {
    for (const [k, v] of Object.entries(await measure(transport, count))) out[`${transport.kind}: ${k}`] = v;
    await transport.close();
  }
  return out;
}

async function measure(transport: UdpTransport, count: number): Promise<Record<string, number>> {
  const [a, b] = await Promise.all([bound(), bound()]);
  const dir = await mkdtemp(join(tmpdir(), 'capstan-relay-'));
  const pool = new RtpPortPool({ range: { min: 46800, max: 46899 }, address: '127.0.0.1', transport });
  const call = await MediaCall.allocate(
    {
      callId: 'relay',
      legs: [
        { legId: 'caller', codec: { payloadType: 0, name: 'PCMU', clockRate: 8000 }, remote: { address: '127.0.0.1', port: a.address().port } },
        { legId: 'callee', codec: { payloadType: 0, name: 'PCMU', clockRate: 8000 }, remote: { address: '127.0.0.1', port: b.address().port } },
      ],
    },
    { pool, counters: new PacketCounters(), logger: pino({ level: 'silent' }) },
  );
  const recording = new Recording({ recordingId: 'relay', path: join(dir, 'relay.wav'), mime: 'audio/L16', channels: 2, legs: call.legRoles, signUri: (n) => n });
  await recording.open();
  call.addRecording(recording);
  try {
    const callerPort = call.endpoints('127.0.0.1').find((e) => e.legId === 'caller')!.rtp.port;
    const direct = (await oneWay(a, b, b.address().port, count)).sort((x, y) => x - y);
    const relayed = (await oneWay(a, b, callerPort, count)).sort((x, y) => x - y);
    const added = (p: number) => percentile(relayed, p) - percentile(direct, p);
    return {
      'direct one-way p50 (µs)': percentile(direct, 0.5),
      'relayed one-way p50 (µs)': percentile(relayed, 0.5),
      'relayed one-way p99 (µs)': percentile(relayed, 0.99),
      'added by the relay p50 (µs)': added(0.5),
      'relayed one-way max (µs)': relayed.at(-1)!,
      packets: relayed.length,
    };
  } finally {
    await recording.stop().catch(() => {});
    await call.close();
    a.close();
    b.close();
    await rm(dir, { recursive: true, force: true });
  }
}
