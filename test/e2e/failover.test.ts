import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { simpleParser } from 'mailparser';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall } from '../../plugins/call-source-simulator/simulated-call.ts';
import { alignedCorrelation } from '../helpers/audio-quality.ts';
import { ffmpegDecode } from '../helpers/ffmpeg-audio.ts';
import { startTestHost } from '../helpers/host.ts';
import { until } from '../helpers/until.ts';

const caller = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!;
const CALL_MS = 8000;
const KILL_AT_MS = 3500;

interface Recording {
  id: string;
  startedAt: string;
  mediaServerId: string;
  segments: { index: number; id: string; status: string; mediaServerId: string; startMs: number; durationMs: number | null; recovered: boolean }[];
  gaps: { afterSegment: number; startMs: number; endMs: number; reason: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let host: Host | null = null;
afterEach(async () => {
  await host?.close();
  host = null;
});

describe('a media server SIGKILLed during a recorded call', () => {
  for (const audioPath of ['always-in', 'dynamic'] as const) {
    it(`goes on recording on another server (${audioPath}): two segments, a marked gap of at most 1 s, the dead server’s part recovered, nothing else missing`, async () => {
      host = await startTestHost({ audioPaths: { default: audioPath }, recorder: { policies: audioPath === 'dynamic' ? [] : [{ name: 'all' }] } });
      const h = host;
      let recordingId = '';
      let callStartedAt = 0;
      let victim = '';
      const call = placeSimulatedCall({
        hostUrl: h.url,
        callerAudio: caller.subarray(0, (CALL_MS / 1000) * 8000),
        durationMs: CALL_MS,
        onConnected: async (c) => {
          callStartedAt = Date.parse(((await (await fetch(`${h.url}/api/v1/calls/${c.call.callId}`)).json()) as { startedAt: string }).startedAt);
          if (audioPath === 'always-in') {
            recordingId = c.recordings[0]!.recordingId;
            return;
          }
          // Dynamic: the legs talk directly until the Recorder asks, a second in.
          expect(c.mediaServerId).toBeNull();
          setTimeout(() => {
            void fetch(`${h.url}/api/v1/calls/${c.call.callId}/recordings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"requester":"recorder"}' })
              .then((r) => r.json())
              .then((r) => (recordingId = (r as { recordingId: string }).recordingId));
          }, 1000);
        },
      });
      await sleep(KILL_AT_MS);
      const before = (await (await fetch(`${h.url}/api/v1/recordings/${recordingId}`)).json()) as Recording;
      victim = before.mediaServerId;
      process.kill(h.embedded!.pidOf(victim)!, 'SIGKILL');
      const placed = await call;
      // The parties were re-pointed twice in the dynamic case (insertion, failover), once always-in.
      expect(placed.mediaChanges.filter((m) => m.reason.startsWith('failover'))).toHaveLength(1);

      // The dead server is restarted by the host; its partial segment is recovered and stored.
      const rec = await until(
        async () => (await (await fetch(`${h.url}/api/v1/recordings/${recordingId}`)).json()) as Recording,
        (r) => r.segments?.length === 2 && r.segments.every((s) => s.status === 'stored'),
        40_000,
      );
      const [first, second] = rec.segments;
      expect(first!.mediaServerId).toBe(victim);
      expect(second!.mediaServerId).not.toBe(victim);
      expect(first!.recovered).toBe(true);
      expect(rec.gaps).toHaveLength(1);
      const gap = rec.gaps[0]!;
      expect(gap.afterSegment).toBe(0);
      expect(gap.reason).toContain(victim);
      expect(gap.endMs - gap.startMs).toBeGreaterThanOrEqual(0);
      expect(gap.endMs - gap.startMs).toBeLessThanOrEqual(1000);
      // The gap sits where the first segment's audio ends and the second's begins.
      expect(gap.startMs).toBeCloseTo(first!.durationMs!, -1);
      expect(gap.endMs).toBe(second!.startMs);

      // Each segment holds the caller's audio of its own stretch of the call (ffmpeg decodes them).
      const recordingOffsetMs = Date.parse(rec.startedAt) - callStartedAt;
      const dir = mkdtempSync(join(tmpdir(), 'capstan-failover-'));
      let coveredMs = 0;
      for (const segment of [first!, second!]) {
        const file = join(dir, `${segment.index}.wav`);
        writeFileSync(file, Buffer.from(await (await fetch(`${h.url}/api/v1/recordings/${recordingId}/audio?segment=${segment.index}`)).arrayBuffer()));
        const [left] = ffmpegDecode(file, 2);
        const from = Math.round(((recordingOffsetMs + segment.startMs) / 1000) * 8000);
        // One second of the segment, one second in, against the caller's audio at that moment.
        // Found within a second either way of where the clocks put it (a loaded machine skews them).
        const piece = left!.subarray(8000, 16000);
        const around = caller.subarray(Math.max(0, from - 8000), from + 32000);
        expect(alignedCorrelation(piece, around, around.length, piece.length).correlation, `segment ${segment.index}`).toBeGreaterThan(0.9);
        coveredMs += segment.durationMs!;
      }
      // Segments plus gap span the recording: from its start to the hang-up.
      const recordingMs = CALL_MS - recordingOffsetMs;
      expect(coveredMs + (gap.endMs - gap.startMs)).toBeGreaterThan(recordingMs - 300);
      expect(second!.startMs + second!.durationMs!).toBeLessThan(recordingMs + 500);
    }, 90_000);
  }

  it('mails an agent’s ad hoc recording in both its parts: the one recovered from the dead server and the one recorded after it', async () => {
    host = await startTestHost({ recorder: { policies: [] }, mail: { agents: { alice: 'alice@example.com' } } });
    const h = host;
    let recordingId = '';
    const call = placeSimulatedCall({
      hostUrl: h.url,
      callerAudio: caller.subarray(0, (CALL_MS / 1000) * 8000),
      durationMs: CALL_MS,
      agent: 'alice',
      onConnected: async (c) => {
        const r = await fetch(`${h.url}/api/v1/calls/${c.call.callId}/recordings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"requester":"client"}' });
        recordingId = ((await r.json()) as { recordingId: string }).recordingId;
      },
    });
    await sleep(KILL_AT_MS);
    const victim = ((await (await fetch(`${h.url}/api/v1/calls`)).json()) as { items: { mediaServerId: string }[] }).items[0]!.mediaServerId;
    process.kill(h.embedded!.pidOf(victim)!, 'SIGKILL');
    await call;

    // Two mails to the agent: the recording's first part (recovered once the dead server is back) and its second.
    const outbox = join(h.config.dataDir, 'outbox');
    const files = await until(() => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith('.eml')) : []), (f) => f.length === 2, 40_000);
    const mails = await Promise.all(files.map(async (f) => simpleParser(readFileSync(join(outbox, f)))));
    const byPart = mails.sort((a, b) => (a.subject ?? '').length - (b.subject ?? '').length);
    expect(byPart.map((m) => (m.to as { text: string }).text)).toEqual(['alice@example.com', 'alice@example.com']);
    expect(byPart[0]!.subject).not.toContain('part');
    expect(byPart[1]!.subject).toContain('(part 2)');
    expect(byPart[1]!.text).toMatch(/Part 2 of the recording: its media server failed during the call .* \d+ ms of audio missing before this part/);
    expect(byPart[0]!.attachments[0]!.filename).toBe(`recording-${recordingId}.wav`);
    expect(byPart[1]!.attachments[0]!.filename).toBe(`recording-${recordingId}-s1.wav`);
    // Each part is the caller's audio of its stretch, about where the kill split the call.
    const dir = mkdtempSync(join(tmpdir(), 'capstan-failover-mail-'));
    const lengths: number[] = [];
    for (const [i, mail] of byPart.entries()) {
      const file = join(dir, `part-${i}.wav`);
      writeFileSync(file, mail.attachments[0]!.content);
      const [left] = ffmpegDecode(file, 2);
      lengths.push(left!.length / 8);
      const piece = left!.subarray(4000, 12000);
      expect(alignedCorrelation(piece, caller.subarray(0, (CALL_MS / 1000) * 8000), 64000, piece.length).correlation, `part ${i + 1}`).toBeGreaterThan(0.9);
    }
    expect(lengths[0]).toBeGreaterThan(KILL_AT_MS - 1500);
    expect(lengths[0]! + lengths[1]!).toBeGreaterThan(CALL_MS - 1500);
    // The copy kept for supervisors (mail.keepCopy) is one recording of both segments.
    const kept = await until(
      async () => (await (await fetch(`${h.url}/api/v1/recordings/${recordingId}`)).json()) as Recording,
      (r) => r.segments?.length === 2 && r.segments.every((seg) => seg.status === 'stored'),
      20_000,
    );
    expect(kept.segments.map((seg) => seg.id)).toEqual([recordingId, `${recordingId}-s1`]);
    // With the gap between them marked, at most a second.
    const marked = await until(async () => (await (await fetch(`${h.url}/api/v1/recordings/${recordingId}`)).json()) as Recording, (r) => r.gaps.length === 1, 10_000);
    expect(marked.gaps[0]!.afterSegment).toBe(0);
    expect(marked.gaps[0]!.endMs - marked.gaps[0]!.startMs).toBeLessThanOrEqual(1000);
  }, 90_000);
});
