/**
 * Received and dropped datagrams of one leg, or of a whole media server. What JavaScript sees is
 * counted here; what a transport handles without JavaScript (the native set's recorded datagrams
 * and its relays' failures) is read from it when the counts are asked for (addSource), and kept
 * when its socket closes.
 */
import type { NativeSocketCounts } from './udp-transport.ts';

/** Counts shared by the media server (all legs) and each leg. */
export class PacketCounters {
  #received = 0;
  readonly #dropped: Record<string, number> = {};
  /** Counts kept by transports (the native set's recorded datagrams and relay failures), added when read. */
  readonly #sources = new Set<() => NativeSocketCounts>();
  /** The last counts of sources removed (their sockets closed). */
  readonly #removed = { recorded: 0, relayFailed: 0 };

  /** Datagrams received: counted here, plus those the transports recorded without calling JavaScript. */
  get received(): number {
    let n = this.#received + this.#removed.recorded;
    for (const source of this.#sources) n += source().recorded;
    return n;
  }

  /** Dropped datagrams (and failed relays) by reason. */
  get dropped(): Record<string, number> {
    let relayFailed = this.#removed.relayFailed;
    for (const source of this.#sources) relayFailed += source().relayFailed;
    const out = { ...this.#dropped };
    if (relayFailed > 0) out['relay-failed'] = (out['relay-failed'] ?? 0) + relayFailed;
    return out;
  }

  countReceived(): void {
    this.#received++;
  }

  drop(reason: string): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
  }

  /** Adds a transport's counts for one socket; the function returned folds their last values in and removes it. */
  addSource(source: () => NativeSocketCounts): () => void {
    this.#sources.add(source);
    return () => {
      if (!this.#sources.delete(source)) return;
      const last = source();
      this.#removed.recorded += last.recorded;
      this.#removed.relayFailed += last.relayFailed;
    };
  }

  snapshot(): { received: number; dropped: Record<string, number> } {
    return { received: this.received, dropped: this.dropped };
  }
}
