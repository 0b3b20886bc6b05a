import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './run-cli.ts';
import { until } from './until.ts';

export interface HostProcess {
  proc: ChildProcess;
  /** The working folder (its data under `var/`). */
  dir: string;
  url: string;
  exited: Promise<number | null>;
  /** The embedded media servers with their pids. */
  mediaServers: { id: string; pid: number }[];
}

export interface HostProcessOptions {
  /** Folder to run in (a restart passes the previous one). Default: a fresh temp folder. */
  dir?: string;
  /** Extra environment (e.g. CAPSTAN_FAULT_KILL_AT). */
  env?: NodeJS.ProcessEnv;
  /** Configuration merged over the defaults below (top-level keys replace). */
  config?: Record<string, unknown>;
}

/**
 * `capstan start` as a separate process, as a user runs it: a fresh folder with a config taking
 * the RTP ports from `rtpBase`, started and waited for until its banner names its URL.
 */
export async function startHostProcess(rtpBase: number, options: HostProcessOptions = {}): Promise<HostProcess> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'capstan-host-process-'));
  const config = { http: { port: 0 }, sip: { port: 0 }, logLevel: 'warn', mediaServers: { rtpPorts: `${rtpBase}-${rtpBase + 19}` }, ...options.config };
  writeFileSync(join(dir, 'capstan.config.json'), JSON.stringify(config));
  const proc = spawn(process.execPath, ['--no-node-snapshot', CLI, 'start'], { cwd: dir, env: { ...process.env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const url = await until(() => /API and health\s+(http:\/\/[^/\s]+)/.exec(stderr)?.[1] ?? null, (u) => u !== null, 30_000);
  const { items } = (await (await fetch(`${url}/api/v1/media-servers`)).json()) as { items: { id: string; pid: number }[] };
  return { proc, dir, url: url!, exited, mediaServers: items };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
