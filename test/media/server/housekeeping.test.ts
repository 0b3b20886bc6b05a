import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETENTION_SECONDS, Housekeeping } from '../../../media/server/housekeeping.ts';

let dir: string;
let lines: Record<string, unknown>[];
const logger = () =>
  pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );

const DAY = 24 * 3600;
const NOW = Date.parse('2030-01-10T00:00:00Z');

function file(name: string, ageSeconds: number): void {
  const path = join(dir, name);
  writeFileSync(path, 'x'.repeat(10));
  const t = (NOW - ageSeconds * 1000) / 1000;
  utimesSync(path, t, t);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'housekeeping-'));
  lines = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('Housekeeping', () => {
  it('keeps files for 7 days by default', () => {
    expect(DEFAULT_RETENTION_SECONDS).toBe(7 * DAY);
  });

  it('removes finished files older than the retention with a log line each, and keeps the rest', async () => {
    file('old.abc.wav', 8 * DAY);
    file('old.abc.opus', 7 * DAY + 1);
    file('0123.sasf', 30 * DAY);
    file('broken.wav.part.unrecoverable', 9 * DAY);
    file('young.abc.wav', 6 * DAY);
    file('live.abc.wav.part', 30 * DAY); // in progress or waiting for repair: never
    file('notes.txt', 30 * DAY);
    mkdirSync(join(dir, 'sub.wav'));
    const removed: string[] = [];
    const h = new Housekeeping({ recordingsDir: dir, logger: logger(), now: () => NOW, onRemoved: (n) => removed.push(n) });
    const result = await h.sweep();
    expect(result.removed.sort()).toEqual(['0123.sasf', 'broken.wav.part.unrecoverable', 'old.abc.opus', 'old.abc.wav']);
    expect(removed.sort()).toEqual(result.removed.sort());
    for (const kept of ['young.abc.wav', 'live.abc.wav.part', 'notes.txt', 'sub.wav']) expect(existsSync(join(dir, kept))).toBe(true);
    const logged = lines.filter((l) => l.msg === 'removed a recording never fetched within its retention');
    expect(logged.map((l) => l.fileName).sort()).toEqual(result.removed.sort());
    expect(logged.find((l) => l.fileName === 'old.abc.wav')).toMatchObject({ ageSeconds: 8 * DAY, retentionSeconds: 7 * DAY, sizeBytes: 10 });
  });

  it('honours a configured retention and spares busy files', async () => {
    file('a.x.wav', 120);
    file('b.x.wav', 120);
    file('c.x.wav', 30);
    const h = new Housekeeping({ recordingsDir: dir, retentionSeconds: 60, logger: logger(), now: () => NOW, isBusy: (n) => n === 'b.x.wav' });
    expect((await h.sweep()).removed).toEqual(['a.x.wav']);
  });

  it('keeps everything with a retention of 0, and survives a missing folder', async () => {
    file('a.x.wav', 365 * DAY);
    expect((await new Housekeeping({ recordingsDir: dir, retentionSeconds: 0, logger: logger(), now: () => NOW }).sweep()).removed).toEqual([]);
    const gone = new Housekeeping({ recordingsDir: join(dir, 'nope'), logger: logger(), now: () => NOW });
    expect(await gone.sweep()).toEqual({ removed: [], kept: 0 });
    expect(lines.some((l) => l.msg === 'housekeeping cannot list the recordings folder')).toBe(true);
  });

  it('sweeps at start and on its interval until stopped', async () => {
    let now = NOW;
    const h = new Housekeeping({ recordingsDir: dir, retentionSeconds: 10, intervalMs: 50, logger: logger(), now: () => now });
    file('a.x.wav', 20);
    h.start();
    await new Promise((r) => setTimeout(r, 30));
    expect(existsSync(join(dir, 'a.x.wav'))).toBe(false);
    file('b.x.wav', 5);
    now += 10_000; // b is now 15 s old
    await new Promise((r) => setTimeout(r, 120));
    expect(existsSync(join(dir, 'b.x.wav'))).toBe(false);
    await h.stop();
    await h.stop();
    file('c.x.wav', 100);
    await new Promise((r) => setTimeout(r, 120));
    expect(existsSync(join(dir, 'c.x.wav'))).toBe(true);
  });

  it('refuses a negative retention', () => {
    expect(() => new Housekeeping({ recordingsDir: dir, retentionSeconds: -1, logger: logger() })).toThrow(RangeError);
  });
});
