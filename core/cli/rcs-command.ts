import { CapstanError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { RcsServer } from '../rcs/rcs-server.ts';
import { intFlag, parseFlags } from './parse-args.ts';
import { untilStopped } from './until-stopped.ts';

export const RCS_USAGE = `capstan rcs --host URL --locations A,B --dir DIR [--id ID] [--port N] [--address IP]
            [--advertise-address IP] [--log-level LEVEL]

Runs one Remote Content Service server: it keeps the recordings of the calls at the listed
locations (requester "recorder-rcs") in DIR, registering with the host at --host and sending a
heartbeat every second. The host picks, for each finished recording, the server that keeps its
call's location; that server fetches the file from the media server, checks its size and SHA-256,
and only then does the host record where it is and delete the media server's copy. Playback through
the host streams from here. Defaults: --port 9200; --address 0.0.0.0; --advertise-address (what
the host uses to reach it) the --address when that is not 0.0.0.0, else 127.0.0.1; --id rcs-<random>
(give a fixed one: the host records recordings by server id). The shared secret comes from the
CAPSTAN_SECRET environment variable (the host keeps it in <data>/secret). Prints
{"ready":true,"id":...,"url":...} on stdout once listening.`;

export async function rcsCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('rcs', args, {
    host: { type: 'string' },
    locations: { type: 'string' },
    dir: { type: 'string' },
    id: { type: 'string' },
    port: { type: 'string' },
    address: { type: 'string' },
    'advertise-address': { type: 'string' },
    'log-level': { type: 'string' },
  });
  const secret = process.env.CAPSTAN_SECRET;
  if (!secret) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan rcs: set CAPSTAN_SECRET to the host\'s shared secret (the host keeps it in <data>/secret)');
  if (values.host === undefined) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan rcs: --host URL is required');
  if (values.dir === undefined) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan rcs: --dir DIR is required');
  const locations = (values.locations ?? '').split(',').map((l) => l.trim()).filter((l) => l !== '');
  if (locations.length === 0) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan rcs: --locations A,B is required (the locations whose recordings this server keeps)');
  const address = values.address;
  const server = new RcsServer({
    hostUrl: values.host,
    secret,
    locations,
    dir: values.dir,
    id: values.id,
    port: values.port !== undefined ? intFlag('rcs', 'port', values.port, 0, 65535) : undefined,
    address,
    advertiseAddress: values['advertise-address'] ?? (address !== undefined && address !== '0.0.0.0' ? address : undefined),
    // Logs on stderr: stdout carries the ready line.
    logger: createLogger({ level: values['log-level'] ?? 'info', fd: 2 }),
  });
  await server.start();
  process.stdout.write(`${JSON.stringify({ ready: true, id: server.id, url: server.url })}\n`);
  await untilStopped(() => server.close());
  return 0;
}
