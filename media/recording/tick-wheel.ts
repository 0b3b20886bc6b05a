/**
 * One timer for the write ticks of every recording with the same tick interval, each recording
 * in its own slot of the period, so the ticks stay spread evenly over it.
 *
 * Why not a setInterval per recording: Node re-arms every interval timer that fired in one timers
 * phase from the same loop time (`getLibuvNow()`, read once per loop iteration). After any stall
 * (a collection, a burst of packets) all recordings whose ticks were due fire together and stay
 * together from then on; over a few minutes a thousand recordings' ticks merged into a few
 * clumps of hundreds, each a block of tens of milliseconds in which no packet was read. Here a
 * recording's slot is fixed when it starts (the least busy one), a stall only delays slots, and
 * the slots missed are caught up one per turn of the event loop.
 */
import { performance } from 'node:perf_hooks';

/** Width of a slot: the wheel's timer fires this often while it has members. */
const SLOT_MS = 10;

export class TickWheel {
  private static readonly wheels = new Map<number, TickWheel>();
  readonly periodMs: number;
  private readonly slots: Set<() => void>[];
  private members = 0;
  private next = 0;
  private lastRun = 0;
  /** Slots due but not run yet (a late timer): run one per turn of the event loop. */
  private behind = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;

  /** A wheel of its own (tests); recordings share the process's, from `for`. */
  constructor(periodMs: number, clock: () => number = () => performance.now()) {
    this.periodMs = periodMs;
    this.clock = clock;
    const count = Math.max(1, Math.round(periodMs / SLOT_MS));
    this.slots = Array.from({ length: count }, () => new Set<() => void>());
  }

  /** The process's wheel for ticks every `periodMs`. */
  static for(periodMs: number): TickWheel {
    let wheel = TickWheel.wheels.get(periodMs);
    if (!wheel) {
      wheel = new TickWheel(periodMs);
      TickWheel.wheels.set(periodMs, wheel);
    }
    return wheel;
  }

  /**
   * Calls `tick` once per period, in the least busy slot, from the next turn of the wheel on.
   * Returns what removes it (idempotent). A throwing tick does not stop the others.
   */
  add(tick: () => void): () => void {
    let best = this.slots[0]!;
    for (const slot of this.slots) if (slot.size < best.size) best = slot;
    best.add(tick);
    this.members++;
    if (!this.timer) {
      this.lastRun = this.clock();
      this.timer = setInterval(() => this.turn(), this.periodMs / this.slots.length);
    }
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      best.delete(tick);
      if (--this.members === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /**
   * Runs the next slot, and schedules any a late timer skipped (at most a period) one per turn of
   * the event loop: catching up a stalled period at once was a block of hundreds of ticks in which
   * no packet was read (each turn's poll phase reads them between two slots).
   */
  private turn(): void {
    const slotMs = this.periodMs / this.slots.length;
    const now = this.clock();
    let due = Math.max(1, Math.floor((now - this.lastRun) / slotMs));
    if (due > this.slots.length) {
      due = this.slots.length;
      this.lastRun = now;
    } else {
      this.lastRun = Math.max(this.lastRun + due * slotMs, now - slotMs);
    }
    const idle = this.behind === 0;
    this.behind = Math.min(this.slots.length, this.behind + due - 1);
    this.runSlot();
    if (idle && this.behind > 0) setImmediate(this.catchUp);
  }

  private readonly catchUp = (): void => {
    if (this.behind === 0 || this.members === 0) {
      this.behind = 0;
      return;
    }
    this.behind--;
    this.runSlot();
    if (this.behind > 0) setImmediate(this.catchUp);
  };

  private runSlot(): void {
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    for (const tick of slot) {
      try {
        tick();
      } catch {
        // A recording's tick reports its own failures (Recording.fail); one must not stop the rest.
      }
    }
  }
}
