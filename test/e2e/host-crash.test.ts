import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/run-cli.ts';
import { until } from '../helpers/until.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a host killed with SIGKILL', () => {
  it('does not leave its media servers running: they finalize and exit on their own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-host-crash-'));
    const base = 45200 + (process.pid % 40) * 20;
    writeFileSync(join(dir, 'capstan.config.json'), JSON.stringify({ http: { port: 0 }, logLevel: 'warn', mediaServers: { rtpPorts: `${base}-${base + 19}` } }));
    const host = spawn(process.execPath, ['--no-node-snapshot', CLI, 'start'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    host.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await until(() => /API and health\s+(http:\/\/[^/\s]+)/.exec(stderr)?.[1] ?? null, (u) => u !== null, 30_000);
    const servers = (await (await fetch(`${url}/api/v1/media-servers`)).json()) as { items: { id: string; pid: number }[] };
    expect(servers.items).toHaveLength(2);
    host.kill('SIGKILL');
    await until(() => servers.items.filter((s) => alive(s.pid)).length, (n) => n === 0, 15_000);
    const files = readdirSync(join(dir, 'var', 'media-servers'), { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.part') || f.endsWith('.lock'))).toEqual([]);
  });
});
