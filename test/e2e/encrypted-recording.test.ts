import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { listKeys } from '../../core/keys/index.ts';
import { ulawDecode, ulawEncode } from '../../media/codecs/g711.ts';
import { inspectSasf } from '../../media/sasf/index.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall, waitForStoredRecordings } from '../../plugins/call-source-simulator/simulated-call.ts';
import { startTestHost } from '../helpers/host.ts';

describe('a Recorder configured to encrypt', () => {
  let host: Host;
  beforeAll(async () => {
    host = await startTestHost({ mediaServers: { embedded: 1 }, recorder: { encryption: { enabled: true } } });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('generates its key on first start, private key readable by the owner only', async () => {
    const keys = await listKeys(join(host.config.dataDir, 'keys'));
    expect(keys).toHaveLength(1);
    expect(keys[0]!.active).toBe(true);
    expect(statSync(keys[0]!.privateKeyPath).mode & 0o777).toBe(0o600);
  });

  it('has the media server write SASF under an unguessable name, stores it encrypted, and plays it back decrypted', async () => {
    const caller = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!.subarray(0, 16000);
    const call = await placeSimulatedCall({ hostUrl: host.url, callerAudio: caller, durationMs: 2000 });
    const started = call.recordings[0]!;
    expect(started.fileName).toMatch(/^[0-9a-f]{32}\.sasf$/);
    expect(started.fileName).not.toContain(started.recordingId);
    await waitForStoredRecordings(host.url, call.callId);

    const meta = (await (await fetch(`${host.url}/api/v1/recordings/${started.recordingId}`)).json()) as { mediaPath: string; keyId: string; mime: string };
    const [key] = await listKeys(join(host.config.dataDir, 'keys'));
    expect(meta.keyId).toBe(key!.keyId);
    expect(meta.mediaPath).toMatch(/\.sasf$/);

    // At rest: ciphertext bound to the Recorder's key, no WAV anywhere in it.
    const stored = readFileSync(join(host.config.dataDir, 'store', meta.mediaPath));
    expect(stored.includes(Buffer.from('RIFF'))).toBe(false);
    const inspection = await inspectSasf(stored);
    expect(inspection).toMatchObject({ keyId: key!.keyId, recordingId: started.recordingId, mimeType: 'audio/L16', complete: true });

    // Playback: the exact audio the caller sent.
    const audio = await fetch(`${host.url}/api/v1/recordings/${started.recordingId}/audio`);
    expect(audio.headers.get('content-type')).toBe('audio/wav');
    const wav = readPcm8k(new Uint8Array(await audio.arrayBuffer()));
    const expected = ulawDecode(ulawEncode(caller));
    const left = wav.channels[0]!;
    const offset = left.findIndex((v) => v !== 0) - expected.findIndex((v) => v !== 0);
    expect(Array.from(left.subarray(offset, offset + expected.length))).toEqual(Array.from(expected));

    // The media server keeps nothing.
    const msFiles = readdirSync(join(host.config.dataDir, 'media-servers'), { recursive: true }).map(String);
    expect(msFiles.filter((f) => f.endsWith('.sasf'))).toEqual([]);

    const ranged = await fetch(`${host.url}/api/v1/recordings/${started.recordingId}/audio`, { headers: { range: 'bytes=0-3' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).toString()).toBe('RIFF');
  });
});
