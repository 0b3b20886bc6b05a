/**
 * Group durability for a folder of recordings: every recording in progress asks, once a second,
 * for what it wrote to be made durable; instead of one fdatasync per file — each a journal
 * commit, hundreds a second on a busy media server, run by kernel threads on the same core —
 * the requests that arrive while no sync runs share one syncfs(2) of the folder's filesystem
 * (media/native/fs_sync.c). A request resolves only after a syncfs that started after it was
 * made, so "durable when sync() resolves" means what fdatasync meant.
 *
 * Where the addon is missing (a failed build, not Linux) `open` answers undefined and the files
 * fall back to their own fdatasync. docs/recording-durability.md says why and what it costs.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface NativeFsAddon {
  syncfs(fd: number): Promise<void>;
}

/** Set to any value to rule the addon out (tests, or a filesystem where syncfs is unwelcome). */
export const NATIVE_FS_DISABLED_ENV = 'CAPSTAN_NATIVE_FS_DISABLED';

const ADDON_PATH = fileURLToPath(new URL('../native/build/Release/capstan_fs.node', import.meta.url));

function loadAddon(): NativeFsAddon | undefined {
  if (process.env[NATIVE_FS_DISABLED_ENV]) return undefined;
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as NativeFsAddon;
    return typeof addon.syncfs === 'function' ? addon : undefined;
  } catch {
    return undefined;
  }
}

interface Round {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function round(): Round {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class FilesystemSync {
  readonly #addon: NativeFsAddon;
  #dir: FileHandle | undefined;
  /** Requests made since the running syncfs started: they wait for the next one. */
  #next: Round | undefined;
  /** The round whose syncfs runs now. */
  #running: Round | undefined;
  /** syncfs calls made, and requests they answered (for tests and the benchmark). */
  readonly stats = { syncs: 0, requests: 0 };

  private constructor(addon: NativeFsAddon, dir: FileHandle) {
    this.#addon = addon;
    this.#dir = dir;
  }

  /** Group sync for the filesystem holding `dir`, or undefined when this platform cannot (callers fdatasync). */
  static async open(dir: string): Promise<FilesystemSync | undefined> {
    const addon = loadAddon();
    if (!addon) return undefined;
    return new FilesystemSync(addon, await open(dir, 'r'));
  }

  /** Resolves once everything written before this call is durable; rejects with the syncfs error. */
  sync(): Promise<void> {
    if (!this.#dir) return Promise.reject(Object.assign(new Error('the recordings folder is closed'), { code: 'EBADF' }));
    this.stats.requests++;
    this.#next ??= round();
    const { promise } = this.#next;
    if (!this.#running) this.#start();
    return promise;
  }

  /** Closes the folder once the syncs asked for are done. Idempotent. */
  async close(): Promise<void> {
    // Each finished round starts the next one, if any was asked for: wait until none runs.
    while (this.#running) await this.#running.promise.catch(() => {});
    const dir = this.#dir;
    this.#dir = undefined;
    await dir?.close();
  }

  #start(): void {
    const current = this.#next!;
    this.#next = undefined;
    this.#running = current;
    this.stats.syncs++;
    this.#addon.syncfs(this.#dir!.fd).then(
      () => this.#finish(current, undefined),
      (error: unknown) => this.#finish(current, error),
    );
  }

  #finish(current: Round, error: unknown): void {
    this.#running = undefined;
    if (error === undefined) current.resolve();
    else current.reject(error);
    if (this.#next) this.#start();
  }
}
