import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall, waitForStoredRecordings } from '../../plugins/call-source-simulator/simulated-call.ts';
import { alignedCorrelation } from '../helpers/audio-quality.ts';
import { ffmpegDecode } from '../helpers/ffmpeg-audio.ts';
import { startTestHost } from '../helpers/host.ts';
import { startRcsProcess, type RcsProcess } from '../helpers/rcs-process.ts';
import { until } from '../helpers/until.ts';

const SAMPLES = new URL('../../examples/audio/', import.meta.url);
const caller = readPcm8k(readFileSync(new URL('caller.wav', SAMPLES))).channels[0]!.subarray(0, 24000);
const callee = readPcm8k(readFileSync(new URL('callee.wav', SAMPLES))).channels[0]!.subarray(0, 24000);

interface Meta {
  id: string;
  status: string;
  requester: string;
  location: string | null;
  mediaLocation: string | null;
  mediaPath: string | null;
  uri: string | null;
}

function filesUnder(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : [];
}

describe('the Remote Content Service keeps recordings by location', () => {
  let host: Host;
  const servers: RcsProcess[] = [];
  beforeAll(async () => {
    host = await startTestHost({ recorder: { policies: [{ name: 'keep-remote', keep: 'rcs' }] } });
    servers.push(await startRcsProcess({ hostUrl: host.url, secret: host.secret, id: 'rcs-a', locations: ['A'] }));
    servers.push(await startRcsProcess({ hostUrl: host.url, secret: host.secret, id: 'rcs-b', locations: ['B'] }));
  }, 60_000);
  afterAll(async () => {
    for (const s of servers) s.proc.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
    await host?.close();
  });

  const meta = async (id: string) => (await (await fetch(`${host.url}/api/v1/recordings/${id}`)).json()) as Meta;

  it('puts each recording on the server of its call’s location, deletes the media server’s copy, and plays it back through the host', async () => {
    const [a, b] = await Promise.all(
      (['A', 'B'] as const).map((location) => placeSimulatedCall({ hostUrl: host.url, callerAudio: caller, calleeAudio: callee, durationMs: 3000, location })),
    );
    for (const call of [a!, b!]) expect((await waitForStoredRecordings(host.url, call.callId)).map((r) => r.status)).toEqual(['stored']);
    const [rcsA, rcsB] = servers;
    const cases = [
      { call: a!, mine: rcsA!, other: rcsB! },
      { call: b!, mine: rcsB!, other: rcsA! },
    ];
    for (const { call, mine, other } of cases) {
      const started = call.recordings[0]!;
      const m = await meta(started.recordingId);
      expect(m).toMatchObject({ status: 'stored', requester: 'recorder-rcs', mediaLocation: `rcs:${mine.id}`, uri: null });
      // On its server, not on the other one, and not in the Recorder's own store.
      expect(existsSync(join(mine.dir, m.mediaPath!))).toBe(true);
      expect(filesUnder(other.dir)).not.toContain(`${started.recordingId}.wav`);
      expect(filesUnder(join(host.config.dataDir, 'store'))).not.toContain(`${started.recordingId}.wav`);
      // Gone from the media server.
      expect((await fetch(started.uri, { method: 'HEAD' })).status).toBe(404);

      // Playback through the host streams the RCS server's copy, byte for byte.
      const audio = await fetch(`${host.url}/api/v1/recordings/${started.recordingId}/audio`);
      expect(audio.status).toBe(200);
      expect(audio.headers.get('content-type')).toBe('audio/wav');
      const bytes = Buffer.from(await audio.arrayBuffer());
      expect(bytes.equals(readFileSync(join(mine.dir, m.mediaPath!)))).toBe(true);
      // ffmpeg hears the caller on the left channel and the callee on the right, after the
      // recording's lead-in (the silence from its start to the first packet: the whole set-up).
      const file = join(mkdtempSync(join(tmpdir(), 'capstan-rcs-play-')), 'played.wav');
      writeFileSync(file, bytes);
      const [left, right] = ffmpegDecode(file, 2);
      expect(alignedCorrelation(caller, left!, 16000).correlation).toBeGreaterThan(0.99);
      expect(alignedCorrelation(callee, right!, 16000).correlation).toBeGreaterThan(0.99);

      // A Range request gets just those bytes, from the RCS server.
      const head = await fetch(`${host.url}/api/v1/recordings/${started.recordingId}/audio`, { headers: { range: 'bytes=0-43' } });
      expect(head.status).toBe(206);
      expect(head.headers.get('content-range')).toBe(`bytes 0-43/${bytes.length}`);
      expect(Buffer.from(await head.arrayBuffer()).equals(bytes.subarray(0, 44))).toBe(true);
    }
    // Both playbacks were audited.
    const audit = (await (await fetch(`${host.url}/api/v1/audit`)).json()) as { items: { action: string; recordingId: string }[] };
    for (const call of [a!, b!]) expect(audit.items.filter((e) => e.recordingId === call.recordings[0]!.recordingId && e.action === 'playback')).toHaveLength(2);
  }, 60_000);

  it('keeps a recording on the media server while no server keeps its location, and stores it once one registers', async () => {
    const call = await placeSimulatedCall({ hostUrl: host.url, callerAudio: caller, calleeAudio: callee, durationMs: 1500, location: 'C' });
    const started = call.recordings[0]!;
    await until(() => meta(started.recordingId), (m) => m.status === 'completed', 10_000);
    // It waits, not failed, and its file is still served by the media server.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await meta(started.recordingId)).status).toBe('completed');
    expect((await fetch(started.uri, { method: 'HEAD' })).status).toBe(200);

    const rcsC = await startRcsProcess({ hostUrl: host.url, secret: host.secret, id: 'rcs-c', locations: ['C'] });
    servers.push(rcsC);
    expect((await waitForStoredRecordings(host.url, call.callId)).map((r) => r.status)).toEqual(['stored']);
    const m = await meta(started.recordingId);
    expect(m.mediaLocation).toBe('rcs:rcs-c');
    expect(existsSync(join(rcsC.dir, m.mediaPath!))).toBe(true);
    expect((await fetch(started.uri, { method: 'HEAD' })).status).toBe(404);
  }, 60_000);

  it('deletes the RCS server’s copy when the recording is deleted', async () => {
    const call = await placeSimulatedCall({ hostUrl: host.url, callerAudio: caller, calleeAudio: callee, durationMs: 1000, location: 'A' });
    await waitForStoredRecordings(host.url, call.callId);
    const id = call.recordings[0]!.recordingId;
    const m = await meta(id);
    const path = join(servers[0]!.dir, m.mediaPath!);
    expect(existsSync(path)).toBe(true);
    expect((await fetch(`${host.url}/api/v1/recordings/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(path)).toBe(false);
    expect((await fetch(`${host.url}/api/v1/recordings/${id}`)).status).toBe(404);
  }, 60_000);

  it('lists the servers with their locations for operators', async () => {
    const { items } = (await (await fetch(`${host.url}/api/v1/rcs-servers`)).json()) as { items: { id: string; locations: string[]; state: string }[] };
    expect(items.map((s) => `${s.id}:${s.locations.join(',')}:${s.state}`).sort()).toEqual(['rcs-a:A:up', 'rcs-b:B:up', 'rcs-c:C:up']);
  });
});
