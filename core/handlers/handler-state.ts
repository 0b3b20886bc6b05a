import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CapstanError } from '../errors.ts';
import type { Logger } from '../logger.ts';

const MAX_KEY_LENGTH = 200;

/**
 * One handler's small persistent key-value state (`capstan.state`). Values are kept as their JSON
 * text, so what a handler reads back is always a fresh copy and the size limit is exact. It is
 * shared by all versions of a handler (it survives reloads) and written to one JSON file per
 * handler, atomically (temp file + rename), coalescing the writes of one tick into one.
 */
export class HandlerStateStore {
  readonly #values = new Map<string, string>();
  readonly #file: string | null;
  readonly #maxBytes: number;
  readonly #logger: Logger | null;
  #bytes = 2; // "{}"
  #flushScheduled = false;

  /** `file` null keeps the state in memory only (handler tests). */
  constructor(file: string | null, maxBytes: number, logger: Logger | null = null) {
    this.#file = file;
    this.#maxBytes = maxBytes;
    this.#logger = logger;
    if (file !== null) this.#load(file);
  }

  #load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.#logger?.warn({ err: e, file }, 'handler state unreadable; starting empty');
      return;
    }
    try {
      const data = JSON.parse(text) as unknown;
      if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('not a JSON object');
      for (const [key, value] of Object.entries(data)) this.#put(key, JSON.stringify(value));
    } catch (e) {
      this.#logger?.warn({ err: e, file }, 'handler state file is not valid JSON; starting empty');
    }
  }

  static #entryBytes(key: string, json: string): number {
    // "key":value, — the cost of the entry in the persisted object.
    return Buffer.byteLength(JSON.stringify(key)) + 1 + Buffer.byteLength(json) + 1;
  }

  #put(key: string, json: string): void {
    const old = this.#values.get(key);
    if (old !== undefined) this.#bytes -= HandlerStateStore.#entryBytes(key, old);
    this.#values.set(key, json);
    this.#bytes += HandlerStateStore.#entryBytes(key, json);
  }

  get size(): number {
    return this.#bytes;
  }

  /** The value's JSON text, or undefined. */
  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  keys(): string[] {
    return [...this.#values.keys()];
  }

  /** Stores a value given as JSON text; refuses bad keys, non-JSON and writes over the size limit. */
  set(key: string, json: string): void {
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new CapstanError('CAPSTAN_ERR_HANDLER_STATE', `State keys are 1 to ${MAX_KEY_LENGTH} characters`, { details: { key: key.slice(0, 50) } });
    }
    try {
      JSON.parse(json);
    } catch {
      throw new CapstanError('CAPSTAN_ERR_HANDLER_STATE', `The value of state key "${key}" is not JSON`, { details: { key } });
    }
    const old = this.#values.get(key);
    const next = this.#bytes - (old === undefined ? 0 : HandlerStateStore.#entryBytes(key, old)) + HandlerStateStore.#entryBytes(key, json);
    if (next > this.#maxBytes) {
      throw new CapstanError('CAPSTAN_ERR_HANDLER_STATE', `State would grow to ${next} bytes, over the limit of ${this.#maxBytes}`, {
        details: { key, bytes: next, limit: this.#maxBytes },
      });
    }
    this.#put(key, json);
    this.#scheduleFlush();
  }

  delete(key: string): void {
    const old = this.#values.get(key);
    if (old === undefined) return;
    this.#bytes -= HandlerStateStore.#entryBytes(key, old);
    this.#values.delete(key);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#file === null || this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes the state now if it changed (the runtime calls it on close). */
  flush(): void {
    if (this.#file === null || !this.#flushScheduled) return;
    this.#flushScheduled = false;
    const body = `{${[...this.#values].map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
    try {
      mkdirSync(dirname(this.#file), { recursive: true });
      const tmp = `${this.#file}.${process.pid}.tmp`;
      writeFileSync(tmp, body);
      renameSync(tmp, this.#file);
    } catch (e) {
      this.#logger?.error({ err: e, file: this.#file }, 'writing handler state failed');
    }
  }
}
