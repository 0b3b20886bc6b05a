import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulawDecode } from '../../../media/codecs/g711.ts';
import { RecordingResult, type AllocateCallResponse, type LoadReport, type StartRecordingResponse } from '../../../media/control-api.ts';
import { runMediaServer, type MediaServer } from '../../../media/server/main.ts';
import { signFileUri } from '../../../media/server/signed-uri.ts';
import { parseWav } from '../../../media/wav/wav-reader.ts';
import { randomPayloads, RtpParty } from './rtp-party.ts';
import { controlApi } from './control-api-client.ts';

const SECRET = 'media-server-test-secret';
let dir: string;
let server: MediaServer;

const api = controlApi(() => server.controlUrl, SECRET);

const PCMU = { payloadType: 0, name: 'PCMU' as const };

async function allocate(callId: string, remotes: { caller?: RtpParty; callee?: RtpParty } = {}): Promise<Record<string, number>> {
  const legs = (['caller', 'callee'] as const).map((legId) => ({ legId, codec: PCMU, ...(remotes[legId] ? { remote: remotes[legId].endpoint } : {}) }));
  const { status, json } = await api('POST', '/v1/calls', { callId, legs });
  expect(status).toBe(200);
  return Object.fromEntries((json as AllocateCallResponse).legs.map((l) => [l.legId, l.rtp.port]));
}

