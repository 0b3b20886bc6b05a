/**
 * Hands out bound UDP sockets on ports from the media server's RTP range.
 *
 * Only even ports are used (RFC 3550 §11: RTP on an even port, RTCP on the next odd one, kept
 * free for when RTCP is handled). A port is free when binding it succeeds: another process (or a
 * second media server on the same machine with the same range) holding it just makes the pool
 * move on. The search starts after the last port handed out, so a port just released is not
 * reused at once (late packets of the old call would land in a new one).
 */
import { CapstanError } from '../../core/errors.ts';
import { DgramTransport } from './dgram-transport.ts';
import type { UdpSocket, UdpTransport } from './udp-transport.ts';

export interface PortRange {
  min: number;
  max: number;
}

export interface RtpPortPoolOptions {
  range: PortRange;
  /** Address to bind. Default '0.0.0.0'. */
  address?: string;
  /** Where sockets come from: the media server's native socket set or node:dgram. Default: node:dgram. */
  transport?: UdpTransport;
}

export class RtpPortPool {
  readonly range: PortRange;
  readonly address: string;
  readonly transport: UdpTransport;
  private readonly inUse = new Set<number>();
  private readonly firstEven: number;
  private readonly slots: number;
  private next = 0;

  constructor(options: RtpPortPoolOptions) {
    const { min, max } = options.range;
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new CapstanError('CAPSTAN_ERR_CONFIG_INVALID', `RTP port range ${min}-${max} is not valid`);
    }
    this.range = { min, max };
    this.address = options.address ?? '0.0.0.0';
    this.transport = options.transport ?? new DgramTransport();
    this.firstEven = min % 2 === 0 ? min : min + 1;
    this.slots = this.firstEven > max ? 0 : Math.floor((max - this.firstEven) / 2) + 1;
    if (this.slots === 0) throw new CapstanError('CAPSTAN_ERR_CONFIG_INVALID', `RTP port range ${min}-${max} has no even port`);
  }

  /** Even ports of the range not handed out by this pool (others may still hold some). */
  get available(): number {
    return this.slots - this.inUse.size;
  }

  /**
   * Binds a socket on the next free even port.
   * @throws CapstanError CAPSTAN_ERR_NO_RTP_PORT when every port of the range is taken.
   */
  async bind(): Promise<{ socket: UdpSocket; port: number }> {
    for (let tried = 0; tried < this.slots; tried++) {
      const port = this.firstEven + 2 * ((this.next + tried) % this.slots);
      if (this.inUse.has(port)) continue;
      const socket = await this.transport.bind(port, this.address);
      if (socket) {
        this.inUse.add(port);
        this.next = (this.next + tried + 1) % this.slots;
        return { socket, port };
      }
    }
    throw new CapstanError('CAPSTAN_ERR_NO_RTP_PORT', `no free RTP port in ${this.range.min}-${this.range.max}`, {
      details: { min: this.range.min, max: this.range.max, inUse: this.inUse.size },
    });
  }

  /** Gives a port back once its socket is closed. */
  release(port: number): void {
    this.inUse.delete(port);
  }
}
