import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { alignedCorrelation } from '../helpers/audio-quality.ts';
import { ffmpegDecode } from '../helpers/ffmpeg-audio.ts';
import { startTestHost } from '../helpers/host.ts';
import { until } from '../helpers/until.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/free-port.ts';
import { pcapRtpPayloads } from '../helpers/pcap.ts';
import { execFileSync } from 'node:child_process';

const PCAPS = '/usr/share/sip-tester';


/** sipp as a child, in a folder where its scenarios find `pcap/...`; resolves with its exit code. */
function sipp(args: string[], cwd: string): { proc: ChildProcess; exited: Promise<number | null>; output: () => string } {
  const proc = spawn('sipp', ['-nostdin', '-trace_err', '-timeout', '40s', '-timeout_error', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, exited: new Promise((r) => proc.on('exit', (code) => r(code))), output: () => out };
}

/** The A-law audio in a sipp sample pcap, decoded by ffmpeg: the independent reference. */
function pcapAudio(file: string, dir: string): Int16Array {
  const raw = join(dir, 'pcap.alaw');
  writeFileSync(raw, Buffer.concat(pcapRtpPayloads(readFileSync(file)).filter((p) => p.payloadType === 8).map((p) => p.payload)));
  const pcm = execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'alaw', '-ar', '8000', '-ac', '1', '-i', raw, '-f', 's16le', '-']);
  return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
}

interface Recording {
  id: string;
  status: string;
  uri: string | null;
  dtmf: { leg: string; digit: string }[];
}

describe('SIP calls through the B2BUA, with sipp on both sides', () => {
  let host: Host;
  let uasPort: number;
  let tcpUasPort: number;
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-sipp-'));
    symlinkSync(PCAPS, join(dir, 'pcap'));
    uasPort = await freeUdpPort();
    tcpUasPort = await freeTcpPort();
    host = await startTestHost({
      sip: {
        port: 0,
        address: '127.0.0.1',
        routes: [
          { match: '^800', to: `sip:service@127.0.0.1:${uasPort}`, workgroup: 'support' },
          { match: '^900', to: `sip:service@127.0.0.1:${tcpUasPort};transport=tcp`, workgroup: 'sales' },
        ],
      },
    });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await host?.close();
  });

  it('records what the caller’s pcap says (always-in), ffmpeg hears it, and its DTMF digit is kept', async () => {
    const { port: sipPort } = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number };
    const callee = sipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(callee.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sn', 'uac_pcap', `127.0.0.1:${sipPort}`, '-s', '800200', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(caller.proc);
    const [callerCode, calleeCode] = await Promise.all([caller.exited, callee.exited]);
    expect(callerCode, caller.output()).toBe(0);
    expect(calleeCode, callee.output()).toBe(0);

    const { items } = (await until(async () => (await (await fetch(`${host.url}/api/v1/recordings?dnis=800200`)).json()) as { items: Recording[] }, (r) => r.items.length === 1 && r.items[0]!.status === 'stored' && r.items[0]!.uri === null, 20_000));
    const rec = items[0]!;
    expect(rec).toMatchObject({ status: 'stored' });
    // The DTMF pcap sipp plays after the speech: a '1' on the caller's leg.
    expect(rec.dtmf.map((d) => `${d.leg}:${d.digit}`)).toEqual(['caller:1']);

    const file = join(dir, 'recorded.wav');
    writeFileSync(file, Buffer.from(await (await fetch(`${host.url}/api/v1/recordings/${rec.id}/audio`)).arrayBuffer()));
    const [left] = ffmpegDecode(file, 2);
    const reference = pcapAudio(join(PCAPS, 'g711a.pcap'), dir);
    // The caller's channel holds the pcap's audio: cross-correlation after alignment.
    const { correlation } = alignedCorrelation(reference.subarray(0, 40000), left!.subarray(0, 48000), 8000);
    console.log(`SIP always-in: pcap audio vs recording, correlation ${correlation.toFixed(4)}`);
    expect(correlation).toBeGreaterThanOrEqual(0.95);
  }, 90_000);

  it('takes and places calls over TCP too: sipp over TCP on both sides, the call recorded', async () => {
    const { port: sipPort, tcp } = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number; tcp: boolean };
    expect(tcp).toBe(true);
    const callee = sipp(['-sn', 'uas', '-t', 't1', '-i', '127.0.0.1', '-p', String(tcpUasPort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(callee.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sn', 'uac', '-t', 't1', `127.0.0.1:${sipPort}`, '-s', '900100', '-i', '127.0.0.1', '-p', String(await freeTcpPort()), '-m', '1', '-d', '2000'], dir);
    children.push(caller.proc);
    const [callerCode, calleeCode] = await Promise.all([caller.exited, callee.exited]);
    expect(callerCode, caller.output()).toBe(0);
    expect(calleeCode, callee.output()).toBe(0);
    const { items } = await until(
      async () => (await (await fetch(`${host.url}/api/v1/recordings?dnis=900100`)).json()) as { items: (Recording & { workgroup: string; durationMs: number })[] },
      (r) => r.items.length === 1 && r.items[0]!.status === 'stored',
      20_000,
    );
    // Routed by the called number to the sales route, and as long as the 2 s call.
    expect(items[0]).toMatchObject({ workgroup: 'sales' });
    expect(items[0]!.durationMs).toBeGreaterThan(1500);
  }, 60_000);
});
