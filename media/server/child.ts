/**
 * A media server as a child process (the host starts two on its own machine so one can die
 * without taking the host).
 *
 * Run: `node --import tsx media/server/child.ts [OPTIONS_JSON]`
 *
 * Options: a JSON object of MediaServerOptions (without `logger`), taken from the first argument,
 * else from env CAPSTAN_MEDIA_SERVER_OPTIONS, else `{}`. The secret should come from env
 * CAPSTAN_SECRET (an argument is visible to every user in the process list).
 *
 * Protocol on stdout: exactly one JSON line, then nothing (logs go to stderr as pino JSON):
 *   {"ready":true,"id":"...","controlUrl":"http://...","pid":123}    when listening
 *   {"ready":false,"error":{"code":"CAPSTAN_ERR_...","message":"..."}} on a start failure (exit 1)
 * SIGTERM or SIGINT: closes cleanly (recordings finalized) and exits 0; a second signal while
 * closing exits 1 at once. If closing fails the exit code is 1.
 */
import { toCapstanError } from '../../core/errors.ts';
import { runMediaServer, type MediaServer, type MediaServerOptions } from './main.ts';

function readOptions(): MediaServerOptions {
  const text = process.argv[2] ?? process.env.CAPSTAN_MEDIA_SERVER_OPTIONS ?? '{}';
  const parsed: unknown = JSON.parse(text);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('media server options must be a JSON object');
  return parsed as MediaServerOptions;
}

function emit(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

let server: MediaServer | undefined;
let stopping = false;

async function shutdown(): Promise<void> {
  if (stopping) process.exit(1);
  stopping = true;
  try {
    await server?.close();
    process.exit(0);
  } catch (e) {
    process.stderr.write(`media server close failed: ${String(e)}\n`);
    process.exit(1);
  }
}

process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());

try {
  server = await runMediaServer(readOptions());
  emit({ ready: true, id: server.id, controlUrl: server.controlUrl, pid: process.pid });
  if (stopping) await server.close();
} catch (e) {
  const error = toCapstanError(e, 'CAPSTAN_ERR_CONFIG_INVALID');
  emit({ ready: false, error: { code: error.code, message: error.message } });
  process.exit(1);
}
