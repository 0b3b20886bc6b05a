import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ulawDecode } from '../../../media/codecs/g711.ts';
import { PlainFileSink } from '../../../media/recording/file-sink.ts';
import { Recording, type RecordingOptions } from '../../../media/recording/recording.ts';
import { parseWav } from '../../../media/wav/wav-reader.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'recording-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A clock the test moves by hand; the recording's timer still runs for real, every 5 ms. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 10_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function make(clock: () => number, extra: Partial<RecordingOptions> = {}): Recording {
  return new Recording({
    recordingId: 'rec-1',
    path: join(dir, 'rec-1.abc.wav'),
    mime: 'audio/L16',
    channels: 2,
    legs: ['caller', 'callee'],
    signUri: (name) => `http://127.0.0.1:1/files/${name}?expires=1&sig=x`,
    tickMs: 5,
    clock,
    ...extra,
  });
}

const packet = (seq: number, value: number) => ({ ssrc: 1, sequenceNumber: seq, timestamp: seq * 160, samples: new Int16Array(160).fill(value) });

describe('Recording', () => {
  it('writes exactly the wall-clock span from start to stop, legs on their channels', async () => {
    const clock = manualClock();
    const rec = make(clock.now);
    await rec.open();
    for (let i = 0; i < 25; i++) {
      rec.push('caller', packet(i, 1000 + i), clock.now());
      if (i >= 5) rec.push('callee', packet(i, -1000 - i), clock.now());
      clock.advance(20);
      await sleep(1);
    }
    clock.advance(7.5); // stop between packets: 500 + 7.5 ms → 4060 frames
    const result = await rec.stop();
    expect(result).toMatchObject({ recordingId: 'rec-1', fileName: 'rec-1.abc.wav', mime: 'audio/L16', channels: 2, sampleRate: 8000, samples: 4060, durationMs: 507.5 });
    const buf = readFileSync(join(dir, 'rec-1.abc.wav'));
    expect(result.sizeBytes).toBe(buf.length);
    expect(result.sha256).toBe(createHash('sha256').update(buf).digest('hex'));
    const info = parseWav(buf);
    expect(info.frames).toBe(4060);
    const frame = (i: number): [number, number] => [buf.readInt16LE(info.dataOffset + 4 * i), buf.readInt16LE(info.dataOffset + 4 * i + 2)];
    expect(frame(0)).toEqual([1000, 0]);
    expect(frame(160 * 5)).toEqual([1005, -1005]);
    expect(frame(160 * 24 + 159)).toEqual([1024, -1024]);
    expect(frame(4059)).toEqual([0, 0]);
    expect(result.stats).toMatchObject({ caller: { placed: 25, late: 0 }, callee: { placed: 20 } });
  });

  it('keeps the last packet received before the stop whole, even when it reaches past the stop', async () => {
    const clock = manualClock();
    const rec = make(clock.now);
    await rec.open();
    for (let i = 0; i < 5; i++) {
      rec.push('caller', packet(i, 2000 + i), clock.now());
      if (i < 4) clock.advance(20);
    }
    // The 5th packet arrived at 80 ms and covers 80–100 ms; the call hangs up at 85 ms.
    clock.advance(5);
    const result = await rec.stop();
    expect(result.samples).toBe(800);
    const buf = readFileSync(join(dir, 'rec-1.abc.wav'));
    const info = parseWav(buf);
    expect(buf.readInt16LE(info.dataOffset + 4 * 799)).toBe(2004);
  });

  it('does not stretch a recording for audio far past the stop', async () => {
    const clock = manualClock();
    const rec = make(clock.now);
    await rec.open();
    // A packet whose timestamp puts it 100 ms ahead of its arrival (a jumpy sender).
    rec.push('caller', packet(0, 1), clock.now());
    rec.push('caller', { ...packet(1, 1), timestamp: 160 * 6 }, clock.now());
    clock.advance(10);
    const result = await rec.stop();
    expect(result.samples).toBe(80 + 480);
  });

  it('writes G.711 files when asked', async () => {
    const clock = manualClock();
    const rec = make(clock.now, { mime: 'audio/PCMU', channels: 1 });
    await rec.open();
    rec.push('caller', packet(0, 5000), clock.now());
    clock.advance(20);
    const result = await rec.stop();
    const info = parseWav(readFileSync(join(dir, 'rec-1.abc.wav')));
    expect(info).toMatchObject({ formatTag: 7, channels: 1, frames: 160, factFrames: 160 });
    expect(Math.abs(ulawDecode(info.data)[0]! - 5000)).toBeLessThan(200);
    expect(result.mime).toBe('audio/PCMU');
  });

  it('keeps the file valid on disk while recording, up to the last flush', async () => {
    const clock = manualClock();
    const rec = make(clock.now, { flushIntervalMs: 100, jitterDelayMs: 100 });
    await rec.open();
    clock.advance(400);
    await sleep(60);
    const part = parseWav(readFileSync(join(dir, 'rec-1.abc.wav.part')));
    expect(part.declaredDataBytes).toBe(2400 * 4); // (400 - 100 ms jitter delay) × 8 frames × 4 bytes
    await rec.stop();
    expect(existsSync(join(dir, 'rec-1.abc.wav.part'))).toBe(false);
  });

  it('flushes at most a flush interval apart, not a write interval more, when ticks come a little early', async () => {
    // The write timer is faked so each tick happens exactly when the test says, the clock 249 ms on each time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      let t = 10_000;
      const flushedAt: number[] = [];
      const rec = make(() => t, {
        tickMs: 250,
        flushIntervalMs: 1000,
        openSink: async (path) => {
          const sink = await PlainFileSink.create(path);
          const sync = sink.sync.bind(sink);
          sink.sync = () => {
            flushedAt.push(t);
            return sync();
          };
          return sink;
        },
      });
      await rec.open();
      flushedAt.length = 0; // the header's sync at creation
      for (let i = 0; i < 17; i++) {
        t += 249;
        vi.advanceTimersByTime(250);
        await sleep(20); // the queued writes and syncs run before the clock moves on
      }
      const gaps = flushedAt.map((at, k) => at - (k === 0 ? 10_000 : flushedAt[k - 1]!));
      // 4 ticks of 249 ms: 996 ms apart. Waiting for a full second would make it 1245.
      expect(gaps).toEqual([996, 996, 996, 996]);
      await rec.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('records pauses: silence keeps the length, skip shortens the file; both are marked', async () => {
    const clock = manualClock();
    const rec = make(clock.now, { channels: 1 });
    await rec.open();
    clock.advance(100);
    rec.pause('silence');
    clock.advance(100);
    rec.resume();
    clock.advance(100);
    rec.pause('skip');
    clock.advance(200);
    rec.resume();
    clock.advance(100);
    const result = await rec.stop();
    expect(result.samples).toBe(8 * 400);
    expect(result.pauses).toEqual([
      { mode: 'silence', startMs: 100, endMs: 200, fileMs: 100 },
      { mode: 'skip', startMs: 300, endMs: 500, fileMs: 300 },
    ]);
  });

  it('closes a pause still open at the stop', async () => {
    const clock = manualClock();
    const rec = make(clock.now);
    await rec.open();
    clock.advance(100);
    rec.pause('skip');
    clock.advance(100);
    const result = await rec.stop();
    expect(result.samples).toBe(800);
    expect(result.pauses).toEqual([{ mode: 'skip', startMs: 100, endMs: 200, fileMs: 100 }]);
  });

  it('answers a repeated stop with the same result and refuses pause after stop', async () => {
    const clock = manualClock();
    const rec = make(clock.now);
    await rec.open();
    clock.advance(50);
    const [a, b] = await Promise.all([rec.stop(), rec.stop()]);
    expect(b).toBe(a);
    expect(await rec.stop()).toBe(a);
    expect(() => rec.pause('skip')).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_CONFLICT' }));
  });
});
