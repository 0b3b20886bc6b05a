import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, startHostProcess } from '../helpers/host-process.ts';
import { until } from '../helpers/until.ts';

describe('a host killed with SIGKILL', () => {
  it('does not leave its media servers running: they finalize and exit on their own', async () => {
    const host = await startHostProcess(45200 + (process.pid % 40) * 20);
    expect(host.mediaServers).toHaveLength(2);
    host.proc.kill('SIGKILL');
    await until(() => host.mediaServers.filter((s) => alive(s.pid)).length, (n) => n === 0, 15_000);
    const files = readdirSync(join(host.dir, 'var', 'media-servers'), { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.part') || f.endsWith('.lock'))).toEqual([]);
  });
});
