import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall, waitForStoredRecordings, type CallCreated } from '../../plugins/call-source-simulator/simulated-call.ts';
import { startHostProcess, type HostProcess } from '../helpers/host-process.ts';
import { startRcsProcess, type RcsProcess } from '../helpers/rcs-process.ts';
import { until } from '../helpers/until.ts';
import { freeTcpPort } from '../helpers/free-port.ts';

const caller = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!.subarray(0, 16000);

/** Every file under `dir` (relative paths), skipping the media servers' data-folder locks. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith('.lock'))
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}


/**
 * Places a call whose recording's completion kills the host (the fault point fires while the
 * Recorder stores it). The hang-up may or may not have been answered by then.
 */
async function callUntilTheHostDies(host: HostProcess): Promise<CallCreated> {
  let created: CallCreated | null = null;
  await placeSimulatedCall({
    hostUrl: host.url,
    callerAudio: caller,
    durationMs: 1500,
    onConnected: async (c) => {
      created = c;
    },
  }).catch(() => undefined);
  const code = await host.exited;
  expect(code, 'the host died by SIGKILL at the fault point').toBeNull();
  expect(host.proc.signalCode).toBe('SIGKILL');
  return created!;
}

const processes: { kill: () => void; exited: Promise<unknown> }[] = [];
afterEach(async () => {
  for (const p of processes.splice(0)) {
    p.kill();
    await p.exited;
  }
});
const track = <T extends HostProcess | RcsProcess>(p: T): T => {
  processes.push({ kill: () => p.proc.kill('SIGTERM'), exited: p.exited });
  return p;
};

describe('a host SIGKILLed while the Recorder stores a recording', () => {
  const rtpBase = 47000 + (process.pid % 20) * 60;

  for (const point of ['recorder.after-fetch', 'recorder.after-commit'] as const) {
    it(`stores it exactly once after a restart, and leaves the media server clean (killed at ${point})`, async () => {
      const first = await startHostProcess(rtpBase, { env: { CAPSTAN_FAULT_KILL_AT: point } });
      const call = await callUntilTheHostDies(first);
      const recordingId = call.recordings[0]!.recordingId;
      const store = join(first.dir, 'var', 'store');
      if (point === 'recorder.after-fetch') {
        // Fetched and verified into a .part, never committed: nothing looks stored.
        expect(files(store).filter((f) => !f.endsWith('.part'))).toEqual([]);
      }

      // The same folder, started again without the fault: it resumes what was left.
      const second = track(await startHostProcess(rtpBase, { dir: first.dir }));
      const stored = await waitForStoredRecordings(second.url, call.call.callId);
      expect(stored.map((r) => `${r.id}:${r.status}`)).toEqual([`${recordingId}:stored`]);
      const { items, total } = (await (await fetch(`${second.url}/api/v1/recordings`)).json()) as { items: { id: string; sha256: string; mediaPath: string }[]; total: number };
      expect(total).toBe(1);

      // One file in the Recorder's store, complete and matching its checksum; no leftovers.
      expect(files(store)).toEqual([items[0]!.mediaPath]);
      expect(createHash('sha256').update(readFileSync(join(store, items[0]!.mediaPath))).digest('hex')).toBe(items[0]!.sha256);
      // The media servers' folders hold no recording any more.
      await until(() => files(join(first.dir, 'var', 'media-servers')).filter((f) => /\.(wav|part|opus|sasf)$/.test(f)), (left) => left.length === 0, 10_000);
    }, 90_000);
  }

  for (const point of ['recorder.after-rcs-fetch', 'recorder.after-commit'] as const) {
    it(`stores a Remote Content Service recording exactly once after a restart (killed at ${point})`, async () => {
      const port = await freeTcpPort();
      const config = { http: { port }, recorder: { policies: [{ name: 'remote', keep: 'rcs' }] } };
      const first = await startHostProcess(rtpBase + 20, { env: { CAPSTAN_FAULT_KILL_AT: point }, config });
      const secret = readFileSync(join(first.dir, 'var', 'secret'), 'utf8').trim();
      const rcs = track(await startRcsProcess({ hostUrl: first.url, secret, id: 'rcs-main', locations: ['default'] }));
      const call = await callUntilTheHostDies(first);
      const recordingId = call.recordings[0]!.recordingId;

      const second = track(await startHostProcess(rtpBase + 20, { dir: first.dir, config }));
      const stored = await waitForStoredRecordings(second.url, call.call.callId, 30_000);
      expect(stored.map((r) => `${r.id}:${r.status}`)).toEqual([`${recordingId}:stored`]);
      const { items, total } = (await (await fetch(`${second.url}/api/v1/recordings`)).json()) as {
        items: { mediaLocation: string; mediaPath: string; sha256: string }[];
        total: number;
      };
      expect(total).toBe(1);
      expect(items[0]!.mediaLocation).toBe('rcs:rcs-main');
      // Exactly one copy, on the RCS server; none in the Recorder's store; the media servers clean.
      expect(files(rcs.dir)).toEqual([items[0]!.mediaPath]);
      expect(createHash('sha256').update(readFileSync(join(rcs.dir, items[0]!.mediaPath))).digest('hex')).toBe(items[0]!.sha256);
      expect(files(join(first.dir, 'var', 'store'))).toEqual([]);
      await until(() => files(join(first.dir, 'var', 'media-servers')).filter((f) => /\.(wav|part|opus|sasf)$/.test(f)), (left) => left.length === 0, 10_000);
    }, 90_000);
  }
});
