import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall, waitForStoredRecordings, type CallCreated } from '../../plugins/call-source-simulator/simulated-call.ts';
import { correlationAtLag, alignedCorrelation } from '../helpers/audio-quality.ts';
import { ffmpegDecode } from '../helpers/ffmpeg-audio.ts';
import { startHostProcess, type HostProcess } from '../helpers/host-process.ts';
import { CLI } from '../helpers/run-cli.ts';
import { until } from '../helpers/until.ts';
import { freeTcpPort } from '../helpers/free-port.ts';

const caller = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  }
});
const track = (h: HostProcess): HostProcess => {
  children.push(h.proc);
  return h;
};

interface StoredRow {
  id: string;
  status: string;
  durationMs: number;
  mediaPath: string;
  uri: string | null;
}

async function recordingsOf(url: string): Promise<{ items: StoredRow[]; total: number }> {
  return (await (await fetch(`${url}/api/v1/recordings`)).json()) as { items: StoredRow[]; total: number };
}

describe('a host SIGKILLed mid-call and started again', () => {
  const rtpBase = 48300 + (process.pid % 20) * 60;

  it('with a standalone media server: the call goes on, and its recording is stored once, whole, with the audio of the outage', async () => {
    const port = await freeTcpPort();
    const config = { http: { port }, mediaServers: { embedded: 0 } };
    const first = await startHostProcess(rtpBase, { config });
    const secret = readFileSync(join(first.dir, 'var', 'secret'), 'utf8').trim();
    // The media server is its own process on "another machine": it outlives the host.
    const ms = spawn(
      process.execPath,
      ['--no-node-snapshot', CLI, 'media-server', '--host', first.url, '--location', 'default', '--id', 'ms-far', '--port', '0', '--rtp-ports', `${rtpBase + 20}-${rtpBase + 39}`, '--data', join(first.dir, 'far'), '--log-level', 'warn'],
      { env: { ...process.env, CAPSTAN_SECRET: secret }, stdio: 'ignore' },
    );
    children.push(ms);
    await until(async () => ((await (await fetch(`${first.url}/api/v1/media-servers`)).json()) as { items: { id: string; state: string }[] }).items, (s) => s.some((x) => x.id === 'ms-far' && x.state === 'up'), 30_000);

    const CALL_MS = 9000;
    let created: CallCreated | null = null;
    const call = placeSimulatedCall({ hostUrl: first.url, callerAudio: caller.subarray(0, 72000), durationMs: CALL_MS, onConnected: async (c) => void (created = c) });
    await until(() => created, (c) => c !== null, 10_000);
    await sleep(1500);
    first.proc.kill('SIGKILL');
    await first.exited;
    // Same folder, same address: the call source's hang-up reaches the new process.
    const second = track(await startHostProcess(rtpBase, { dir: first.dir, config }));
    const placed = await call;
    expect(placed.packetsReceived.callee).toBeGreaterThan(400); // the media server relayed throughout

    const stored = await waitForStoredRecordings(second.url, placed.callId, 30_000);
    expect(stored.map((r) => r.status)).toEqual(['stored']);
    const { items, total } = await recordingsOf(second.url);
    expect(total).toBe(1);
    // The whole call: the media server never stopped recording while the host was away.
    expect(items[0]!.durationMs).toBeGreaterThan(CALL_MS - 300);
    expect(items[0]!.durationMs).toBeLessThan(CALL_MS + 1000);
    const file = join(mkdtempSync(join(tmpdir(), 'capstan-restart-')), 'r.wav');
    writeFileSync(file, Buffer.from(await (await fetch(`${second.url}/api/v1/recordings/${items[0]!.id}/audio`)).arrayBuffer()));
    const [left] = ffmpegDecode(file, 2);
    const { lag } = alignedCorrelation(caller.subarray(0, 16000), left!.subarray(0, 32000), 16000);
    // Two to five seconds in — while the host was dead or starting — the caller is all there.
    const from = 16000;
    expect(correlationAtLag(caller.subarray(from, from + 24000), left!.subarray(from, from + 24000 + Math.abs(lag)), lag)).toBeGreaterThan(0.95);
    // And the media server holds no file any more.
    await until(() => readdirSync(join(first.dir, 'far', 'recordings')).filter((f) => /\.(wav|part)$/.test(f)), (f) => f.length === 0, 10_000);
  }, 120_000);

  it('with embedded media servers: the recording they finalized as the host died is stored once after the restart', async () => {
    const first = await startHostProcess(rtpBase);
    let created: CallCreated | null = null;
    const call = placeSimulatedCall({ hostUrl: first.url, callerAudio: caller.subarray(0, 40000), durationMs: 5000, onConnected: async (c) => void (created = c) }).catch(() => null);
    await until(() => created, (c) => c !== null, 10_000);
    await sleep(2000);
    first.proc.kill('SIGKILL');
    await first.exited;
    const second = track(await startHostProcess(rtpBase, { dir: first.dir }));
    await call;
    const row = await until(async () => (await recordingsOf(second.url)).items, (items) => items.length === 1 && items[0]!.status === 'stored' && items[0]!.uri === null, 30_000);
    expect(row[0]!.id).toBe(created!.recordings[0]!.recordingId);
    // The audio up to the host's death (about two seconds), not more, not less.
    expect(row[0]!.durationMs).toBeGreaterThan(1500);
    expect(row[0]!.durationMs).toBeLessThan(3500);
    expect((await recordingsOf(second.url)).total).toBe(1);
    const left = readdirSync(join(first.dir, 'var', 'media-servers'), { recursive: true }).map(String).filter((f) => /\.(wav|part)$/.test(f));
    expect(left).toEqual([]);
  }, 120_000);
});
