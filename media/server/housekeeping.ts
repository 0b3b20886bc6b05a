/**
 * Housekeeping of a media server's recordings folder: a finished recording is fetched and then
 * deleted by its requester; one still there after `retentionSeconds` (its requester gone, its
 * delete lost, a recovered file nobody claimed) is removed, with a log line per file, so an
 * unattended media server's disk does not fill up with recordings nobody will fetch.
 *
 * What it removes: finished files (`.wav`, `.opus`, `.sasf`, and `.unrecoverable` leftovers)
 * whose last modification — the stop, for a finalized recording — is older than the retention.
 * What it never touches: `.part` files (recordings in progress, or waiting for repair at the next
 * start), anything that is not a regular file, and files `isBusy` names.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** Default retention of files never fetched: 7 days. */
export const DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600;

const REMOVABLE = /\.(wav|opus|sasf|unrecoverable)$/;

export interface HousekeepingOptions {
  recordingsDir: string;
  /** Age after which a file never fetched is removed. 0 keeps files forever. Default 7 days. */
  retentionSeconds?: number;
  /** Time between sweeps. Default: a tenth of the retention, between 1 s and 1 h. */
  intervalMs?: number;
  logger: Logger;
  /** Names of files that must stay whatever their age (being served, say). Default: none. */
  isBusy?: (fileName: string) => boolean;
  /** Told after a file was removed (the server forgets its recording result). */
  onRemoved?: (fileName: string) => void;
  /** Wall-clock milliseconds (file times are wall-clock). Default Date.now. */
  now?: () => number;
}

export interface SweepResult {
  removed: string[];
  kept: number;
}

export class Housekeeping {
  private readonly options: HousekeepingOptions;
  private readonly retentionMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;
  private stopped = false;

  constructor(options: HousekeepingOptions) {
    const retention = options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS;
    if (!(Number.isFinite(retention) && retention >= 0)) throw new RangeError(`retentionSeconds must be >= 0, got ${retention}`);
    this.options = options;
    this.retentionMs = retention * 1000;
  }

  get intervalMs(): number {
    return this.options.intervalMs ?? Math.min(3_600_000, Math.max(1000, this.retentionMs / 10));
  }

  /** Sweeps now and then every interval. Does nothing when the retention is 0. */
  start(): void {
    if (this.retentionMs === 0 || this.timer || this.stopped) return;
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    // Housekeeping alone must not keep the process alive.
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in progress. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** Removes the files older than the retention once. Never throws: failures are logged. */
  sweep(): Promise<SweepResult> {
    this.running ??= this.doSweep().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async doSweep(): Promise<SweepResult> {
    const { recordingsDir, logger } = this.options;
    const result: SweepResult = { removed: [], kept: 0 };
    if (this.retentionMs === 0) return result;
    let names: string[];
    try {
      names = await readdir(recordingsDir);
    } catch (err) {
      logger.warn({ err, recordingsDir }, 'housekeeping cannot list the recordings folder');
      return result;
    }
    const now = (this.options.now ?? Date.now)();
    for (const name of names) {
      if (!REMOVABLE.test(name) || this.options.isBusy?.(name)) {
        result.kept++;
        continue;
      }
      const path = join(recordingsDir, name);
      try {
        const info = await stat(path);
        const ageMs = now - info.mtimeMs;
        if (!info.isFile() || ageMs < this.retentionMs) {
          result.kept++;
          continue;
        }
        await unlink(path);
        result.removed.push(name);
        logger.info(
          { fileName: name, sizeBytes: info.size, ageSeconds: Math.round(ageMs / 1000), retentionSeconds: this.retentionMs / 1000 },
          'removed a recording never fetched within its retention',
        );
        try {
          this.options.onRemoved?.(name);
        } catch {
          // A listener's failure must not stop the sweep.
        }
      } catch (err) {
        // Deleted meanwhile by its requester (ENOENT), or not removable: the next sweep sees.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err, fileName: name }, 'housekeeping cannot remove a file');
      }
    }
    return result;
  }
}
