/**
 * A 30 s one-way hold over real UDP: the caller is put on hold and sends nothing for 30 s while the
 * callee goes on talking; then the caller comes back. The recording must stay as long as the call,
 * with silence on the held side and every packet of the other side in place.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ulawDecode } from '../../../media/codecs/g711.ts';
import { RecordingResult, type AllocateCallResponse } from '../../../media/control-api.ts';
import { runMediaServer, type MediaServer } from '../../../media/server/main.ts';
import { controlApi } from './control-api-client.ts';
import { randomPayloads, RtpParty } from './rtp-party.ts';
import { stereoChannels } from './wav-channels.ts';

const SECRET = 'one-way-hold-secret';
let dir: string;
let server: MediaServer;
const api = controlApi(() => server.controlUrl, SECRET);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'one-way-hold-'));
  server = await runMediaServer({ location: 'test', id: 'ms-hold', port: 0, address: '127.0.0.1', rtpAddress: '127.0.0.1', rtpPorts: [47700, 47719], dataDir: dir, secret: SECRET, logLevel: 'silent' });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Where `needle` starts in `haystack`, sample for sample, or -1. */
function find(haystack: Int16Array, needle: Int16Array): number {
  outer: for (let k = 0; k + needle.length <= haystack.length; k++) {
    for (let i = 0; i < needle.length; i++) if (haystack[k + i] !== needle[i]) continue outer;
    return k;
  }
  return -1;
}

describe('media server: a 30 s one-way hold', () => {
  it('keeps the recording as long as the call: silence on the held side, every packet of the other side in place', async () => {
    const [caller, callee] = await Promise.all([RtpParty.open(), RtpParty.open()]);
    try {
      const legs = [
        { legId: 'caller', codec: { payloadType: 0, name: 'PCMU' }, remote: caller.endpoint },
        { legId: 'callee', codec: { payloadType: 0, name: 'PCMU' }, remote: callee.endpoint },
      ];
      const allocated = (await api('POST', '/v1/calls', { callId: 'c-hold', legs })).json as AllocateCallResponse;
      const ports = Object.fromEntries(allocated.legs.map((l) => [l.legId, l.rtp.port]));
      expect((await api('POST', '/v1/calls/c-hold/recordings', { recordingId: 'r-hold', mime: 'audio/L16', channels: 2 })).status).toBe(200);
      const t0 = performance.now();

      // 2 s talk, 30 s hold (caller silent: no packets at all), 2 s talk = 1 700 packets of 20 ms.
      const TALK = 100;
      const HOLD = 1500;
      const before = randomPayloads(TALK, 11);
      const after = randomPayloads(TALK, 12);
      const other = randomPayloads(TALK + HOLD + TALK, 13);
      const callerSide = (async () => {
        await caller.play(before, ports.caller!, { ssrc: 0x1111, seq0: 100, ts0: 8000 });
        await sleep(t0 + (TALK + HOLD) * 20 - performance.now());
        // Back from hold: the RTP clock went on running (as real phones' do), the sequence did not.
        await caller.play(after, ports.caller!, { ssrc: 0x1111, seq0: 100 + TALK, ts0: 8000 + 160 * (TALK + HOLD) });
      })();
      await Promise.all([callerSide, callee.play(other, ports.callee!, { ssrc: 0x2222, seq0: 5000, ts0: 90_000 })]);
      await sleep(40);
      const wallMs = performance.now() - t0;
      const stopped = await api('POST', '/v1/recordings/r-hold/stop');
      const result = RecordingResult.parse(stopped.json);

      // As long as the call, to within a packet and the stop request's own time.
      expect(result.durationMs).toBeGreaterThanOrEqual(wallMs - 40);
      expect(result.durationMs).toBeLessThanOrEqual(performance.now() - t0 + 40);

      const { left, right } = stereoChannels(Buffer.from(await (await fetch(result.uri)).arrayBuffer()));
      // The other side: all 34 s, contiguous and exact.
      const otherPcm = ulawDecode(Buffer.concat(other));
      const r0 = find(right.subarray(0, 3200), otherPcm.subarray(0, 160));
      expect(r0).toBeGreaterThanOrEqual(0);
      expect(right.subarray(r0, r0 + otherPcm.length)).toEqual(otherPcm);
      // The held side: its 2 s, then exactly 30 s of silence, then its 2 s, each where its RTP clock puts it.
      const beforePcm = ulawDecode(Buffer.concat(before));
      const afterPcm = ulawDecode(Buffer.concat(after));
      const l0 = find(left.subarray(0, 3200), beforePcm.subarray(0, 160));
      expect(l0).toBeGreaterThanOrEqual(0);
      expect(left.subarray(l0, l0 + beforePcm.length)).toEqual(beforePcm);
      const holdStart = l0 + beforePcm.length;
      const holdEnd = l0 + 160 * (TALK + HOLD);
      expect(left.subarray(holdStart, holdEnd).every((v) => v === 0)).toBe(true);
      expect(left.subarray(holdEnd, holdEnd + afterPcm.length)).toEqual(afterPcm);
      // Both sides started together and stayed aligned over the hold.
      expect(Math.abs(l0 - r0)).toBeLessThanOrEqual(160);
      expect(result.stats).toMatchObject({ caller: { placed: 2 * TALK, late: 0 }, callee: { placed: TALK + HOLD + TALK, late: 0 } });
      await api('DELETE', '/v1/calls/c-hold');
    } finally {
      caller.close();
      callee.close();
    }
  }, 60_000);
});
