import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoadReport } from '../../../media/control-api.ts';
import { decryptSasf } from '../../../media/sasf/index.ts';
import { generateKey, privateKeyResolver } from '../../../core/keys/index.ts';
import { parseWav } from '../../../media/wav/wav-reader.ts';
import { randomPayloads, RtpParty } from './rtp-party.ts';

const SECRET = 'child-process-test-secret';
const CHILD = fileURLToPath(new URL('../../../media/server/child.ts', import.meta.url));
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Ready {
  ready: boolean;
  controlUrl: string;
  id: string;
}

async function startChild(dataDir: string): Promise<{ child: ChildProcess; ready: Ready }> {
  const options = { location: 'test', id: 'ms-child', port: 0, address: '127.0.0.1', rtpAddress: '127.0.0.1', rtpPorts: [47400, 47499], dataDir, flushIntervalMs: 200, logLevel: 'warn' };
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, CAPSTAN_SECRET: SECRET, CAPSTAN_MEDIA_SERVER_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited ${code} before ready`)));
  });
  return { child, ready: JSON.parse(line) as Ready };
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${SECRET}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

async function recordFor(base: string, packets: number, encryption?: { publicKeyPem: string }): Promise<void> {
  const call = await api(base, 'POST', '/v1/calls', { callId: 'c1', legs: [{ legId: 'caller', codec: { payloadType: 0, name: 'PCMU' } }] });
  await api(base, 'POST', '/v1/calls/c1/recordings', { recordingId: 'rec-crash', mime: 'audio/PCMU', channels: 1, ...(encryption ? { encryption } : {}) });
  const party = await RtpParty.open();
  await party.play(randomPayloads(packets, 9), call.legs[0].rtp.port, { ssrc: 7 });
  party.close();
}

describe('media server child process', () => {
  it('prints one ready line, and on SIGTERM finalizes its recordings and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'child-'));
    dirs.push(dir);
    const { child, ready } = await startChild(dir);
    expect(ready).toMatchObject({ ready: true, id: 'ms-child' });
    expect(ready.controlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await recordFor(ready.controlUrl, 10);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const files = readdirSync(join(dir, 'recordings'));
    expect(files.filter((f) => f.endsWith('.wav'))).toHaveLength(1);
    expect(files.some((f) => f.endsWith('.part'))).toBe(false);
  });

  it('repairs the .part file of a recording cut by SIGKILL when restarted, and offers it as recovered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'child-kill-'));
    dirs.push(dir);
    const first = await startChild(dir);
    await recordFor(first.ready.controlUrl, 40); // 800 ms: several 200 ms flushes
    const killed = new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
    first.child.kill('SIGKILL');
    await killed;
    expect(readdirSync(join(dir, 'recordings')).some((f) => f.endsWith('.wav.part'))).toBe(true);

    const second = await startChild(dir);
    const health = (await api(second.ready.controlUrl, 'GET', '/v1/health')) as LoadReport;
    expect(health.recovered).toHaveLength(1);
    const recovered = health.recovered[0]!;
    expect(recovered).toMatchObject({ recordingId: 'rec-crash' });
    expect(existsSync(join(dir, 'recordings', recovered.fileName))).toBe(true);
    const file = Buffer.from(await (await fetch(recovered.uri)).arrayBuffer());
    const info = parseWav(file);
    expect(info).toMatchObject({ formatTag: 7, channels: 1, factFrames: info.frames, metadata: { recordingId: 'rec-crash', callId: 'c1' } });
    expect(info.frames).toBeGreaterThan(8 * 300); // at least what preceded the last flush
    expect(info.declaredDataBytes).toBe(info.frames);

    expect((await fetch(recovered.uri, { method: 'DELETE' })).status).toBe(204);
    expect(((await api(second.ready.controlUrl, 'GET', '/v1/health')) as LoadReport).recovered).toEqual([]);
  });

  it('recovers an encrypted recording cut by SIGKILL as an incomplete SASF file that decrypts up to its last flush', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'child-kill-sasf-'));
    dirs.push(dir);
    const key = await generateKey(join(dir, 'keys'));
    const first = await startChild(dir);
    await recordFor(first.ready.controlUrl, 40, { publicKeyPem: key.publicKeyPem });
    const killed = new Promise<void>((resolve) => first.child.once('exit', () => resolve()));
    first.child.kill('SIGKILL');
    await killed;
    expect(readdirSync(join(dir, 'recordings')).some((f) => f.endsWith('.sasf.part'))).toBe(true);

    const second = await startChild(dir);
    const health = (await api(second.ready.controlUrl, 'GET', '/v1/health')) as LoadReport;
    const recovered = health.recovered[0]!;
    expect(recovered).toMatchObject({ recordingId: 'rec-crash', fileName: expect.stringMatching(/^[0-9a-f]{32}\.sasf$/) });
    const file = new Uint8Array(await (await fetch(recovered.uri)).arrayBuffer());
    const privateKey = privateKeyResolver(join(dir, 'keys'));
    await expect(decryptSasf(file, { privateKey })).rejects.toMatchObject({ code: 'CAPSTAN_ERR_SASF_TRUNCATED' });
    const partial = await decryptSasf(file, { privateKey, allowIncomplete: true });
    expect(partial.complete).toBe(false);
    const info = parseWav(partial.plaintext);
    expect(info).toMatchObject({ formatTag: 7, metadata: { recordingId: 'rec-crash' } });
    // The verified prefix holds the audio up to the last 200 ms flush (the header still says 0 bytes).
    expect(partial.plaintext.length - info.dataOffset).toBeGreaterThan(8 * 300);
  });
});