/** Index where `needle` starts in `hay`, or -1. */
function indexOf(hay: Int16Array, needle: Int16Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'media-server-'));
  server = await runMediaServer({
    location: 'test',
    id: 'ms-test',
    port: 0,
    address: '127.0.0.1',
    rtpAddress: '127.0.0.1',
    rtpPorts: [47000, 47199],
    dataDir: dir,
    secret: SECRET,
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('media server: a recorded two-leg call', () => {
  it('records a 2-second PCMU call to dual-channel PCM equal to what each leg sent, and relays it', async () => {
    const [a, b] = await Promise.all([RtpParty.open(), RtpParty.open()]);
    try {
      const ports = await allocate('call-1', { caller: a, callee: b });
      const before = performance.now();
      const started = await api('POST', '/v1/calls/call-1/recordings', { recordingId: 'rec-1', mime: 'audio/L16', channels: 2 });
      const afterStart = performance.now();
      expect(started.status).toBe(200);
      const start = started.json as StartRecordingResponse;
      expect(start.fileName).toMatch(/^rec-1\.[0-9a-f]{12}\.wav$/);

      const fromA = randomPayloads(100, 1);
      const fromB = randomPayloads(100, 2);
      const [sentA, sentB] = await Promise.all([a.play(fromA, ports.caller!, { ssrc: 0xa }), b.play(fromB, ports.callee!, { ssrc: 0xb, seq0: 65500 })]);
      await sleep(40); // the last packets' 20 ms must be inside the recording
      const beforeStop = performance.now();
      const stopped = await api('POST', '/v1/recordings/rec-1/stop');
      const afterStop = performance.now();
      expect(stopped.status).toBe(200);
      const result = RecordingResult.parse(stopped.json);

      // Length: wall clock from start to stop, within one packet (160 samples).
      expect(result.samples).toBeGreaterThanOrEqual(Math.floor((beforeStop - afterStart) * 8) - 160);
      expect(result.samples).toBeLessThanOrEqual(Math.ceil((afterStop - before) * 8) + 160);

      const res = await fetch(result.uri);
      expect(res.status).toBe(200);
      const file = Buffer.from(await res.arrayBuffer());
      expect(file.length).toBe(result.sizeBytes);
      const info = parseWav(file);
      expect(info).toMatchObject({ formatTag: 1, channels: 2, sampleRate: 8000, frames: result.samples });
      const left = new Int16Array(info.frames);
      const right = new Int16Array(info.frames);
      for (let i = 0; i < info.frames; i++) {
        left[i] = file.readInt16LE(info.dataOffset + 4 * i);
        right[i] = file.readInt16LE(info.dataOffset + 4 * i + 2);
      }
      for (const [channel, payloads] of [[left, fromA], [right, fromB]] as const) {
        const expected = ulawDecode(Buffer.concat(payloads));
        const offset = indexOf(channel, expected.subarray(0, 160));
        expect(offset).toBeGreaterThanOrEqual(0);
        // Sample-exact after the arrival offset, silence around.
        expect(channel.subarray(offset, offset + expected.length)).toEqual(expected);
        expect(channel.subarray(0, offset).every((v) => v === 0)).toBe(true);
        expect(channel.subarray(offset + expected.length).every((v) => v === 0)).toBe(true);
      }

      // Relay: each party got the other's packets unchanged, from its own leg's port.
      expect(b.received.map((r) => r.raw)).toEqual(sentA);
      expect(a.received.map((r) => r.raw)).toEqual(sentB);
      expect(new Set(b.received.map((r) => r.from.port))).toEqual(new Set([ports.callee]));
      expect(new Set(a.received.map((r) => r.from.port))).toEqual(new Set([ports.caller]));

      expect(result.stats).toMatchObject({ caller: { placed: 100, late: 0, duplicates: 0 }, callee: { placed: 100, late: 0 } });
      expect((await api('POST', '/v1/recordings/rec-1/stop')).json).toMatchObject({ sha256: result.sha256 }); // idempotent
      expect((await api('DELETE', '/v1/calls/call-1')).status).toBe(204);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('media server: RTP handling', () => {
  it('counts malformed packets by reason and keeps serving', async () => {
    const [a] = await Promise.all([RtpParty.open()]);
    try {
      const ports = await allocate('call-bad');
      const before = ((await api('GET', '/v1/health')).json as LoadReport).packets!;
      await a.sendRaw(Buffer.alloc(5), ports.caller!);
      await a.sendRaw(Buffer.from('40000001000000010000000100', 'hex'), ports.caller!); // version 1
      await a.sendRaw(Buffer.from('a0000001000000010000000109', 'hex'), ports.caller!); // padding 9 > body
      await a.sendRaw(Buffer.from('80c8000600000001', 'hex'), ports.caller!); // an RTCP SR
      await sleep(50);
      const after = ((await api('GET', '/v1/health')).json as LoadReport).packets!;
      expect(after.received - before.received).toBe(4);
      for (const reason of ['too-short', 'bad-version', 'bad-padding', 'rtcp']) {
        expect((after.dropped[reason] ?? 0) - (before.dropped[reason] ?? 0), reason).toBe(1);
      }
      expect((await api('DELETE', '/v1/calls/call-bad')).status).toBe(204);
    } finally {
      a.close();
    }
  });

  it('relays to the remote set last, from the other leg\'s port, and not before one is set', async () => {
    const [a, b, c] = await Promise.all([RtpParty.open(), RtpParty.open(), RtpParty.open()]);
    try {
      const ports = await allocate('call-relay', { caller: a });
      await a.play(randomPayloads(2, 3), ports.caller!, { ssrc: 1 });
      expect((await api('PUT', '/v1/calls/call-relay/legs/callee/remote', b.endpoint)).status).toBe(204);
      await a.play(randomPayloads(2, 4), ports.caller!, { ssrc: 1, seq0: 2000 });
      expect((await api('PUT', '/v1/calls/call-relay/legs/callee/remote', c.endpoint)).status).toBe(204);
      await a.play(randomPayloads(3, 5), ports.caller!, { ssrc: 1, seq0: 3000 });
      await c.play(randomPayloads(1, 6), ports.callee!, { ssrc: 2 });
      await sleep(50);
      expect(b.received.map((r) => r.packet.sequenceNumber)).toEqual([2000, 2001]);
      expect(c.received.map((r) => r.packet.sequenceNumber)).toEqual([3000, 3001, 3002]);
      expect(c.received.every((r) => r.from.port === ports.callee)).toBe(true);
      expect(a.received.map((r) => r.from.port)).toEqual([ports.caller]);
      await api('DELETE', '/v1/calls/call-relay');
    } finally {
      for (const p of [a, b, c]) p.close();
    }
  });
});

describe('media server: control API', () => {
  it('requires the bearer secret', async () => {
    expect(await api('GET', '/v1/health', undefined, 'wrong')).toMatchObject({ status: 401, json: { code: 'CAPSTAN_ERR_UNAUTHORIZED' } });
    const res = await fetch(`${server.controlUrl}/v1/health`);
    expect(res.status).toBe(401);
  });

  it('answers a bad body with 400 and the issues', async () => {
    const { status, json } = await api('POST', '/v1/calls', { callId: 'x', legs: [] });
    expect(status).toBe(400);
    expect(json.code).toBe('CAPSTAN_ERR_BAD_REQUEST');
    expect(json.details.issues[0].path).toEqual(['legs']);
    expect((await api('PUT', '/v1/calls/x/legs/nobody/remote', { address: 'a', port: 1 })).status).toBe(400);
  });

  it('answers unknown calls, recordings and routes with coded 404s, and duplicates with 409', async () => {
    expect((await api('DELETE', '/v1/calls/nope')).json.code).toBe('CAPSTAN_ERR_CALL_NOT_FOUND');
    expect((await api('POST', '/v1/recordings/nope/stop')).json.code).toBe('CAPSTAN_ERR_RECORDING_NOT_FOUND');
    expect((await api('GET', '/v1/nothing')).json.code).toBe('CAPSTAN_ERR_NOT_FOUND');
    await allocate('call-dup');
    expect((await api('POST', '/v1/calls', { callId: 'call-dup', legs: [{ legId: 'caller', codec: PCMU }] })).status).toBe(409);
    expect((await api('POST', '/v1/calls/call-dup/recordings', { recordingId: 'r-dup' })).status).toBe(200);
    expect((await api('POST', '/v1/calls/call-dup/recordings', { recordingId: 'r-dup' })).json.code).toBe('CAPSTAN_ERR_CONFLICT');
    await api('DELETE', '/v1/calls/call-dup');
  });

  it('refuses to record a leg it cannot decode (L16 at 16 kHz) with CAPSTAN_ERR_UNSUPPORTED_FORMAT', async () => {
    await api('POST', '/v1/calls', { callId: 'call-l16', legs: [{ legId: 'caller', codec: { payloadType: 96, name: 'L16', clockRate: 16000 } }] });
    expect((await api('POST', '/v1/calls/call-l16/recordings', { recordingId: 'r-l16' })).json.code).toBe('CAPSTAN_ERR_UNSUPPORTED_FORMAT');
    await api('DELETE', '/v1/calls/call-l16');
  });

  it('stops the recordings of a released call and keeps their results', async () => {
    await allocate('call-rel');
    await api('POST', '/v1/calls/call-rel/recordings', { recordingId: 'r-rel', mime: 'audio/PCMA', channels: 1 });
    await api('POST', '/v1/recordings/r-rel/pause', { mode: 'skip' });
    expect((await api('DELETE', '/v1/calls/call-rel')).status).toBe(204);
    const { json } = await api('POST', '/v1/recordings/r-rel/stop');
    expect(json).toMatchObject({ recordingId: 'r-rel', mime: 'audio/PCMA', channels: 1 });
    expect(json.samples).toBeLessThan(8 * 100); // only the moments before the pause
    expect(json.pauses).toHaveLength(1);
    expect((await api('POST', '/v1/recordings/r-rel/resume')).json.code).toBe('CAPSTAN_ERR_CONFLICT');
  });

  it('reports its load', async () => {
    const { json } = await api('GET', '/v1/health');
    expect(json).toMatchObject({ acceptsSessions: true, recovered: [] });
    expect(json.cpu).toBeGreaterThanOrEqual(0);
    expect(json.freeDiskBytes).toBeGreaterThan(0);
  });
});

describe('media server: file routes', () => {
  let result: RecordingResult;
  beforeAll(async () => {
    await allocate('call-files');
    await api('POST', '/v1/calls/call-files/recordings', { recordingId: 'r-files', mime: 'audio/PCMU', channels: 1 });
    await sleep(100);
    result = (await api('POST', '/v1/recordings/r-files/stop')).json as RecordingResult;
    await api('DELETE', '/v1/calls/call-files');
  });

  const withQuery = (uri: string, edit: (q: URLSearchParams) => void): string => {
    const u = new URL(uri);
    edit(u.searchParams);
    return u.toString();
  };

  it('refuses unsigned and tampered URIs with 403, expired ones with 401', async () => {
    const unsigned = await fetch(`${server.controlUrl}/files/${result.fileName}`);
    expect(unsigned.status).toBe(403);
    expect(((await unsigned.json()) as { code: string }).code).toBe('CAPSTAN_ERR_FORBIDDEN');
    const tampered = await fetch(withQuery(result.uri, (q) => q.set('expires', String(Number(q.get('expires')) + 1))));
    expect(tampered.status).toBe(403);
    const expired = await fetch(signFileUri(server.controlUrl, result.fileName, SECRET, -10));
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { code: string }).code).toBe('CAPSTAN_ERR_URI_EXPIRED');
  });

  it('refuses path traversal', async () => {
    const u = new URL(result.uri);
    for (const name of ['..%2F..%2Fetc%2Fpasswd', '..%2Fmedia-server.lock', '%2E%2E%2Frecordings%2F' + result.fileName]) {
      const res = await fetch(`${u.origin}/files/${name}${u.search}`);
      expect([400, 404]).toContain(res.status);
      expect(res.status).not.toBe(200);
    }
  });

  it('serves the whole file, a byte range, and HEAD', async () => {
    const whole = Buffer.from(await (await fetch(result.uri)).arrayBuffer());
    expect(whole.length).toBe(result.sizeBytes);
    const ranged = await fetch(result.uri, { headers: { range: 'bytes=4-11' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 4-11/${whole.length}`);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(whole.subarray(4, 12));
    const suffix = await fetch(result.uri, { headers: { range: 'bytes=-10' } });
    expect(Buffer.from(await suffix.arrayBuffer())).toEqual(whole.subarray(whole.length - 10));
    const beyond = await fetch(result.uri, { headers: { range: `bytes=${whole.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${whole.length}`);
    const head = await fetch(result.uri, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(whole.length));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
  });

  it('deletes the file on DELETE, then answers 404', async () => {
    expect((await fetch(result.uri, { method: 'DELETE' })).status).toBe(204);
    expect(existsSync(join(dir, 'recordings', result.fileName))).toBe(false);
    expect((await fetch(result.uri)).status).toBe(404);
    expect((await fetch(result.uri, { method: 'DELETE' })).status).toBe(404);
  });
});

describe('media server: lifecycle', () => {
  it('close() finalizes recordings in progress, is idempotent, and releases the data folder', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'media-server-close-'));
    const options = { location: 'test', id: 'ms-close', port: 0, address: '127.0.0.1', rtpAddress: '127.0.0.1', rtpPorts: [47200, 47299] as [number, number], dataDir: dir2, secret: SECRET, logLevel: 'silent' };
    try {
      const s = await runMediaServer(options);
      await expect(runMediaServer(options)).rejects.toMatchObject({ code: 'CAPSTAN_ERR_CONFIG_INVALID' }); // folder locked
      const headers = { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' };
      await fetch(`${s.controlUrl}/v1/calls`, { method: 'POST', headers, body: JSON.stringify({ callId: 'c', legs: [{ legId: 'caller', codec: PCMU }] }) });
      await fetch(`${s.controlUrl}/v1/calls/c/recordings`, { method: 'POST', headers, body: JSON.stringify({ recordingId: 'r' }) });
      await Promise.all([s.close(), s.close()]);
      await s.close();
      const files = readdirSync(join(dir2, 'recordings'));
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^r\.[0-9a-f]{12}\.wav$/);
      const again = await runMediaServer(options);
      await again.close();
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });

  it('refuses to start without a long enough secret', async () => {
    await expect(runMediaServer({ location: 'x', secret: 'short', port: 0 })).rejects.toMatchObject({ code: 'CAPSTAN_ERR_CONFIG_INVALID', details: { key: 'secret' } });
  });
});
