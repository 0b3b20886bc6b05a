import { loadConfig } from '../config/load-config.ts';
import type { ConfigInput } from '../config/schema.ts';
import { Host } from '../host.ts';
import { intFlag, parseFlags } from './parse-args.ts';

export const START_USAGE = `capstan start [--config FILE] [--port N] [--data DIR] [--handlers DIR] [--media-servers N] [--log-level LEVEL]

Runs the host: Telephony Services, the Recorder, the HTTP API (port 8080) and, by default, two media
servers as child processes. Data (SQLite, recordings, outbox) goes under --data (default var/).`;

export const startFlags = {
  config: { type: 'string' },
  port: { type: 'string' },
  data: { type: 'string' },
  handlers: { type: 'string' },
  'media-servers': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/** Turns start's flags into config overrides (validated by the schema with the file's values). */
export function startOverrides(command: string, values: Record<string, string | boolean | undefined>): ConfigInput {
  const o: ConfigInput = {};
  const port = intFlag(command, 'port', values.port as string | undefined, 0, 65535);
  if (port !== undefined) o.http = { port };
  if (values.data !== undefined) o.dataDir = values.data as string;
  if (values.handlers !== undefined) o.handlersDir = values.handlers as string;
  const ms = intFlag(command, 'media-servers', values['media-servers'] as string | undefined, 0, 16);
  if (ms !== undefined) o.mediaServers = { embedded: ms };
  if (values['log-level'] !== undefined) o.logLevel = values['log-level'] as ConfigInput['logLevel'];
  return o;
}

/** Starts a host and resolves once it is listening, with a function that waits for a signal to stop it. */
export async function startHostFromFlags(command: string, args: string[], extraFlags: Record<string, { type: 'string' | 'boolean' }> = {}) {
  const { values } = parseFlags(command, args, { ...startFlags, ...extraFlags }) as { values: Record<string, string | boolean | undefined> };
  const { config, source } = await loadConfig({ file: values.config as string | undefined, overrides: startOverrides(command, values) });
  const host = await Host.start(config);
  return { host, source, values };
}

export function printBanner(host: Host, source: string | null): void {
  const url = host.url;
  const lines = [
    '',
    `Capstan is running${source ? ` (config: ${source})` : ' (default configuration)'}`,
    `  API and health   ${url}/api/v1/health`,
    `  Web console      ${url}/console`,
    `  API docs         ${url}/docs`,
    `  Metrics          ${url}/metrics`,
    `  Recordings       ${url}/api/v1/recordings   (files under ${host.config.dataDir}/store)`,
    `  Media servers    ${host.registry.list().map((s) => `${s.id} (${s.location})`).join(', ') || 'none yet'}`,
    `  Mail             ${host.services.get('mail').mode === 'smtp' ? 'SMTP' : `outbox ${host.config.mail.outboxDir ?? `${host.config.dataDir}/outbox`}`}`,
    '',
    `Place a call:  npx capstan call --host ${url}`,
    'Stop:          Ctrl-C',
    '',
  ];
  process.stderr.write(lines.join('\n'));
}

/** Resolves when SIGINT or SIGTERM arrives, after the host has shut down cleanly. */
export function stopOnSignal(host: Host): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      host.logger.info({ signal }, 'signal received');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // A second signal while shutting down forces the exit.
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      void host.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export async function startCommand(args: string[]): Promise<number> {
  const { host, source } = await startHostFromFlags('start', args);
  printBanner(host, source);
  await stopOnSignal(host);
  return 0;
}
