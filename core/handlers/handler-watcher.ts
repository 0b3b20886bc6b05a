import { basename } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

/** Longer than chokidar's 50 ms `change` throttle. */
const RECHECK_AFTER_MS = 80;

/** A handler file: `name.ts` directly in the folder, not a declaration file and not a test. */
export function handlerNameOf(path: string): string | null {
  const file = basename(path);
  if (!file.endsWith('.ts') || file.endsWith('.d.ts') || file.endsWith('.test.ts') || file.startsWith('.')) return null;
  const name = file.slice(0, -3);
  return name.length > 0 ? name : null;
}

/**
 * Watches the handlers folder and reports which handler changed, once per burst of file events.
 *
 * It reports names, not what happened: editors save by writing, by writing a temp file and
 * renaming it over the old one, or by deleting and re-creating, so the runtime looks at the file
 * itself when the burst is over (exists → load it, gone → remove it). chokidar's `atomic` option
 * (on by default) already folds a delete followed by a re-create into one change.
 */
export class HandlerWatcher {
  readonly #dir: string;
  readonly #debounceMs: number;
  readonly #onChange: (name: string) => void;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #watcher: FSWatcher | null = null;
  #closed = false;

  constructor(dir: string, debounceMs: number, onChange: (name: string) => void) {
    this.#dir = dir;
    this.#debounceMs = debounceMs;
    this.#onChange = onChange;
  }

  /** Resolves once chokidar has scanned the folder (changes after that are reported). */
  start(): Promise<void> {
    const watcher = watch(this.#dir, { ignoreInitial: true, depth: 0, persistent: true });
    this.#watcher = watcher;
    const changed = (path: string): void => {
      const name = handlerNameOf(path);
      if (name !== null) this.#schedule(name);
    };
    watcher.on('add', changed).on('change', changed).on('unlink', changed);
    return new Promise((resolve, reject) => {
      watcher.once('ready', () => resolve());
      watcher.once('error', (e) => reject(e instanceof Error ? e : new Error(String(e))));
    });
  }

  #schedule(name: string): void {
    if (this.#closed) return;
    const pending = this.#timers.get(name);
    if (pending) clearTimeout(pending);
    this.#timers.set(
      name,
      setTimeout(() => {
        if (this.#closed) return;
        this.#onChange(name);
        // chokidar throttles `change` per file (50 ms) without a trailing event: a second save
        // inside that window is never reported. Look once more after the window; reloading
        // unchanged content is a no-op (the runtime compares hashes).
        this.#timers.set(
          name,
          setTimeout(() => {
            this.#timers.delete(name);
            if (!this.#closed) this.#onChange(name);
          }, RECHECK_AFTER_MS),
        );
      }, this.#debounceMs),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await this.#watcher?.close();
  }
}
