import { describe, expect, it } from 'vitest';
import { BytePool } from '../../../media/recording/byte-pool.ts';

describe('BytePool', () => {
  it('hands a buffer given back out again for any request of its size class, and a new one otherwise', () => {
    const pool = new BytePool();
    const a = pool.take(8000);
    expect(a.length).toBe(8192);
    pool.give(a);
    expect(pool.spare).toBe(8192);
    // Any length up to the class size finds it again; a larger one does not.
    expect(pool.take(5000)).toBe(a);
    expect(pool.spare).toBe(0);
    pool.give(a);
    const b = pool.take(9000);
    expect(b).not.toBe(a);
    expect(b.length).toBe(16384);
    expect(pool.stats).toEqual({ allocated: 2, reused: 1 });
  });

  it('keeps no more spare bytes than its cap, and ignores buffers it did not make', () => {
    const pool = new BytePool({ maxSpareBytes: 20_000 });
    const buffers = [pool.take(8192), pool.take(8192), pool.take(8192)];
    for (const b of buffers) pool.give(b);
    expect(pool.spare).toBe(16384);
    pool.give(new Uint8Array(3000)); // not a size the pool hands out
    expect(pool.spare).toBe(16384);
  });

  it('gives requests beyond its largest class a buffer of their own, never kept', () => {
    const pool = new BytePool({ maxSpareBytes: 2 ** 30 });
    const big = pool.take(2 ** 24 + 1);
    expect(big.length).toBe(2 ** 24 + 1);
    pool.give(big);
    expect(pool.spare).toBe(0);
  });
});
