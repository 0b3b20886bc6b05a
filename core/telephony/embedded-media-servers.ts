import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CapstanError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { MediaServerRegistry } from './media-server-registry.ts';

/** The CLI entry; children run `capstan media-server` exactly as a standalone one would. */
const CLI = fileURLToPath(new URL('../../bin/capstan.js', import.meta.url));

export interface EmbeddedMediaServersOptions {
  count: number;
  hostUrl: string;
  secret: string;
  location: string;
  /** e.g. 40000-40999, split evenly between the children. */
  rtpPorts: string;
  rtpAddress: string;
  /** How the children read and write RTP (`--udp`): auto, native or dgram. Default: the children's default (auto). */
  udp?: 'auto' | 'native' | 'dgram';
  dataDir: string;
  logLevel: string;
  /** Days before never-fetched files are removed (0: never). */
  retentionDays: number;
  /** Codec plugin modules every child loads (`--codec-module`). Default: none. */
  codecModules?: readonly string[];
  /** A child that dies is started again after this delay, ms (doubling up to 30 s). Default 1000. */
  restartDelayMs?: number;
}

interface Child {
  id: string;
  args: string[];
  process: ChildProcess | null;
  restartDelay: number;
  restartTimer: NodeJS.Timeout | null;
}

/**
 * Media servers as child processes of the host, so one can die without taking the host down.
 * A child that exits is marked down at once and started again; `close()` stops them with SIGTERM
 * (they finalize their files) and waits.
 */
export class EmbeddedMediaServers {
  readonly #children: Child[] = [];
  readonly #options: EmbeddedMediaServersOptions;
  readonly #registry: MediaServerRegistry;
  readonly #logger: Logger;
  #closing = false;

  constructor(options: EmbeddedMediaServersOptions, registry: MediaServerRegistry, logger: Logger) {
    this.#options = options;
    this.#registry = registry;
    this.#logger = logger;
    const [first, last] = options.rtpPorts.split('-').map(Number) as [number, number];
    const per = Math.floor((last - first + 1) / Math.max(1, options.count));
    for (let i = 0; i < options.count; i++) {
      const id = `ms-${i + 1}`;
      const lo = first + i * per;
      this.#children.push({
        id,
        args: [
          'media-server',
          '--host', options.hostUrl,
          '--location', options.location,
          '--id', id,
          '--rtp-ports', `${lo}-${lo + per - 1}`,
          '--rtp-address', options.rtpAddress,
          '--port', '0',
          // Children are local: their control API listens on loopback only.
          '--address', '127.0.0.1',
          '--data', join(options.dataDir, 'media-servers', id),
          '--log-level', options.logLevel,
          '--exit-with-parent',
          '--retention-days', String(options.retentionDays),
          ...(options.codecModules ?? []).flatMap((m) => ['--codec-module', m]),
          ...(options.udp !== undefined ? ['--udp', options.udp] : []),
        ],
        process: null,
        restartDelay: options.restartDelayMs ?? 1000,
        restartTimer: null,
      });
    }
  }

  get ids(): string[] {
    return this.#children.map((c) => c.id);
  }

  /** The pid of a running child (tests kill it to simulate a crash). */
  pidOf(id: string): number | null {
    return this.#children.find((c) => c.id === id)?.process?.pid ?? null;
  }

  /** Starts every child and waits until each has registered. */
  async start(): Promise<void> {
    await Promise.all(this.#children.map((c) => this.#spawn(c)));
  }

  #spawn(child: Child): Promise<void> {
    return new Promise((resolve, reject) => {
      const proc = spawn(process.execPath, ['--no-node-snapshot', CLI, ...child.args], {
        env: { ...process.env, CAPSTAN_SECRET: this.#options.secret },
        // stdin stays an open pipe: its end tells the child that the host is gone (--exit-with-parent).
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      child.process = proc;
      let ready = false;
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        if (ready) return;
        try {
          const msg = JSON.parse(line) as { ready?: boolean };
          if (msg.ready) {
            ready = true;
            child.restartDelay = this.#options.restartDelayMs ?? 1000;
            this.#logger.info({ mediaServer: child.id, pid: proc.pid }, 'embedded media server started');
            resolve();
          }
        } catch {
          // not the ready line
        }
      });
      proc.on('exit', (code, signal) => {
        child.process = null;
        this.#registry.markDown(child.id, `process exited (${signal ?? code})`, this.#closing);
        if (!ready) reject(new CapstanError('CAPSTAN_ERR_CHILD_PROCESS', `Media server ${child.id} exited before it was ready (${signal ?? code})`));
        if (this.#closing) return;
        this.#logger.error({ mediaServer: child.id, code, signal }, 'embedded media server died; restarting');
        child.restartTimer = setTimeout(() => {
          child.restartTimer = null;
          if (!this.#closing) this.#spawn(child).catch((e: unknown) => this.#logger.error({ err: e, mediaServer: child.id }, 'restart failed'));
        }, child.restartDelay);
        child.restartDelay = Math.min(child.restartDelay * 2, 30_000);
      });
    });
  }

  /** Stops every child (SIGTERM, SIGKILL after `graceMs`). Idempotent. */
  async close(graceMs = 10_000): Promise<void> {
    this.#closing = true;
    await Promise.all(
      this.#children.map(async (child) => {
        if (child.restartTimer) clearTimeout(child.restartTimer);
        const proc = child.process;
        if (!proc || proc.exitCode !== null) return;
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
