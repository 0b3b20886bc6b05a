/**
 * bench/insertion: how long a dynamic call takes to get its media server into the audio path —
 * from the recording request to the callee's first packet of the caller's audio relayed by the
 * media server (selection, allocation, the re-pointing message to the call source, and up to one
 * 20 ms packet interval of waiting for the next packet). The classic suites document 0.5 s; the
 * goal is under 100 ms.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../core/config/load-config.ts';
import { Host } from '../core/host.ts';
import { createLogger } from '../core/logger.ts';
import { readPcm8k } from '../media/wav/wav-reader.ts';
import { placeSimulatedCall } from '../plugins/call-source-simulator/simulated-call.ts';

export interface InsertionBenchResult {
  calls: number;
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
}

export async function benchInsertion(calls = 20): Promise<InsertionBenchResult> {
  const host = await Host.start(
    parseConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'capstan-bench-insertion-')),
      http: { port: 0 },
      sip: { enabled: false },
      logLevel: 'error',
      mediaServers: { embedded: 1, rtpPorts: '46000-46199' },
      recorder: { policies: [] },
      mail: { agents: {} },
      audioPaths: { default: 'dynamic' },
    }),
    { logger: createLogger({ level: 'error', fd: 2 }) },
  );
  const audio = readPcm8k(readFileSync(new URL('../examples/audio/caller.wav', import.meta.url))).channels[0]!;
  const delays: number[] = [];
  try {
    for (let i = 0; i < calls; i++) {
      let requestedAt = 0;
      const r = await placeSimulatedCall({
        hostUrl: host.url,
        callerAudio: audio,
        durationMs: 800,
        onConnected: async (c) => {
          setTimeout(() => {
            requestedAt = performance.now();
            void fetch(`${host.url}/api/v1/calls/${c.call.callId}/recordings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"requester":"handler","deliverTo":"bench@example.com"}' });
          }, 300);
        },
      });
      if (r.firstRelayedAtMs === null) throw new Error('the media server never got into the audio path');
      delays.push(r.firstPacketAt + r.firstRelayedAtMs - requestedAt);
    }
  } finally {
    await host.close();
  }
  delays.sort((a, b) => a - b);
  const q = (p: number) => Math.round(delays[Math.min(delays.length - 1, Math.floor(p * delays.length))]! * 10) / 10;
  return { calls, p50Ms: q(0.5), p90Ms: q(0.9), maxMs: q(1) };
}
