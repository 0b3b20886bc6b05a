import { intFlag, numberFlag, parseFlags } from './parse-args.ts';
import { CapstanError } from '../errors.ts';
import { runMediaServer } from '../../media/server/main.ts';
import { untilStopped } from './until-stopped.ts';
import { UDP_TRANSPORT_CHOICES, type UdpTransportChoice } from '../../media/rtp/open-udp-transport.ts';

export const MEDIA_SERVER_USAGE = `capstan media-server --host URL --location NAME [--id ID] [--rtp-ports A-B] [--rtp-address IP]
                     [--advertise-address IP] [--port N] [--address IP] [--data DIR] [--log-level LEVEL]
                     [--codec-module MODULE]... [--retention-days D] [--udp auto|native|dgram]
                     [--exit-with-parent]

Runs one media server that registers with the host at --host and reports its load every second.
Defaults: --rtp-ports 40000-40999; --port (control and file API) 9100; --address and
--rtp-address (where it listens) 0.0.0.0; --advertise-address (what it tells the host and the call
parties to use) the --rtp-address when that is not 0.0.0.0, else 127.0.0.1; --data var/media/<id>.
--codec-module (repeatable) imports a codec plugin module whose default export is a codec (or an
array of codecs) and adds it to the formats this server records (docs/formats.md).
--retention-days (default 7; 0: never) removes finished files nobody fetched after that long.
--udp (default auto) picks how RTP sockets are read and written: native (the native socket set,
recvmmsg/sendmmsg in batches; fails if the addon is not built), dgram (node:dgram), or auto
(native when the addon loads, else dgram with a warning). See docs/native-udp.md.
--exit-with-parent stops the server (recordings finalized) when its standard input closes: the host
passes it to its own children so they never outlive it.
The shared secret comes from the CAPSTAN_SECRET environment variable (the host keeps it in
<data>/secret). Prints {"ready":true,"controlUrl":...} on stdout once listening.`;

export async function mediaServerCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('media-server', args, {
    host: { type: 'string' },
    location: { type: 'string' },
    id: { type: 'string' },
    'rtp-ports': { type: 'string' },
    'rtp-address': { type: 'string' },
    'advertise-address': { type: 'string' },
    port: { type: 'string' },
    address: { type: 'string' },
    data: { type: 'string' },
    'log-level': { type: 'string' },
    'exit-with-parent': { type: 'boolean' },
    'retention-days': { type: 'string' },
    'codec-module': { type: 'string', multiple: true },
    udp: { type: 'string' },
  });
  const secret = process.env.CAPSTAN_SECRET;
  if (!secret) {
    throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan media-server: set CAPSTAN_SECRET to the host\'s shared secret (the host keeps it in <data>/secret)');
  }
  if (values.host === undefined) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan media-server: --host URL is required');
  if (values.location === undefined) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan media-server: --location NAME is required');
  const rtpPorts = values['rtp-ports'];
  if (rtpPorts !== undefined && !/^\d+-\d+$/.test(rtpPorts)) {
    throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan media-server: --rtp-ports must look like 40000-40999, got "${rtpPorts}"`);
  }
  const udp = values.udp;
  if (udp !== undefined && !(UDP_TRANSPORT_CHOICES as readonly string[]).includes(udp)) {
    throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan media-server: --udp must be ${UDP_TRANSPORT_CHOICES.join(', ')}, got "${udp}"`);
  }
  const rtpAddress = values['rtp-address'];
  const advertise = values['advertise-address'] ?? (rtpAddress !== undefined && rtpAddress !== '0.0.0.0' ? rtpAddress : undefined);
  const server = await runMediaServer({
    hostUrl: values.host,
    location: values.location,
    secret,
    ...(values.id !== undefined ? { id: values.id } : {}),
    ...(rtpPorts !== undefined ? { rtpPorts: rtpPorts.split('-').map(Number) as [number, number] } : {}),
    ...(rtpAddress !== undefined ? { rtpAddress } : {}),
    ...(advertise !== undefined ? { advertiseAddress: advertise } : {}),
    ...(values.port !== undefined ? { port: intFlag('media-server', 'port', values.port, 0, 65535)! } : {}),
    ...(values.address !== undefined ? { address: values.address } : {}),
    ...(values.data !== undefined ? { dataDir: values.data } : {}),
    ...(values['log-level'] !== undefined ? { logLevel: values['log-level'] } : {}),
    ...(values['retention-days'] !== undefined ? { retentionSeconds: numberFlag('media-server', 'retention-days', values['retention-days'], 0)! * 86_400 } : {}),
    ...(values['codec-module'] !== undefined ? { codecModules: values['codec-module'] } : {}),
    ...(udp !== undefined ? { udp: udp as UdpTransportChoice } : {}),
  });
  process.stdout.write(`${JSON.stringify({ ready: true, id: server.id, controlUrl: server.controlUrl })}\n`);
  // An embedded child holds the read end of a pipe from its host: when the host dies (even by
  // SIGKILL) the pipe ends, and the child finalizes its recordings and exits instead of lingering
  // with its ports and data-folder lock.
  await untilStopped(() => server.close(), values['exit-with-parent'] === true);
  return 0;
}
