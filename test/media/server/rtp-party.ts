/**
 * A call party for tests: a real UDP socket that sends µ-law RTP at a real-time pace and keeps
 * what it receives.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { RtpPacket } from '../../../media/rtp/rtp-packet.ts';
import { seededRandom } from '../../helpers/seeded-random.ts';

export interface Received {
  packet: RtpPacket;
  raw: Buffer;
  from: RemoteInfo;
}

export class RtpParty {
  readonly received: Received[] = [];
  private constructor(
    readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (raw, from) => {
      try {
        this.received.push({ packet: RtpPacket.parse(raw), raw, from });
      } catch {
        // not RTP: ignored
      }
    });
  }

  static async open(): Promise<RtpParty> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RtpParty(socket, socket.address().port);
  }

  get endpoint(): { address: string; port: number } {
    return { address: '127.0.0.1', port: this.port };
  }

  sendRaw(datagram: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(datagram, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }

  /** Sends `payloads` as consecutive 20 ms packets to `port`, paced on absolute times. */
  async play(payloads: Uint8Array[], port: number, options: { ssrc: number; payloadType?: number; seq0?: number; ts0?: number }): Promise<Buffer[]> {
    const sent: Buffer[] = [];
    const start = performance.now();
    for (let i = 0; i < payloads.length; i++) {
      const wait = start + 20 * i - performance.now();
      if (wait > 0) await sleep(wait);
      const datagram = new RtpPacket({
        payloadType: options.payloadType ?? 0,
        sequenceNumber: (options.seq0 ?? 1000) + i,
        timestamp: (options.ts0 ?? 50_000) + 160 * i,
        ssrc: options.ssrc,
        marker: i === 0,
        payload: payloads[i]!,
      }).serialize();
      sent.push(datagram);
      await this.sendRaw(datagram, port);
    }
    return sent;
  }

  close(): void {
    this.socket.close();
  }
}

/** Deterministic µ-law "audio": every packet distinct, so any misplacement shows. */
export function randomPayloads(count: number, seed: number): Uint8Array[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => Uint8Array.from({ length: 160 }, () => (random() * 2 ** 32) & 0xff));
}
