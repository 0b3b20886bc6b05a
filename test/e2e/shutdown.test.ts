import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KnexRecordingStore } from '../../plugins/storage-knex/knex-recording-store.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall } from '../../plugins/call-source-simulator/simulated-call.ts';
import { CLI } from '../helpers/run-cli.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('capstan start on SIGTERM', () => {
  it('finishes the call in progress, stores its recording, stops its media servers and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-shutdown-'));
    const base = 44000 + (process.pid % 50) * 20;
    writeFileSync(join(dir, 'capstan.config.json'), JSON.stringify({ http: { port: 0 }, logLevel: 'warn', mediaServers: { rtpPorts: `${base}-${base + 19}` } }));
    const host = spawn(process.execPath, ['--no-node-snapshot', CLI, 'start'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    host.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => host.on('exit', (code) => r(code)));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner:\n${stderr}`)), 30_000);
      host.stderr.on('data', () => {
        const m = /API and health\s+(http:\/\/[^/\s]+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    const servers = (await (await fetch(`${url}/api/v1/media-servers`)).json()) as { items: { id: string; pid: number }[] };
    expect(servers.items).toHaveLength(2);

    const audio = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!;
    const call = placeSimulatedCall({ hostUrl: url, callerAudio: audio, durationMs: 4000 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 1500));
    host.kill('SIGTERM');
    expect(await exited).toBe(0);
    await call;

    for (const s of servers.items) expect(alive(s.pid), `media server ${s.id} stopped`).toBe(false);
    const files = readdirSync(join(dir, 'var'), { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.part'))).toEqual([]);

    const store = await KnexRecordingStore.open({ client: 'sqlite', filename: join(dir, 'var', 'capstan.sqlite') });
    try {
      const { items } = await store.list({});
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ status: 'stored', uri: null });
      // The recording holds the part of the call before the signal: about 1.5 s.
      expect(items[0]!.durationMs).toBeGreaterThan(1000);
      expect(items[0]!.durationMs).toBeLessThan(3500);
    } finally {
      await store.close();
    }
  });
});
