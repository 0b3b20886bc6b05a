import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TickWheel } from '../../../media/recording/tick-wheel.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('TickWheel', () => {
  it('ticks each member once a period, spread evenly over the slots, and keeps them spread after a stall', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let now = 0;
    const wheel = new TickWheel(100, () => now);
    const ticks = Array.from({ length: 40 }, () => 0);
    const removers = ticks.map((_, i) => wheel.add(() => ticks[i]!++));
    const total = () => ticks.reduce((a, b) => a + b, 0);
    const turn = (ms: number) => {
      const before = total();
      now += ms;
      vi.advanceTimersByTime(10);
      return total() - before;
    };
    // 40 members in 10 slots of 10 ms: 4 ticks every 10 ms, never 40 at once.
    for (let k = 0; k < 20; k++) expect(turn(10)).toBe(4);
    expect(ticks.every((n) => n === 2)).toBe(true);
    // The event loop stalls for 60 ms: the next turn runs one slot and catches up the 6 others it
    // missed one per turn of the event loop (packets are read in between), 28 ticks in all ...
    const before = total();
    expect(turn(70)).toBe(4);
    for (let k = 1; k <= 6; k++) {
      await nextTurn();
      expect(total() - before).toBe(4 + 4 * k);
    }
    await nextTurn();
    expect(total() - before).toBe(28);
    // ... and from then on the members are as spread as before (a setInterval each would now fire 28 together).
    for (let k = 0; k < 13; k++) expect(turn(10)).toBe(4);
    expect(ticks.every((n) => n === 4)).toBe(true);
    for (const remove of removers) remove();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('goes on ticking the others when one throws, and removing twice is harmless', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let now = 0;
    const wheel = new TickWheel(20, () => now);
    let good = 0;
    const removeBad = wheel.add(() => {
      throw new Error('a failing recording');
    });
    const removeGood = wheel.add(() => good++);
    for (let k = 0; k < 10; k++) {
      now += 10;
      vi.advanceTimersByTime(10);
    }
    expect(good).toBe(5);
    removeBad();
    removeBad();
    removeGood();
    expect(vi.getTimerCount()).toBe(0);
  });
});
