/**
 * The plain file sink, on its own and through the folder's group jobs: every write is in the file
 * when it resolves (a process killed then loses nothing written), rewrites land in place, and
 * after a sync or a close the file holds exactly the bytes given.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlainFileSink, type PlainFileSinkOptions } from '../../../media/recording/file-sink.ts';
import { FilesystemSync } from '../../../media/recording/filesystem-sync.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'file-sink-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

// Both ways a file syncs: on its own (fdatasync), and through the folder's group job.
describe.each([
  ['on its own', false],
  ['through the group job', true],
])('PlainFileSink, syncing %s', (_, grouped) => {
  let group: FilesystemSync | undefined;
  beforeEach(async () => {
    group = grouped ? await FilesystemSync.open(dir) : undefined;
    if (grouped) expect(group).toBeDefined();
  });
  afterEach(async () => {
    await group?.close();
  });
  const options = (): PlainFileSinkOptions => ({ filesystemSync: group });

  it('has every write in the file when it resolves, in order, before any sync', async () => {
    const path = join(dir, 'a.part');
    const sink = await PlainFileSink.create(path, options());
    const parts = [bytes(44, 1), bytes(3200, 2), bytes(3200, 3)];
    let at = 0;
    for (const p of parts) {
      await sink.write(at, p);
      at += p.length;
    }
    expect(readFileSync(path)).toEqual(Buffer.concat(parts));
    await sink.sync();
    expect(readFileSync(path)).toEqual(Buffer.concat(parts));
    await sink.close();
  });

  it('rewrites written bytes in place: a header, a span inside, one reaching the end', async () => {
    const path = join(dir, 'b.part');
    const sink = await PlainFileSink.create(path, options());
    const expected = Buffer.concat([bytes(100, 1), bytes(100, 2)]);
    await sink.write(0, expected.subarray(0, 100));
    await sink.sync();
    await sink.write(100, expected.subarray(100));
    // A header rewrite, one inside, one across the two writes, and one ending at the end.
    const patches: [number, Buffer][] = [
      [0, Buffer.from('RIFF')],
      [150, Buffer.from('data')],
      [98, Buffer.from('xyzw')],
      [196, Buffer.from('tail')],
    ];
    for (const [pos, b] of patches) {
      await sink.write(pos, b);
      b.copy(expected, pos);
    }
    await sink.close();
    expect(readFileSync(path)).toEqual(expected);
  });

  it('writes large appends whole, in order', async () => {
    const path = join(dir, 'c.part');
    const sink = await PlainFileSink.create(path, options());
    const parts = [bytes(1000, 1), bytes(100_000, 2), bytes(500, 3), bytes(70_000, 4)];
    let at = 0;
    for (const p of parts) {
      await sink.write(at, p);
      at += p.length;
    }
    await sink.close();
    expect(readFileSync(path)).toEqual(Buffer.concat(parts));
  });

  it('keeps what was written when abandoned, so the repair finds it', async () => {
    const path = join(dir, 'd.part');
    const sink = await PlainFileSink.create(path, options());
    await sink.write(0, bytes(500, 9));
    await sink.abandon();
    await sink.abandon();
    expect(readFileSync(path)).toEqual(bytes(500, 9));
  });

  it('refuses a write that would leave a hole, and writes after close', async () => {
    const sink = await PlainFileSink.create(join(dir, 'e.part'), options());
    await sink.write(0, bytes(10, 1));
    await expect(sink.write(20, bytes(10, 2))).rejects.toMatchObject({ code: 'CAPSTAN_ERR_RECORDING_FAILED' });
    await sink.close();
    await sink.close();
    await expect(sink.write(10, bytes(10, 2))).rejects.toMatchObject({ code: 'CAPSTAN_ERR_CLOSED' });
  });
});
