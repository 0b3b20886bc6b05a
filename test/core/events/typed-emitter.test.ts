import { describe, expect, it } from 'vitest';
import { TypedEmitter } from '../../../core/events/typed-emitter.ts';

interface Events {
  ping: { n: number };
}

describe('TypedEmitter', () => {
  it('delivers a payload to every listener in order', () => {
    const seen: string[] = [];
    const e = new TypedEmitter<Events>();
    e.on('ping', ({ n }) => void seen.push(`a${n}`));
    e.on('ping', ({ n }) => void seen.push(`b${n}`));
    e.emit('ping', { n: 1 });
    expect(seen).toEqual(['a1', 'b1']);
  });

  it('reports a throwing listener and still calls the others', () => {
    const errors: unknown[] = [];
    const seen: number[] = [];
    const e = new TypedEmitter<Events>((err) => errors.push(err));
    e.on('ping', () => {
      throw new Error('boom');
    });
    e.on('ping', ({ n }) => void seen.push(n));
    expect(() => e.emit('ping', { n: 7 })).not.toThrow();
    expect(seen).toEqual([7]);
    expect((errors[0] as Error).message).toBe('boom');
  });

  it('reports a rejecting async listener without an unhandled rejection', async () => {
    const errors: unknown[] = [];
    const e = new TypedEmitter<Events>((err) => errors.push(err));
    e.on('ping', async () => {
      throw new Error('later');
    });
    await e.emitAndWait('ping', { n: 1 });
    expect((errors[0] as Error).message).toBe('later');
  });

  it('waits for async listeners with emitAndWait', async () => {
    let done = false;
    const e = new TypedEmitter<Events>();
    e.on('ping', async () => {
      await new Promise((r) => setTimeout(r, 20));
      done = true;
    });
    await e.emitAndWait('ping', { n: 1 });
    expect(done).toBe(true);
  });

  it('stops calling a listener once it is removed, and calls a once listener once', () => {
    let a = 0;
    let b = 0;
    const e = new TypedEmitter<Events>();
    const off = e.on('ping', () => void a++);
    e.once('ping', () => void b++);
    e.emit('ping', { n: 1 });
    off();
    e.emit('ping', { n: 2 });
    expect([a, b]).toEqual([1, 1]);
    expect(e.listenerCount('ping')).toBe(0);
  });
});
