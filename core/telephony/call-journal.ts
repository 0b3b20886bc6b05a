/**
 * Calls in progress, written down as they change so a host that restarts (even after SIGKILL)
 * knows them again: their media server, where each party sends, their recordings and segments.
 * One small JSON file per call, replaced atomically (written beside, then renamed), removed at
 * hang-up. A process crash loses nothing written; a machine crash may lose the last change (no
 * fsync per change: calls change often, and the media servers keep recording regardless).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger.ts';

export class CallJournal<T extends { info: { callId: string } }> {
  readonly #dir: string;
  readonly #logger: Logger;

  constructor(dir: string, logger: Logger) {
    this.#dir = dir;
    this.#logger = logger;
    mkdirSync(dir, { recursive: true });
  }

  #path(callId: string): string {
    // Call ids are UUIDs made by the host; anything else never names a file.
    if (!/^[A-Za-z0-9-]{1,64}$/.test(callId)) throw new RangeError(`not a call id: ${callId}`);
    return join(this.#dir, `${callId}.json`);
  }

  save(snapshot: T): void {
    const path = this.#path(snapshot.info.callId);
    try {
      writeFileSync(`${path}.tmp`, JSON.stringify(snapshot));
      renameSync(`${path}.tmp`, path);
    } catch (e) {
      this.#logger.error({ err: e, callId: snapshot.info.callId }, 'could not write the call journal');
    }
  }

  remove(callId: string): void {
    rmSync(this.#path(callId), { force: true });
  }

  /** Every call written down and not removed; unreadable entries are logged and skipped. */
  loadAll(): T[] {
    const calls: T[] = [];
    for (const name of readdirSync(this.#dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        calls.push(JSON.parse(readFileSync(join(this.#dir, name), 'utf8')) as T);
      } catch (e) {
        this.#logger.error({ err: e, file: name }, 'a call journal entry cannot be read; skipped');
      }
    }
    return calls;
  }
}
