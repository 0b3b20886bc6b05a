import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { ulawDecode, ulawEncode } from '../../media/codecs/g711.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall, waitForStoredRecordings } from '../../plugins/call-source-simulator/simulated-call.ts';
import { startTestHost } from '../helpers/host.ts';

const SAMPLES = new URL('../../examples/audio/', import.meta.url);
const CALL_MS = 5000;

/** The first offset at which `haystack` holds `needle` sample for sample, or -1. */
function exactOffset(haystack: Int16Array, needle: Int16Array, maxOffset: number): number {
  outer: for (let k = 0; k <= maxOffset && k + needle.length <= haystack.length; k++) {
    for (let i = 0; i < needle.length; i++) if (haystack[k + i] !== needle[i]) continue outer;
    return k;
  }
  return -1;
}

describe('the walking skeleton: a simulated call recorded end to end', () => {
  let host: Host;
  beforeAll(async () => {
    host = await startTestHost();
  });
  afterAll(async () => {
    await host?.close();
  });

  it('starts two media servers as child processes that register and report load', async () => {
    const health = (await (await fetch(`${host.url}/api/v1/health`)).json()) as { status: string; mediaServers: { id: string; state: string; embedded: boolean }[] };
    expect(health.status).toBe('ok');
    expect(health.mediaServers.map((s) => `${s.id}:${s.state}:${s.embedded ? 'embedded' : 'standalone'}`).sort()).toEqual(['ms-1:up:embedded', 'ms-2:up:embedded']);
    expect(host.embedded?.pidOf('ms-1')).toBeGreaterThan(0);
  });

  it('stores a 5 s call with the exact audio each leg sent, the right length, and deletes the media server’s file', async () => {
    const caller = readPcm8k(readFileSync(new URL('caller.wav', SAMPLES))).channels[0]!.subarray(0, 40000);
    const callee = readPcm8k(readFileSync(new URL('callee.wav', SAMPLES))).channels[0]!.subarray(0, 40000);
    const before = performance.now();
    const call = await placeSimulatedCall({ hostUrl: host.url, callerAudio: caller, calleeAudio: callee, durationMs: CALL_MS, workgroup: 'sales', agent: 'alice' });
    const wallMs = performance.now() - before;
    expect(call.recordings).toHaveLength(1);
    const [started] = call.recordings;
    // The media server relayed each leg's packets to the other party.
    expect(call.packetsReceived.caller).toBeGreaterThan(240);
    expect(call.packetsReceived.callee).toBeGreaterThan(240);

    const stored = await waitForStoredRecordings(host.url, call.callId);
    expect(stored.map((r) => r.status)).toEqual(['stored']);

    const meta = (await (await fetch(`${host.url}/api/v1/recordings/${started!.recordingId}`)).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ status: 'stored', requester: 'recorder', workgroup: 'sales', agent: 'alice', channels: 2, sampleRate: 8000, uri: null });

    const audio = await fetch(`${host.url}/api/v1/recordings/${started!.recordingId}/audio`);
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toBe('audio/wav');
    const wav = readPcm8k(new Uint8Array(await audio.arrayBuffer()));
    expect(wav.channels).toHaveLength(2);

    // Sample-exact: each channel holds the G.711 decode of what its leg sent, after the arrival offset.
    const expectedLeft = ulawDecode(ulawEncode(caller));
    const expectedRight = ulawDecode(ulawEncode(callee));
    const left = exactOffset(wav.channels[0]!, expectedLeft, 1600);
    const right = exactOffset(wav.channels[1]!, expectedRight, 1600);
    expect(left, 'caller audio found sample-exact on the left channel').toBeGreaterThanOrEqual(0);
    expect(right, 'callee audio found sample-exact on the right channel').toBeGreaterThanOrEqual(0);
    // Both legs start on the same tick, so the channels line up: each leg is placed from its own
    // first packet's arrival, and on a loaded machine one of the two sends of that tick can land a
    // few ms after the other — within two packets, where a misplaced leg would be far off.
    expect(Math.abs(left - right)).toBeLessThanOrEqual(320);

    // Length: the call's 5 s within one packet, plus at most what the set-up and hang-up requests took.
    const durationMs = (wav.frames / 8000) * 1000;
    expect(durationMs).toBeGreaterThanOrEqual(CALL_MS - 20);
    expect(durationMs).toBeLessThanOrEqual(CALL_MS + 20 + (wallMs - call.durationMs));
    expect(meta.durationMs).toBeCloseTo(durationMs, 0);

    // The media server's copy is gone: its URI answers 404 and its folder holds no file of it.
    const head = await fetch(started!.uri, { method: 'HEAD' });
    expect(head.status).toBe(404);
    const msDir = join(host.config.dataDir, 'media-servers', call.mediaServerId!);
    const leftovers = readdirSync(msDir, { recursive: true }).map(String).filter((f) => f.includes(started!.recordingId));
    expect(leftovers).toEqual([]);
  });

  it('serves a byte range of a stored recording', async () => {
    const list = (await (await fetch(`${host.url}/api/v1/recordings`)).json()) as { items: { id: string; sizeBytes: number }[] };
    const first = list.items[0]!;
    const r = await fetch(`${host.url}/api/v1/recordings/${first.id}/audio`, { headers: { range: 'bytes=0-43' } });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 0-43/${first.sizeBytes}`);
    const head = Buffer.from(await r.arrayBuffer());
    expect(head.subarray(0, 4).toString()).toBe('RIFF');
    expect(head.subarray(8, 12).toString()).toBe('WAVE');
  });

  it('finds the recording by agent, workgroup, numbers and time, and refuses a malformed time', async () => {
    const count = async (q: string) => ((await (await fetch(`${host.url}/api/v1/recordings?${q}`)).json()) as { total: number }).total;
    expect(await count('agent=alice&workgroup=sales&ani=5551000&dnis=1000')).toBe(1);
    expect(await count('agent=bob')).toBe(0);
    expect(await count(`from=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}`)).toBe(1);
    expect(await count(`to=${encodeURIComponent(new Date(Date.now() - 3600_000).toISOString())}`)).toBe(0);
    const bad = await fetch(`${host.url}/api/v1/recordings?from=yesterday`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('CAPSTAN_ERR_BAD_REQUEST');
  });

  it('counts calls and stored recordings in the Prometheus metrics', async () => {
    const text = await (await fetch(`${host.url}/metrics`)).text();
    expect(text).toMatch(/^capstan_calls_total 1$/m);
    expect(text).toMatch(/^capstan_recordings_stored_total 1$/m);
    expect(text).toMatch(/^capstan_media_servers_up 2$/m);
  });
});
