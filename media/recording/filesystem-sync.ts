/**
 * Group jobs for a folder of recordings. Every recording in progress writes four times a second
 * and, once a second, rewrites its header and needs everything durable. One by one that is five
 * thread-pool jobs a second per recording and an fdatasync (a journal commit) each — thousands a
 * second on a busy media server, their threads and the kernel's journal threads all on the media
 * server's core. Here the writes asked for in one turn of the event loop, or while a write job
 * runs, share the next write job (media/native/fs_sync.c: all their pwrites), and the syncs
 * whose writes are done share one syncfs(2) of the folder's filesystem, run beside the writes:
 * a syncfs waits for the disk (hundreds of milliseconds at a thousand recordings), and writes
 * that queued behind it piled up in memory, in new buffers, until V8's collections stalled the
 * media server (docs/benchmarks.md). A sync resolves only after a syncfs that started after it
 * was asked for and after its writes were made, so "durable when it resolves" means what
 * fdatasync meant; a write resolves once its bytes are with the operating system, as a pwrite.
 *
 * Where the addon is missing (a failed build, not Linux) `open` answers undefined and files write
 * and fdatasync on their own. docs/recording-durability.md says why and what it costs.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { errnoError } from '../errno-error.ts';

interface NativeFsAddon {
  writeAndSync(dirFd: number, table: Float64Array, data: Uint8Array, count: number): Promise<Int32Array>;
}

/** Set to any value to rule the addon out (tests, or a filesystem where syncfs is unwelcome). */
export const NATIVE_FS_DISABLED_ENV = 'CAPSTAN_NATIVE_FS_DISABLED';

const ADDON_PATH = fileURLToPath(new URL('../native/build/Release/capstan_fs.node', import.meta.url));

