/**
 * bench/failover: the audio a recording loses when its media server is SIGKILLed mid-call. Each
 * run records a call on one of two embedded media servers, kills that server's process two
 * seconds in, and lets the call go on. Reported per run, from the stored recording once the dead
 * server is back and its partial segment recovered:
 * - the marked gap (end of the recovered audio → start of the next segment): what is really lost;
 * - the failover time (kill → next segment recording on the other server);
 * - how long until the recording was whole again (every segment stored).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../core/config/load-config.ts';
import { Host } from '../core/host.ts';
import { createLogger } from '../core/logger.ts';
import { readPcm8k } from '../media/wav/wav-reader.ts';
import { placeSimulatedCall } from '../plugins/call-source-simulator/simulated-call.ts';

export interface FailoverBenchResult {
  runs: number;
  gapP50Ms: number;
  gapMaxMs: number;
  failoverP50Ms: number;
  failoverMaxMs: number;
  wholeAgainP50Ms: number;
}

interface Recording {
  startedAt: string;
  mediaServerId: string;
  segments: { status: string; startMs: number }[];
  gaps: { startMs: number; endMs: number }[];
}

export async function benchFailover(runs = 5): Promise<FailoverBenchResult> {
  const host = await Host.start(
    parseConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'capstan-bench-failover-')),
      http: { port: 0 },
      sip: { enabled: false },
      logLevel: 'error',
      mediaServers: { embedded: 2, rtpPorts: '46400-46599' },
      mail: { agents: {} },
      audioPaths: { default: 'always-in' },
    }),
    { logger: createLogger({ level: 'fatal', fd: 2 }) },
  );
  const audio = readPcm8k(readFileSync(new URL('../examples/audio/caller.wav', import.meta.url))).channels[0]!;
  const gaps: number[] = [];
  const failovers: number[] = [];
  const whole: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      let recordingId = '';
      const call = placeSimulatedCall({ hostUrl: host.url, callerAudio: audio, durationMs: 4000, onConnected: async (c) => void (recordingId = c.recordings[0]!.recordingId) });
      await new Promise((r) => setTimeout(r, 2000));
      const get = async () => (await (await fetch(`${host.url}/api/v1/recordings/${recordingId}`)).json()) as Recording;
      const victim = (await get()).mediaServerId;
      // The other server must be up (a previous run's victim restarts after about a second).
      while (!host.registry.list().every((s) => s.state === 'up')) await new Promise((r) => setTimeout(r, 50));
      const killedAt = Date.now();
      process.kill(host.embedded!.pidOf(victim)!, 'SIGKILL');
      await call;
      let rec = await get();
      while (!(rec.segments.length === 2 && rec.segments.every((s) => s.status === 'stored'))) {
        await new Promise((r) => setTimeout(r, 50));
        rec = await get();
      }
      whole.push(Date.now() - killedAt);
      const gap = rec.gaps[0]!;
      gaps.push(gap.endMs - gap.startMs);
      failovers.push(Date.parse(rec.startedAt) + rec.segments[1]!.startMs - killedAt);
    }
  } finally {
    await host.close();
  }
  const q = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]!);
  };
  return { runs, gapP50Ms: q(gaps, 0.5), gapMaxMs: q(gaps, 1), failoverP50Ms: q(failovers, 0.5), failoverMaxMs: q(failovers, 1), wholeAgainP50Ms: q(whole, 0.5) };
}
