import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './run-cli.ts';
import { until } from './until.ts';

export interface RcsProcess {
  proc: ChildProcess;
  id: string;
  /** Its repository folder. */
  dir: string;
  url: string;
  exited: Promise<number | null>;
}

/** `capstan rcs` as its own process, registered with the host at `hostUrl` before this resolves. */
export async function startRcsProcess(options: { hostUrl: string; secret: string; id: string; locations: string[]; dir?: string }): Promise<RcsProcess> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `capstan-${options.id}-`));
  const proc = spawn(
    process.execPath,
    ['--no-node-snapshot', CLI, 'rcs', '--host', options.hostUrl, '--locations', options.locations.join(','), '--dir', dir, '--id', options.id, '--port', '0', '--address', '127.0.0.1', '--log-level', 'warn'],
    { env: { ...process.env, CAPSTAN_SECRET: options.secret }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const ready = await until(
    () => {
      const line = stdout.split('\n').find((l) => l.startsWith('{"ready"'));
      if (proc.exitCode !== null) throw new Error(`capstan rcs exited with ${proc.exitCode}: ${stderr}`);
      return line ? (JSON.parse(line) as { url: string }) : null;
    },
    (r) => r !== null,
    30_000,
  );
  await until(
    async () => ((await (await fetch(`${options.hostUrl}/api/v1/rcs-servers`)).json()) as { items: { id: string; state: string }[] }).items,
    (items) => items.some((s) => s.id === options.id && s.state === 'up'),
    10_000,
  );
  return { proc, id: options.id, dir, url: ready!.url, exited };
}
