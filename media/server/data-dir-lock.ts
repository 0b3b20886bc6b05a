/**
 * One media server per data folder: at start a server repairs the `.part` files it finds, which
 * would corrupt the recordings of another live server using the same folder. The lock is a file
 * holding the owner's pid; a lock whose process is gone (a crash) is taken over.
 */
import { open, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CapstanError } from '../../core/errors.ts';

const LOCK_FILE = 'media-server.lock';

/**
 * Lock files this process holds. A lock file naming our own pid that is not in here is stale:
 * a previous incarnation with the same pid (containers often restart as pid 1).
 */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DataDirLock {
  private readonly path: string;
  private released = false;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Takes the lock of `dir`.
   * @throws CapstanError CAPSTAN_ERR_CONFIG_INVALID when a live process holds it.
   */
  static async acquire(dir: string): Promise<DataDirLock> {
    const path = join(dir, LOCK_FILE);
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      heldHere.add(path);
      return new DataDirLock(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    const live = owner === process.pid ? heldHere.has(path) : Number.isInteger(owner) && owner > 0 && alive(owner);
    if (live) {
      throw new CapstanError('CAPSTAN_ERR_CONFIG_INVALID', `data folder ${dir} is in use by media server process ${owner}`, { details: { dir, pid: owner } });
    }
    // Stale (its process died, e.g. killed): take it over.
    await writeFile(path, String(process.pid));
    heldHere.add(path);
    return new DataDirLock(path);
  }

  /** Removes the lock file. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.path);
    await unlink(this.path).catch(() => {});
  }
}
