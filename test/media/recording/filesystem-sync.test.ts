/**
 * Group durability: many files' syncs share one syncfs, and a sync asked for while one runs
 * waits for the next, so "durable when sync() resolves" holds for every caller.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
  it('answers the syncs of a hundred files with a few syncfs calls, every file complete on disk', async () => {
    const sync = (await FilesystemSync.open(dir))!;
    expect(sync).toBeDefined();
    const sinks = await Promise.all(Array.from({ length: 100 }, (_, i) => PlainFileSink.create(join(dir, `${i}.part`), { filesystemSync: sync })));
    await Promise.all(sinks.map((s, i) => s.write(0, Buffer.alloc(1000, i))));
    await Promise.all(sinks.map((s) => s.sync()));
    expect(sync.stats.requests).toBe(100);
    // The first request starts a syncfs; those arriving while it runs share the next one.
    expect(sync.stats.syncs).toBeLessThanOrEqual(10);
    for (let i = 0; i < 100; i++) expect(readFileSync(join(dir, `${i}.part`))).toEqual(Buffer.alloc(1000, i));
    await Promise.all(sinks.map((s) => s.close()));
    await sync.close();
  });

  it('makes a request that arrives while a syncfs runs wait for a new one', async () => {
    const sync = (await FilesystemSync.open(dir))!;
    const first = sync.sync();
    const second = sync.sync(); // the first's syncfs already runs: this one needs another
    await Promise.all([first, second]);
    expect(sync.stats).toEqual({ syncs: 2, requests: 2 });
    await sync.sync();
    expect(sync.stats).toEqual({ syncs: 3, requests: 3 });
  });

  it('closes once the syncs asked for are done, idempotently, and refuses syncs after', async () => {
    const sync = (await FilesystemSync.open(dir))!;
    const pending = [sync.sync(), sync.sync(), sync.sync()];
    await sync.close();
    await expect(Promise.all(pending)).resolves.toBeDefined();
    await sync.close();
    await expect(sync.sync()).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('is not offered when the addon is ruled out, and a file then syncs on its own', async () => {
    vi.stubEnv(NATIVE_FS_DISABLED_ENV, '1');
    expect(await FilesystemSync.open(dir)).toBeUndefined();
    const sink = await PlainFileSink.create(join(dir, 'alone.part'));
    await sink.write(0, Buffer.from('kept'));
    await sink.sync();
    expect(readFileSync(join(dir, 'alone.part')).toString()).toBe('kept');
    await sink.close();
  });
});
