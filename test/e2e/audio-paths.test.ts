import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { ulawDecode, ulawEncode } from '../../media/codecs/g711.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall, waitForStoredRecordings } from '../../plugins/call-source-simulator/simulated-call.ts';
import { startTestHost } from '../helpers/host.ts';

const caller = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!;

describe('audio paths', () => {
  let host: Host;
  beforeAll(async () => {
    host = await startTestHost({ mediaServers: { embedded: 1 }, recorder: { policies: [] }, audioPaths: { default: 'dynamic', byLocation: { branch: 'always-in' } } });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('lets a dynamic call’s legs talk directly, inserts the media server when a recording starts, and takes it out when it stops', async () => {
    let recordingId = '';
    const stopped: string[] = [];
    const call = await placeSimulatedCall({
      hostUrl: host.url,
      callerAudio: caller.subarray(0, 24000),
      durationMs: 3000,
      onConnected: async (c) => {
        expect(c.audioPath).toBe('dynamic');
        expect(c.mediaServerId).toBeNull();
        // One second in, the agent starts an ad hoc recording; at two seconds, stops it.
        setTimeout(() => {
          void fetch(`${host.url}/api/v1/calls/${c.call.callId}/recordings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"requester":"client","deliverTo":"agent@example.com"}' })
            .then((r) => r.json())
            .then((r) => {
              recordingId = (r as { recordingId: string }).recordingId;
              setTimeout(() => void fetch(`${host.url}/api/v1/recordings/${recordingId}/stop`, { method: 'POST' }).then(() => stopped.push(recordingId)), 1000);
            });
        }, 1000);
      },
    });
    expect(stopped).toHaveLength(1);
    expect(call.mediaChanges.map((c) => `${c.reason}:${c.mediaServerId === null ? 'direct' : 'media server'}`)).toEqual(['recording:media server', 'no recording:direct']);
    // Before the insertion the callee heard the caller directly; after it, through the media server.
    expect(call.firstRelayedAtMs).toBeGreaterThan(900);
    expect(call.firstRelayedAtMs!).toBeLessThan(call.mediaChanges[0]!.atMs + 100);
    expect(call.packetsReceived.callee).toBeGreaterThan(140);

    // The recording holds what was said while the media server was in the path, sample-exact.
    const { readdirSync, existsSync } = await import('node:fs');
    const dir = `${host.config.dataDir}/outbox`;
    for (let i = 0; i < 100 && !(existsSync(dir) && readdirSync(dir).length > 0); i++) await new Promise((r) => setTimeout(r, 100));
    const outbox = readdirSync(dir);
    expect(outbox.length).toBe(1);
    const { simpleParser } = await import('mailparser');
    const mail = await simpleParser(readFileSync(`${host.config.dataDir}/outbox/${outbox[0]}`));
    const wav = readPcm8k(mail.attachments[0]!.content);
    const got = wav.channels[0]!;
    const expected = ulawDecode(ulawEncode(caller.subarray(0, 24000)));
    // Find where the recorded audio sits in what was sent: one 20 ms packet of it, exactly.
    const firstAudio = got.findIndex((v, i) => i > 800 && v !== 0);
    const probe = got.subarray(firstAudio, firstAudio + 160);
    let at = -1;
    for (let k = 0; k + 160 <= expected.length && at < 0; k++) if (expected.subarray(k, k + 160).every((v, i) => v === probe[i])) at = k;
    expect(at).toBeGreaterThan(7000);
    const span = Math.min(got.length - firstAudio, 5600);
    expect(Array.from(got.subarray(firstAudio, firstAudio + span))).toEqual(Array.from(expected.subarray(at, at + span)));
  });

  it('puts a media server in an always-in location’s calls from the first packet', async () => {
    const call = await placeSimulatedCall({
      hostUrl: host.url,
      callerAudio: caller.subarray(0, 8000),
      durationMs: 1000,
      onConnected: async (c) => {
        expect(c.audioPath).toBe('always-in');
        expect(c.mediaServerId).not.toBeNull();
      },
      location: 'branch',
    });
    expect(call.mediaChanges).toEqual([]);
    expect(call.firstRelayedAtMs).toBeLessThan(60);
    await waitForStoredRecordings(host.url, call.callId);
  });
});
