/**
 * Group jobs: many files' writes asked for in one turn share one write job, a request made while
 * it runs waits for the next, syncs whose writes are made share one syncfs that runs beside the
 * writes (a write never waits for the disk), and one file's failed write fails only that file's
 * request.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PlainFileSink } from '../../../media/recording/file-sink.ts';
import { FilesystemSync, NATIVE_FS_DISABLED_ENV } from '../../../media/recording/filesystem-sync.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fs-sync-'));
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

describe('FilesystemSync', () => {
  it('answers the writes and syncs of a hundred files with a few group jobs, every file complete with its header rewritten', async () => {
    const group = (await FilesystemSync.open(dir))!;
    expect(group).toBeDefined();
    const sinks = await Promise.all(Array.from({ length: 100 }, (_, i) => PlainFileSink.create(join(dir, `${i}.part`), { filesystemSync: group })));
    await Promise.all(sinks.map((s, i) => s.write(0, Buffer.alloc(1000, i))));
    await Promise.all(sinks.map((s) => s.sync()));
    // A header rewrite (on disk now) and more data, flushed together.
    await Promise.all(sinks.map((s) => s.write(0, Buffer.from('HEAD')).then(() => s.write(1000, Buffer.alloc(500, 0xee)))));
    await Promise.all(sinks.map((s) => s.sync()));
    // 100 files: a write, a sync, a header rewrite, a write, a sync.
    expect(group.stats.requests).toBe(500);
    // A turn's requests share a job; those arriving while it runs share the next one.
    expect(group.stats.jobs).toBeLessThanOrEqual(50);
    expect(group.stats.syncs).toBeLessThanOrEqual(group.stats.jobs);
    for (let i = 0; i < 100; i++) {
      const expected = Buffer.concat([Buffer.from('HEAD'), Buffer.alloc(996, i), Buffer.alloc(500, 0xee)]);
      expect(readFileSync(join(dir, `${i}.part`))).toEqual(expected);
    }
    await Promise.all(sinks.map((s) => s.close()));
    await group.close();
  });

  it('puts the requests of one turn in one job, and makes one that arrives while a job runs wait for a new one', async () => {
    const group = (await FilesystemSync.open(dir))!;
    const fh = await open(join(dir, 'a'), 'w');
    const turn = [group.flush(fh.fd, [{ position: 0, bytes: Buffer.from('one') }], false), group.flush(fh.fd, [{ position: 3, bytes: Buffer.from('two') }], false)];
    await new Promise((r) => setImmediate(r)); // their job starts
    const later = group.flush(fh.fd, [{ position: 6, bytes: Buffer.from('three') }]); // a sync: needs a syncfs after it
    await Promise.all([...turn, later]);
    expect(group.stats).toEqual({ jobs: 2, syncs: 1, requests: 3 });
    expect(readFileSync(join(dir, 'a')).toString()).toBe('onetwothree');
    await fh.close();
    await group.close();
  });

  it('answers a write made while a syncfs waits for the disk at once, and gives a sync asked for meanwhile a syncfs of its own', async () => {
    const group = (await FilesystemSync.open(dir))!;
    // 96 MiB of dirty pages: the syncfs takes the disk's time, a pwrite does not.
    writeFileSync(join(dir, 'dirty'), Buffer.alloc(96 * 1024 * 1024, 7));
    const fh = await open(join(dir, 'c'), 'w');
    const order: string[] = [];
    const firstSync = group.flush(fh.fd, [{ position: 0, bytes: Buffer.from('durable') }], true).then(() => order.push('first sync'));
    // Its write job, then its syncfs, have started: a write and another sync arrive.
    while (group.stats.syncs === 0) await new Promise((r) => setImmediate(r));
    const write = group.flush(fh.fd, [{ position: 7, bytes: Buffer.from('-more') }], false).then(() => order.push('write'));
    const secondSync = group.flush(fh.fd, [], true).then(() => order.push('second sync'));
    await Promise.all([firstSync, write, secondSync]);
    expect(order).toEqual(['write', 'first sync', 'second sync']);
    // The second sync needed a syncfs that started after it was asked for.
    expect(group.stats).toEqual({ jobs: 2, syncs: 2, requests: 3 });
    expect(readFileSync(join(dir, 'c')).toString()).toBe('durable-more');
    await fh.close();
    await group.close();
  });

  it('fails only the flush whose write failed, with the system error', async () => {
    const group = (await FilesystemSync.open(dir))!;
    writeFileSync(join(dir, 'read-only'), 'x');
    const readOnly = await open(join(dir, 'read-only'), 'r');
    const good = await open(join(dir, 'good'), 'w');
    await group.flush(good.fd); // the next two share one job
    const results = await Promise.allSettled([
      group.flush(readOnly.fd, [{ position: 0, bytes: Buffer.from('no') }]),
      group.flush(good.fd, [{ position: 0, bytes: Buffer.from('yes') }]),
    ]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'EBADF', syscall: 'pwrite' } });
    expect(results[1]).toMatchObject({ status: 'fulfilled' });
    expect(readFileSync(join(dir, 'good')).toString()).toBe('yes');
    await readOnly.close();
    await good.close();
    await group.close();
  });

  it('closes once the flushes asked for are done, idempotently, and refuses flushes after', async () => {
    const group = (await FilesystemSync.open(dir))!;
    const fh = await open(join(dir, 'b'), 'w');
    const pending = [0, 1, 2].map((i) => group.flush(fh.fd, [{ position: i, bytes: Buffer.from(String(i)) }]));
    await group.close();
    await expect(Promise.all(pending)).resolves.toBeDefined();
    expect(readFileSync(join(dir, 'b')).toString()).toBe('012');
    await group.close();
    await expect(group.flush(fh.fd)).rejects.toMatchObject({ code: 'EBADF' });
    await fh.close();
  });

  it('is not offered when the addon is ruled out, and a file then writes and syncs on its own', async () => {
    vi.stubEnv(NATIVE_FS_DISABLED_ENV, '1');
    expect(await FilesystemSync.open(dir)).toBeUndefined();
    const sink = await PlainFileSink.create(join(dir, 'alone.part'));
    await sink.write(0, Buffer.from('kept'));
    await sink.sync();
    expect(readFileSync(join(dir, 'alone.part')).toString()).toBe('kept');
    await sink.close();
  });
});
