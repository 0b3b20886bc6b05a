import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KnexRecordingStore } from '../../plugins/storage-knex/knex-recording-store.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall } from '../../plugins/call-source-simulator/simulated-call.ts';
import { alive, startHostProcess } from '../helpers/host-process.ts';

describe('capstan start on SIGTERM', () => {
  it('finishes the call in progress, stores its recording, stops its media servers and exits 0', async () => {
    const host = await startHostProcess(44000 + (process.pid % 50) * 20);
    const { dir, url, exited, mediaServers } = host;
    expect(mediaServers).toHaveLength(2);

    const audio = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!;
    const call = placeSimulatedCall({ hostUrl: url, callerAudio: audio, durationMs: 4000 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 1500));
    host.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    await call;

    for (const s of mediaServers) expect(alive(s.pid), `media server ${s.id} stopped`).toBe(false);
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
