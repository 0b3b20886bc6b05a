/**
 * Picks a media server's UDP transport from its `udp` option: the native socket set when it
 * loads, node:dgram otherwise (docs/native-udp.md).
 */
import type { Logger } from 'pino';
import { DgramTransport } from './dgram-transport.ts';
import { NativeUdpTransport } from './native-udp-transport.ts';
import type { UdpTransport } from './udp-transport.ts';

/**
 * `auto`: the native socket set, or node:dgram with a warning when it cannot be loaded;
 * `native`: the native socket set or fail; `dgram`: node:dgram.
 */
export type UdpTransportChoice = 'auto' | 'native' | 'dgram';

export const UDP_TRANSPORT_CHOICES: readonly UdpTransportChoice[] = ['auto', 'native', 'dgram'];

/**
 * @throws CapstanError CAPSTAN_ERR_NATIVE_UDP with `native` when the addon cannot be loaded.
 */
export function openUdpTransport(choice: UdpTransportChoice, logger: Logger): UdpTransport {
  if (choice === 'dgram') return new DgramTransport();
  if (choice === 'native') return new NativeUdpTransport();
  try {
    return new NativeUdpTransport();
  } catch (err) {
    logger.warn({ err }, 'native UDP addon not available: RTP over node:dgram (docs/native-udp.md)');
    return new DgramTransport();
  }
}
