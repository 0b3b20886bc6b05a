/**
 * bench/sip-insertion: how long a dynamic SIP call takes to get a media server into its audio
 * path. sipp plays the caller (sipp's G.711 pcap, following re-INVITEs) and the callee; once the
 * calls talk directly, a recording is asked for on each, one after the other. Each recording's
 * caller channel starts with silence until the caller's first packet reaches the media server —
 * after the selection, the allocation, the re-INVITE and its answer, and the caller's next packet.
 * Reported per call: the request's own time plus that lead-in (an upper bound: the recording
 * starts before the request is answered).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../core/config/load-config.ts';
import { Host } from '../core/host.ts';
import { createLogger } from '../core/logger.ts';
import { readPcm8k } from '../media/wav/wav-reader.ts';
import { freeUdpPort } from './sip.ts';

const SCENARIOS = fileURLToPath(new URL('../examples/sipp/', import.meta.url));

export interface SipInsertionResult {
  calls: number;
  /** Request to the caller's first packet in the recording, ms. */
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
  /** The recording request alone (selection, allocation, start), ms. */
  requestP50Ms: number;
}

function sipp(args: string[], cwd: string): Promise<number | null> {
  const proc = spawn('sipp', ['-nostdin', '-timeout', '60s', '-timeout_error', '-i', '127.0.0.1', ...args], { cwd, stdio: 'ignore' });
  return new Promise((r) => proc.on('exit', (code) => r(code)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

export async function benchSipInsertion(calls = 10): Promise<SipInsertionResult> {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-bench-sip-insert-'));
  symlinkSync('/usr/share/sip-tester', join(dir, 'pcap'));
  const uasPort = await freeUdpPort();
  const host = await Host.start(
    parseConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'capstan-bench-sip-insert-host-')),
      http: { port: 0 },
      logLevel: 'error',
      mediaServers: { embedded: 1, rtpPorts: '46000-46999' },
      handlers: { watch: false },
      recorder: { policies: [] },
      sip: { port: 0, address: '127.0.0.1', routes: [{ match: '.*', to: `sip:service@127.0.0.1:${uasPort}`, audioPath: 'dynamic' }] },
    }),
    { logger: createLogger({ level: 'fatal', fd: 2 }) },
  );
  try {
    const api = async <T>(path: string, init?: RequestInit) => (await (await fetch(`${host.url}${path}`, init)).json()) as T;
    const { port: sipPort } = await api<{ port: number }>('/api/v1/sip');
    const callee = sipp(['-sf', join(SCENARIOS, 'callee-reinvite.xml'), '-p', String(uasPort), '-mp', String(await freeUdpPort()), '-m', String(calls)], dir);
    await sleep(300);
    const caller = sipp(['-sf', join(SCENARIOS, 'caller-reinvite.xml'), `127.0.0.1:${sipPort}`, '-s', '800100', '-p', String(await freeUdpPort()), '-mp', String(await freeUdpPort()), '-r', String(calls), '-l', String(calls), '-m', String(calls)], dir);
    type CallView = { callId: string; mediaServerId: string | null; legs: unknown[] };
    let answered: CallView[] = [];
    for (let i = 0; i < 100 && answered.length < calls; i++) {
      const { items } = await api<{ items: CallView[] }>('/api/v1/calls');
      answered = (await Promise.all(items.map((c) => api<CallView>(`/api/v1/calls/${c.callId}`)))).filter((c) => c.legs.length === 2 && c.mediaServerId === null);
      await sleep(100);
    }
    if (answered.length < calls) throw new Error(`only ${answered.length} of ${calls} calls answered`);
    await sleep(1000);
    const started: { recordingId: string; requestMs: number }[] = [];
    for (const call of answered) {
      const t0 = performance.now();
      const r = await api<{ recordingId: string }>(`/api/v1/calls/${call.callId}/recordings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"requester":"recorder"}' });
      started.push({ recordingId: r.recordingId, requestMs: performance.now() - t0 });
      await sleep(150);
    }
    await sleep(1500);
    for (const s of started) await fetch(`${host.url}/api/v1/recordings/${s.recordingId}/stop`, { method: 'POST' });
    const [callerCode, calleeCode] = await Promise.all([caller, callee]);
    if (callerCode !== 0 || calleeCode !== 0) throw new Error(`sipp failed: caller ${callerCode}, callee ${calleeCode}`);
    const delays: number[] = [];
    for (const s of started) {
      for (let i = 0; i < 100; i++) {
        if ((await api<{ status: string }>(`/api/v1/recordings/${s.recordingId}`)).status === 'stored') break;
        await sleep(100);
      }
      const wav = Buffer.from(await (await fetch(`${host.url}/api/v1/recordings/${s.recordingId}/audio`)).arrayBuffer());
      const left = readPcm8k(wav).channels[0]!;
      const first = left.findIndex((x) => x !== 0);
      if (first < 0) throw new Error(`recording ${s.recordingId} has no caller audio`);
      delays.push(s.requestMs + first / 8);
    }
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      calls,
      p50Ms: round(percentile(delays, 50)),
      p90Ms: round(percentile(delays, 90)),
      maxMs: round(Math.max(...delays)),
      requestP50Ms: round(percentile(started.map((s) => s.requestMs), 50)),
    };
  } finally {
    await host.close();
  }
}