function loadAddon(): NativeFsAddon | undefined {
  if (process.env[NATIVE_FS_DISABLED_ENV]) return undefined;
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as NativeFsAddon;
    return typeof addon.writeAndSync === 'function' ? addon : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes to write at a position of a file. */
export interface PositionedWrite {
  position: number;
  bytes: Uint8Array;
}

interface Request {
  fd: number;
  writes: PositionedWrite[];
  sync: boolean;
  resolve(): void;
  reject(error: unknown): void;
}

export class FilesystemSync {
  readonly #addon: NativeFsAddon;
  #dir: FileHandle | undefined;
  /** Requests asked for since the running write job started: they go in the next one. */
  #next: Request[] = [];
  /** Settles when the running write job has answered its requests. */
  #writing: Promise<void> | undefined;
  /** Sync requests whose writes are made, waiting for a syncfs that starts after that. */
  #syncWaiting: Request[] = [];
  /** Settles when the running syncfs has answered its requests. */
  #syncing: Promise<void> | undefined;
  /** A write job is to start on the next turn of the loop (so a turn's requests share it). */
  #scheduled = false;
  /** Reused between write jobs (one runs at a time): the writes' bytes and their table. */
  #data = new Uint8Array(0);
  #table = new Float64Array(0);
  /** Write jobs made, the syncfs calls, and the requests they answered. */
  readonly stats = { jobs: 0, syncs: 0, requests: 0 };

  private constructor(addon: NativeFsAddon, dir: FileHandle) {
    this.#addon = addon;
    this.#dir = dir;
  }

  /** Group flushes for the filesystem holding `dir`, or undefined when this platform cannot (files sync themselves). */
  static async open(dir: string): Promise<FilesystemSync | undefined> {
    const addon = loadAddon();
    if (!addon) return undefined;
    return new FilesystemSync(addon, await open(dir, 'r'));
  }

  /**
   * Writes `writes` to the open file `fd` (in order, after every write asked for before) and,
   * with `sync`, then makes them and everything written to it before durable. Rejects with the
   * first failed write's error, or the syncfs's. The bytes are read when the write job starts:
   * the caller keeps them unchanged until this settles.
   */
  flush(fd: number, writes: PositionedWrite[] = [], sync = true): Promise<void> {
    if (!this.#dir) return Promise.reject(errnoError(9, 'flush')); // EBADF
    this.stats.requests++;
    return new Promise<void>((resolve, reject) => {
      this.#next.push({ fd, writes, sync, resolve, reject });
      if (!this.#writing && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          if (!this.#writing && this.#next.length > 0) this.#startWrites();
        });
      }
    });
  }

  /** Closes the folder once the flushes asked for are done. Idempotent. */
  async close(): Promise<void> {
    // Each finished job starts the next one, if any was asked for: wait until none runs or waits.
    while (this.#writing || this.#syncing || this.#next.length > 0 || this.#syncWaiting.length > 0) {
      await (this.#writing ?? this.#syncing ?? new Promise((r) => setImmediate(r)));
    }
    const dir = this.#dir;
    this.#dir = undefined;
    await dir?.close();
  }

  #startWrites(): void {
    const requests = this.#next;
    this.#next = [];
    let bytes = 0;
    let count = 0;
    for (const r of requests) {
      for (const w of r.writes) bytes += w.bytes.length;
      count += r.writes.length;
    }
    if (count === 0) {
      // Only syncs, whose files' earlier writes are all made: straight on to a syncfs.
      this.#written(requests, undefined);
      return;
    }
    this.stats.jobs++;
    if (this.#data.length < bytes) this.#data = new Uint8Array(Math.max(bytes, 2 * this.#data.length));
    if (this.#table.length < 4 * count) this.#table = new Float64Array(Math.max(4 * count, 2 * this.#table.length));
    const data = this.#data;
    const table = this.#table;
    let at = 0;
    let i = 0;
    for (const r of requests) {
      for (const w of r.writes) {
        data.set(w.bytes, at);
        table[4 * i] = r.fd;
        table[4 * i + 1] = at;
        table[4 * i + 2] = w.bytes.length;
        table[4 * i + 3] = w.position;
        at += w.bytes.length;
        i++;
      }
    }
    let job: Promise<Int32Array>;
    try {
      job = this.#addon.writeAndSync(-1, table, data, count);
    } catch (error) {
      job = Promise.reject(error);
    }
    this.#writing = job.then(
      (status) => this.#written(requests, status),
      (error: unknown) => this.#written(requests, undefined, error),
    );
  }

  /** A write job is done: answers its writes, hands its syncs to the sync lane, starts the next. */
  #written(requests: Request[], status: Int32Array | undefined, error?: unknown): void {
    let i = 0;
    for (const r of requests) {
      let failed: unknown = error;
      for (let k = 0; k < r.writes.length; k++, i++) if (failed === undefined && status && status[i] !== 0) failed = errnoError(status[i]!, 'pwrite');
      if (failed !== undefined) r.reject(failed);
      else if (r.sync) this.#syncWaiting.push(r);
      else r.resolve();
    }
    this.#writing = undefined;
    if (this.#next.length > 0) this.#startWrites();
    if (!this.#syncing && this.#syncWaiting.length > 0) this.#startSync();
  }

  #startSync(): void {
    const requests = this.#syncWaiting;
    this.#syncWaiting = [];
    this.stats.syncs++;
    let job: Promise<Int32Array>;
    try {
      job = this.#addon.writeAndSync(this.#dir!.fd, this.#table, this.#data, 0);
    } catch (error) {
      job = Promise.reject(error);
    }
    this.#syncing = job.then(
      (status) => this.#synced(requests, status[0] === 0 ? undefined : errnoError(status[0]!, 'syncfs')),
      (error: unknown) => this.#synced(requests, error),
    );
  }

  #synced(requests: Request[], error: unknown): void {
    for (const r of requests) {
      if (error === undefined) r.resolve();
      else r.reject(error);
    }
    this.#syncing = undefined;
    // Syncs that arrived while this one ran need a syncfs that starts after their writes: a new one.
    if (this.#syncWaiting.length > 0) this.#startSync();
  }
}
