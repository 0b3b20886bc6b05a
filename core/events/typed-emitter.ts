/**
 * A typed event emitter. Listeners that throw or reject never break the emitter's caller
 * (the media path, a request): the error goes to `onListenerError` instead.
 */
export type Listener<T> = (payload: T) => void | Promise<void>;

export class TypedEmitter<M extends object> {
  readonly #listeners = new Map<keyof M, Set<Listener<never>>>();
  readonly #onListenerError: (error: unknown, event: keyof M) => void;

  constructor(onListenerError: (error: unknown, event: keyof M) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  on<K extends keyof M>(event: K, listener: Listener<M[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  once<K extends keyof M>(event: K, listener: Listener<M[K]>): () => void {
    const off = this.on(event, (payload) => {
      off();
      return listener(payload);
    });
    return off;
  }

  off<K extends keyof M>(event: K, listener: Listener<M[K]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<never>);
  }

  listenerCount<K extends keyof M>(event: K): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /** Calls every listener; errors (sync or async) are reported, never thrown. */
  emit<K extends keyof M>(event: K, payload: M[K]): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        const result = (listener as Listener<M[K]>)(payload);
        if (result instanceof Promise) result.catch((e: unknown) => this.#onListenerError(e, event));
      } catch (e) {
        this.#onListenerError(e, event);
      }
    }
  }

  /** Like `emit`, then waits for every async listener to settle (errors still reported, not thrown). */
  async emitAndWait<K extends keyof M>(event: K, payload: M[K]): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        const result = (listener as Listener<M[K]>)(payload);
        if (result instanceof Promise) pending.push(result.catch((e: unknown) => this.#onListenerError(e, event)));
      } catch (e) {
        this.#onListenerError(e, event);
      }
    }
    await Promise.all(pending);
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }
}
