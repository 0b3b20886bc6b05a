/**
 * UDP over node:dgram: one socket per leg, one 'message' event per datagram, one `send` with its
 * callback per datagram. The fallback when the native socket set cannot be loaded, and the
 * reference it is tested against.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Endpoint } from '../control-api.ts';
import type { UdpSocket, UdpSocketHandlers, UdpSource, UdpTransport } from './udp-transport.ts';

class DgramUdpSocket implements UdpSocket {
  readonly port: number;
  private readonly socket: Socket;
  private handlers: UdpSocketHandlers | undefined;
  private source: RemoteInfo | undefined;
  private closing: Promise<void> | undefined;
  private readonly onClosed: (socket: DgramUdpSocket) => void;
  // One callback for every send: no closure per datagram.
  private readonly afterSend = (err: Error | null): void => this.handlers?.onSent(!err);

  constructor(socket: Socket, port: number, onClosed: (socket: DgramUdpSocket) => void) {
    this.socket = socket;
    this.port = port;
    this.onClosed = onClosed;
    socket.on('message', (msg, rinfo) => {
      if (!this.handlers) return;
      this.source = rinfo;
      try {
        this.handlers.onDatagram(msg, performance.now());
      } finally {
        this.source = undefined;
      }
    });
    // An unhandled 'error' event would crash the process; ICMP unreachable and the like are reported.
    socket.on('error', (e) => this.handlers?.onError(e));
  }

  listen(handlers: UdpSocketHandlers): void {
    this.handlers = handlers;
  }

  send(datagram: Uint8Array, to: Endpoint): void {
    if (this.closing) return;
    this.socket.send(datagram, to.port, to.address, this.afterSend);
  }

  currentSource(): UdpSource | undefined {
    const r = this.source;
    return r ? { address: r.address, family: r.family === 'IPv6' ? 'IPv6' : 'IPv4', port: r.port } : undefined;
  }

  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      this.onClosed(this);
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
    return this.closing;
  }
}

export class DgramTransport implements UdpTransport {
  readonly kind = 'dgram' as const;
  private readonly sockets = new Set<DgramUdpSocket>();

  bind(port: number, address: string): Promise<UdpSocket | undefined> {
    return new Promise((resolve) => {
      const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4' });
      const onError = (): void => {
        socket.close();
        resolve(undefined);
      };
      socket.once('error', onError);
      // exclusive: a port must not be shared with cluster workers or another process.
      socket.bind({ port, address, exclusive: true }, () => {
        socket.off('error', onError);
        const udp = new DgramUdpSocket(socket, socket.address().port, (s) => this.sockets.delete(s));
        this.sockets.add(udp);
        resolve(udp);
      });
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.sockets].map((s) => s.close()));
  }
}
