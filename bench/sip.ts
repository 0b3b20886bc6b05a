/**
 * bench/sip: SIP calls through the B2BUA with sipp as the load, caller (`uac`, `uac_pcap`) and
 * callee (`uas`) on this machine.
 * - Set-up rate: N short calls (1 s, no recording) placed at a given rate; the rate passes when
 *   every call is set up and torn down (sipp exits 0). Reported: the highest rate that passed.
 * - Concurrent recorded calls: N calls at once, each playing sipp's G.711 pcap (about 10 s) and
 *   recorded by the default policy; passes when every call succeeds and every recording is stored.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../core/config/load-config.ts';
import { Host } from '../core/host.ts';
import { createLogger } from '../core/logger.ts';

export interface SipBenchResult {
  setupRates: { cps: number; calls: number; passed: boolean; seconds: number }[];
  bestCps: number;
  concurrent: { calls: number; passed: boolean; stored: number; seconds: number }[];
}

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function sipp(args: string[], cwd: string): Promise<number | null> {
  const proc = spawn('sipp', ['-nostdin', '-timeout', '120s', '-timeout_error', '-i', '127.0.0.1', ...args], { cwd, stdio: 'ignore' });
  return new Promise((r) => proc.on('exit', (code) => r(code)));
}

async function withHost<T>(recording: boolean, uasPort: number, run: (host: Host, sipPort: number) => Promise<T>): Promise<T> {
  const host = await Host.start(
    parseConfig({
      dataDir: mkdtempSync(join(tmpdir(), 'capstan-bench-sip-')),
      http: { port: 0 },
      logLevel: 'error',
      mediaServers: { embedded: 2, rtpPorts: '47000-47999' },
      mail: { agents: {} },
      handlers: { watch: false },
      recorder: recording ? {} : { policies: [] },
      sip: { port: 0, address: '127.0.0.1', routes: [{ match: '.*', to: `sip:service@127.0.0.1:${uasPort}` }] },
    }),
    { logger: createLogger({ level: 'fatal', fd: 2 }) },
  );
  try {
    const { port } = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number };
    return await run(host, port);
  } finally {
    await host.close();
  }
}

export async function benchSip(): Promise<SipBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-bench-sipp-'));
  symlinkSync('/usr/share/sip-tester', join(dir, 'pcap'));
  const setupRates: SipBenchResult['setupRates'] = [];
  for (const cps of [25, 50, 100, 200, 400, 800]) {
    const calls = cps * 4;
    const uasPort = await freeUdpPort();
    const result = await withHost(false, uasPort, async (_host, sipPort) => {
      const callee = sipp(['-sn', 'uas', '-p', String(uasPort), '-mp', String(await freeUdpPort()), '-m', String(calls)], dir);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      const caller = await sipp(['-sn', 'uac', `127.0.0.1:${sipPort}`, '-s', '800100', '-p', String(await freeUdpPort()), '-r', String(cps), '-m', String(calls), '-d', '1000'], dir);
      const seconds = (performance.now() - t0) / 1000;
      const calleeCode = await callee;
      return { cps, calls, passed: caller === 0 && calleeCode === 0, seconds: Math.round(seconds * 10) / 10 };
    });
    setupRates.push(result);
    if (!result.passed) break;
  }
  const concurrent: SipBenchResult['concurrent'] = [];
  for (const calls of [50, 100, 200]) {
    const uasPort = await freeUdpPort();
    const result = await withHost(true, uasPort, async (host, sipPort) => {
      const callee = sipp(['-sn', 'uas', '-p', String(uasPort), '-mp', String(await freeUdpPort()), '-m', String(calls)], dir);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      // All at once: placed at a rate that starts them within a second or two, none limited.
      const caller = await sipp(['-sn', 'uac_pcap', `127.0.0.1:${sipPort}`, '-s', '800100', '-p', String(await freeUdpPort()), '-mp', String(await freeUdpPort()), '-r', String(Math.min(calls, 50)), '-l', String(calls), '-m', String(calls)], dir);
      const calleeCode = await callee;
      let stored = 0;
      for (let i = 0; i < 100; i++) {
        const { items } = (await (await fetch(`${host.url}/api/v1/recordings?limit=500`)).json()) as { items: { status: string; uri: string | null }[] };
        stored = items.filter((r) => r.status === 'stored' && r.uri === null).length;
        if (stored >= calls) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      return { calls, passed: caller === 0 && calleeCode === 0 && stored === calls, stored, seconds: Math.round((performance.now() - t0) / 100) / 10 };
    });
    concurrent.push(result);
    if (!result.passed) break;
  }
  return { setupRates, bestCps: Math.max(0, ...setupRates.filter((r) => r.passed).map((r) => r.cps)), concurrent };
}
