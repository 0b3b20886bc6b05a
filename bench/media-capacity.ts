/**
 * `npm run bench -- media-capacity`: the most concurrent two-leg calls one core records to WAV
 * with nothing lost and nothing late, against the receive ceiling of a bare UDP socket loop on
 * the same core, measured in the same run.
 *
 * Set-up: the media server is a separate process pinned to core 0 (`taskset -c 0`), recording
 * every call as dual-channel 16-bit WAV and relaying each leg to the other party: out of a
 * discard device where the bench can make one (relaying costs the server its send, as in the
 * audio path; see relaySink), else to a loopback socket that never reads. The load generator is
 * another process pinned to core 1 with this one: it plays each leg's 20 ms packets at real-time
 * pace, phases spread evenly. Each step allocates N calls over the control API, starts their
 * recordings, plays `windowSeconds` of audio, stops them and compares what the server placed on
 * its timelines with what was sent. A step passes when every packet sent was received, placed,
 * and none was late, partly late, too early or dropped for any reason. Steps go up until one
 * fails; a step that failed while the load generator itself fell more than half the jitter
 * delay behind (its limit, or the VM's: each step reports the hypervisor's steal on both cores)
 * is played once more first. Then the same with mixed calls: an Opus caller (48 kHz RTP, decoded by libopus) and a
 * PCMU callee. On the native transport a third series records G.711 calls without relaying them
 * (legs with no party address): not a configuration Capstan runs, a measure of what the relay
 * costs the relaying server.
 *
 * The reference: a process pinned to core 0 that only counts datagrams on one socket (node:dgram,
 * a 4 MiB receive queue) while the generator blasts 172-byte datagrams (a G.711 packet's size)
 * at it as fast as it can.
 *
 * The media server runs once per UDP transport (`transports`): the native socket set (batched
 * recvmmsg/sendmmsg, docs/native-udp.md), then node:dgram for comparison.
 *
 * CAPSTAN_BENCH_CPU_PROF=<dir> runs the media server with --cpu-prof into that folder;
 * CAPSTAN_BENCH_SERVER_NODE_ARGS adds Node options to the media server's command line
 * (space-separated, e.g. `--trace-gc` or `--perf-basic-prof` for `perf report`).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SECRET = 'media-capacity-bench-secret';
const DEFAULT_STEPS = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1800, 2000];
const here = fileURLToPath(new URL('.', import.meta.url));

export interface MediaCapacityOptions {
  /** The media server's UDP transports, each measured in turn. Default native, then dgram. */
  transports?: ('native' | 'dgram')[];
  /** Call counts to try, in order; stops at the first that loses anything. Default 100 ... 1600 by 100, then 1800, 2000. */
  steps?: number[];
  /** Opus (mixed) call counts. Default 100, 200, 300, 400, 500, 600, 800. */
  opusSteps?: number[];
  /**
   * Native transport only, for what limits the relaying server: G.711 calls recorded without
   * relaying (legs with no party address, as a recorder fed a copy of the media would be).
   * Default 400, 600, 800 ... 1200 by 100, then 1400, 1600, 1800; [] skips it.
   */
  recordOnlySteps?: number[];
  /** Audio per step. Default 10 s. */
  windowSeconds?: number;
  /** Length of the bare-socket blast. Default 5 s. */
  bareSeconds?: number;
}

interface StepResult {
  calls: number;
  ok: boolean;
  sent: number;
  received: number;
  placed: number;
  late: number;
  /** `late` by the timeline's reason (late, partlyLate, tooEarly, duplicates, outOfSequence), the non-zero ones. */
  lateBy: Record<string, number>;
  dropped: number;
  cpu: number;
  /** The part of `cpu` spent in the kernel (receive, send, write, sync). */
  cpuSystem: number;
  eventLoopDelayMaxMs: number;
  /** Longest garbage-collection pause in the window, and how many were major (mark-compact). */
  gcMaxMs: number;
  gcMajor: number;
  rssMiB: number;
  generatorBehindMaxMs: number;
  /**
   * Share of each core's time the hypervisor gave to someone else during the window (steal, from
   * /proc/stat): on a shared VM a step can fail on a stolen few hundred milliseconds.
   */
  steal: [number, number];
  /** Datagrams the generator's kernel refused to send (not the server's loss). */
  generatorRefused: number;
  /** Native socket set only: the share of datagrams JavaScript saw (the rest were recorded in C). */
  javascriptShare?: number;
}

interface Child {
  proc: ChildProcess;
  ask<T>(message: unknown): Promise<T>;
}

const spawned: ChildProcess[] = [];

function pinned(core: number, script: string, args: string[], extraNodeArgs: string[] = []): Child {
  const proc = spawn('taskset', ['-c', String(core), process.execPath, '--no-node-snapshot', ...extraNodeArgs, '--import', 'tsx', join(here, 'media-capacity', script), ...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  spawned.push(proc);
  const pending: ((m: unknown) => void)[] = [];
  proc.on('message', (m) => pending.shift()?.(m));
  proc.on('exit', (code, signal) => {
    if (pending.length > 0) process.stderr.write(`media-capacity: ${script} exited (${code ?? signal}) with a request pending\n`);
  });
  return {
    proc,
    ask<T>(message: unknown): Promise<T> {
      return new Promise<T>((resolve) => {
        pending.push(resolve as (m: unknown) => void);
        if (message !== undefined) proc.send(message as object);
      });
    },
  };
}

async function blackhole(): Promise<{ port: number; proc: ChildProcess }> {
  // A socket that never reads: the kernel drops what overflows it.
  const proc = spawn('taskset', ['-c', '1', 'python3', '-c', "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('127.0.0.1',0))\nprint(s.getsockname()[1],flush=True)\ntime.sleep(1e9)"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [data] = (await once(proc.stdout!, 'data')) as [Buffer];
  return { port: Number(data.toString().trim()), proc };
}

/** Where the server's relayed packets go, and the address its RTP sockets bind. */
interface RelaySink {
  kind: 'discard device' | 'loopback socket';
  /** The media server's RTP address (the generator sends there). */
  serverAddress: string;
  to: { address: string; port: number };
  close(): void;
}

const NULL_DEVICE = 'capstan-null';
/** TEST-NET-2 (RFC 5737): never a real host. The server is .1 (local), the parties .7 (out of the discard device). */
const NULL_NET = { server: '198.51.100.1', party: '198.51.100.7', prefix: 24 };

/**
 * The relay's destination. On loopback the kernel runs the receiver's path inside the sender's
 * system call, so a loopback sink charges the server for a receive that in production happens
 * on the party's machine. Where it can (root, the ifb module), the bench makes a discard device:
 * an ifb interface, which frees whatever is sent to it without the device being part of a
 * redirect, with a TEST-NET-2 route on it — the server pays its whole send path, up to the
 * driver, as with a real NIC, and nobody pays a receive. Otherwise a loopback socket that never
 * reads, and the results say so.
 */
async function relaySink(): Promise<RelaySink> {
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    try {
      ip('link', 'del', NULL_DEVICE); // left over by a run that was killed
    } catch {
      // none
    }
    ip('link', 'add', NULL_DEVICE, 'type', 'ifb');
    ip('link', 'set', NULL_DEVICE, 'up');
    ip('addr', 'add', `${NULL_NET.server}/${NULL_NET.prefix}`, 'dev', NULL_DEVICE);
    return {
      kind: 'discard device',
      serverAddress: NULL_NET.server,
      to: { address: NULL_NET.party, port: 9 },
      close: () => {
        try {
          ip('link', 'del', NULL_DEVICE);
        } catch {
          // already gone
        }
      },
    };
  } catch (e) {
    process.stderr.write(`media-capacity: no discard device (${(e as Error).message.split('\n')[0]}); relaying to a loopback socket\n`);
    const sink = await blackhole();
    return { kind: 'loopback socket', serverAddress: '127.0.0.1', to: { address: '127.0.0.1', port: sink.port }, close: () => sink.proc.kill() };
  }
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${SECRET}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** Steps played so far in this process: part of every call id, so a step played again never meets its first try's. */
let steps = 0;

async function step(calls: number, opus: boolean, relay: boolean, windowSeconds: number, server: Child, base: string, load: Child, sink: RelaySink, recordingsDir: string): Promise<StepResult> {
  // Unique per step: a media server keeps finished recordings' results until their files are fetched.
  const attempt = ++steps;
  const ids = Array.from({ length: calls }, (_, i) => `${opus ? 'o' : relay ? 'g' : 'n'}${calls}-s${attempt}-c${i}`);
  const ports: { port: number; kind: 'pcmu' | 'opus' }[] = [];
  // No party address, no relay: the recording alone.
  const remote = relay ? sink.to : undefined;
  await inBatches(ids, 50, async (id) => {
    const res = await api(base, 'POST', '/v1/calls', {
      callId: id,
      legs: [
        { legId: 'caller', codec: opus ? { payloadType: 111, name: 'opus', clockRate: 48000 } : { payloadType: 0, name: 'PCMU' }, remote },
        { legId: 'callee', codec: { payloadType: 0, name: 'PCMU' }, remote },
      ],
    });
    await api(base, 'POST', `/v1/calls/${id}/recordings`, { recordingId: `r-${id}`, mime: 'audio/L16', channels: 2 });
    for (const leg of res.legs as { legId: string; rtp: { port: number } }[]) ports.push({ port: leg.rtp.port, kind: opus && leg.legId === 'caller' ? 'opus' : 'pcmu' });
  });
  await server.ask({ cmd: 'usage' }); // resets the server's CPU and event-loop counters
  const stealBefore = stealTimes();
  const played = await load.ask<{ sent: number[]; behindMaxMs: number; refused: number }>({ cmd: 'play', address: sink.serverAddress, legs: ports, seconds: windowSeconds });
  const stealAfter = stealTimes();
  const steal = stealAfter.map((a, core) => (a.steal - stealBefore[core]!.steal) / Math.max(1, a.total - stealBefore[core]!.total)) as [number, number];
  const usage = await server.ask<{ cpu: number; cpuSystem: number; eventLoopDelayMaxMs: number; gcMaxMs: number; gcMajor: number; rssMiB: number; javascriptShare?: number }>({ cmd: 'usage' });
  await new Promise((r) => setTimeout(r, 300)); // the last packets land (jitter delay is 200 ms)
  let received = 0;
  let placed = 0;
  let late = 0;
  const lateBy: Record<string, number> = {};
  let dropped = 0;
  await inBatches(ids, 50, async (id) => {
    const result = await api(base, 'POST', `/v1/recordings/r-${id}/stop`);
    for (const leg of ['caller', 'callee']) {
      const t = result.stats[leg];
      const s = result.stats.legs[leg];
      received += s.received;
      placed += t.placed;
      for (const reason of ['late', 'partlyLate', 'tooEarly', 'duplicates', 'outOfSequence']) {
        const n = t[reason] as number;
        late += n;
        if (n) lateBy[reason] = (lateBy[reason] ?? 0) + n;
      }
      dropped += Object.values(s.dropped as Record<string, number>).reduce((a, b) => a + b, 0);
    }
    await api(base, 'DELETE', `/v1/calls/${id}`);
  });
  for (const name of await readdir(recordingsDir)) await unlink(join(recordingsDir, name)).catch(() => {});
  const sent = played.sent.reduce((a, b) => a + b, 0);
  return {
    calls,
    ok: received === sent && placed === sent && late === 0 && dropped === 0,
    sent,
    received,
    placed,
    late,
    lateBy,
    dropped,
    cpu: usage.cpu,
    cpuSystem: usage.cpuSystem,
    eventLoopDelayMaxMs: usage.eventLoopDelayMaxMs,
    gcMaxMs: usage.gcMaxMs,
    gcMajor: usage.gcMajor,
    rssMiB: usage.rssMiB,
    generatorBehindMaxMs: played.behindMaxMs,
    steal,
    generatorRefused: played.refused,
    ...(usage.javascriptShare !== undefined ? { javascriptShare: usage.javascriptShare } : {}),
  };
}

/** Steal and total jiffies of cores 0 and 1 (/proc/stat; zeros where it cannot be read). */
function stealTimes(): { steal: number; total: number }[] {
  const out = [0, 1].map(() => ({ steal: 0, total: 0 }));
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu([01]) (.*)$/.exec(line);
      if (!m) continue;
      const fields = m[2]!.trim().split(/\s+/).map(Number);
      // user nice system idle iowait irq softirq steal guest guest_nice: guests are inside user.
      out[Number(m[1])] = { steal: fields[7] ?? 0, total: fields.slice(0, 8).reduce((a, b) => a + b, 0) };
    }
  } catch {
    // not Linux: no steal figures
  }
  return out;
}

/** CPU µs one relayed datagram costs its sender on core 0 (bench/media-capacity/send-cost-process.ts). */
async function relaySendCost(from: string, to: { address: string; port: number }, sockets: number): Promise<{ oneSocketUs: number; manySocketsUs: number; sockets: number }> {
  const proc = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', join(here, 'media-capacity', 'send-cost-process.ts'), from, to.address, String(to.port), String(sockets)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  spawned.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await once(proc, 'exit');
  return JSON.parse(out.trim()) as { oneSocketUs: number; manySocketsUs: number; sockets: number };
}

async function bareCeiling(load: Child, seconds: number): Promise<{ packetsPerSecond: number; cpu: number; sentPerSecond: number }> {
  const bare = pinned(0, 'server-process.ts', ['bare']);
  const { port } = await bare.ask<{ port: number }>(undefined);
  await bare.ask({ cmd: 'usage' });
  const { sent } = await load.ask<{ sent: number }>({ cmd: 'blast', port, seconds });
  await new Promise((r) => setTimeout(r, 100));
  const u = await bare.ask<{ cpu: number; received: number }>({ cmd: 'usage' });
  bare.proc.send({ cmd: 'close' });
  await once(bare.proc, 'exit');
  return { packetsPerSecond: u.received / seconds, cpu: u.cpu, sentPerSecond: sent / seconds };
}

export async function benchMediaCapacity(options: MediaCapacityOptions = {}): Promise<Record<string, unknown>> {
  const windowSeconds = options.windowSeconds ?? 10;
  // This process (the controller) and the generator share core 1; core 0 is the server's alone.
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const dataDir = await mkdtemp(join(tmpdir(), 'capstan-media-capacity-'));
  const sink = await relaySink();
  const load = pinned(1, 'load-process.ts', []);
  const { udp: generatorUdp } = await load.ask<{ udp: string }>(undefined);
  const out: Record<string, unknown> = {
    'load generator sends through': generatorUdp === 'native' ? 'the native socket set (sendmmsg)' : 'node:dgram',
    'relay sink': sink.kind === 'discard device' ? `a discard device (ifb, ${NULL_NET.party}): the server pays its send, no one a receive` : 'a loopback socket that never reads (the server also pays its receive path)',
  };
  try {
    const bare = await bareCeiling(load, options.bareSeconds ?? 5);
    out['bare socket: datagrams/s received on one core'] = Math.round(bare.packetsPerSecond);
    process.stderr.write(`media-capacity bare socket: ${JSON.stringify(bare)}\n`);
    out['bare socket: receiver CPU (1 = one core)'] = bare.cpu;
    out['bare socket: datagrams/s sent'] = Math.round(bare.sentPerSecond);
    out['bare socket: G.711 calls equivalent (100 packets/s each)'] = Math.round(bare.packetsPerSecond / 100);
    if (generatorUdp === 'native') {
      // What the relay alone costs the server's core per packet, at the largest step's socket count.
      const sockets = 2 * Math.max(100, ...(options.steps ?? DEFAULT_STEPS));
      const cost = await relaySendCost(sink.serverAddress, sink.to, sockets);
      out['relay send to the sink: CPU µs per datagram, from 1 socket'] = cost.oneSocketUs;
      out[`relay send to the sink: CPU µs per datagram, round-robin over ${cost.sockets} sockets`] = cost.manySocketsUs;
      if (sink.kind === 'discard device') {
        // For comparison: the same sends to a loopback socket, whose receive the sender then pays.
        const loopback = await blackhole();
        try {
          const viaLoopback = await relaySendCost('127.0.0.1', { address: '127.0.0.1', port: loopback.port }, sockets);
          out[`relay send to a loopback socket instead: CPU µs per datagram, round-robin over ${viaLoopback.sockets} sockets`] = viaLoopback.manySocketsUs;
        } finally {
          loopback.proc.kill();
        }
      }
    }

    const prof = process.env.CAPSTAN_BENCH_CPU_PROF;
    for (const udp of options.transports ?? ['native', 'dgram']) {
      const extra = (process.env.CAPSTAN_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const server = pinned(0, 'server-process.ts', ['media', join(dataDir, udp), udp, sink.serverAddress], [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...extra]);
      const { controlUrl, udp: running } = await server.ask<{ controlUrl: string; udp: string }>(undefined);
      // A native run that silently fell back to node:dgram would measure the wrong thing.
      if (running !== udp) throw new Error(`media-capacity: asked for the ${udp} transport, the server runs ${running}`);
      const recordingsDir = join(dataDir, udp, 'recordings');
      const series: [string, boolean, boolean, number[]][] = [
        ['G.711', false, true, options.steps ?? DEFAULT_STEPS],
        ['Opus+G.711', true, true, options.opusSteps ?? [100, 200, 300, 400, 500, 600, 800]],
      ];
      if (udp === 'native') series.push(['G.711 recording only, no relay', false, false, options.recordOnlySteps ?? [400, 600, 700, 800, 900, 1000, 1100, 1200, 1400, 1600, 1800]]);
      for (const [label, opus, relay, steps] of series) {
        let best: StepResult | undefined;
        const cpuBySteps: string[] = [];
        for (const calls of steps) {
          let r = await step(calls, opus, relay, windowSeconds, server, controlUrl, load, sink, recordingsDir);
          process.stderr.write(`media-capacity ${udp} ${label} ${calls} calls: ${JSON.stringify(r)}\n`);
          // A generator that fell behind by more than half the jitter delay used up that much
          // of the packets' lateness budget itself (on a shared VM, often while the hypervisor
          // took its core): such a step says little about the server, so it is played once more
          // before the series ends on it.
          const retried = !r.ok && r.generatorBehindMaxMs > 100;
          if (retried) {
            r = await step(calls, opus, relay, windowSeconds, server, controlUrl, load, sink, recordingsDir);
            process.stderr.write(`media-capacity ${udp} ${label} ${calls} calls, again: ${JSON.stringify(r)}\n`);
          }
          // CPU at equal load compares the transports even where both pass or both fail.
          cpuBySteps.push(`${calls}: ${r.cpu.toFixed(2)}${r.ok ? '' : ' (failed)'}${retried ? ' (second try)' : ''}`);
          out[`${udp} ${label}: server CPU by step (calls: CPU)`] = cpuBySteps.join(', ');
          if (!r.ok) {
            // Twice: the series ends at the generator's limit, not the server's.
            const generatorLimited = r.generatorBehindMaxMs > 200;
            out[`${udp} ${label}: first failing step`] =
              `${calls} calls: sent ${r.sent}, received ${r.received}, placed ${r.placed}, late ${r.late}${r.late ? ` (${Object.entries(r.lateBy).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}, dropped ${r.dropped}, CPU ${r.cpu.toFixed(2)}, loop delay max ${r.eventLoopDelayMaxMs.toFixed(0)} ms, longest GC ${r.gcMaxMs.toFixed(0)} ms, load generator ${r.generatorBehindMaxMs.toFixed(0)} ms behind at worst, VM steal ${(100 * r.steal[0]).toFixed(1)} % / ${(100 * r.steal[1]).toFixed(1)} % of cores 0 / 1` +
              (generatorLimited ? `; the load generator fell ${r.generatorBehindMaxMs.toFixed(0)} ms behind: its limit, not the server's` : '');
            break;
          }
          best = r;
        }
        out[`${udp} ${label}: most calls on one core with no loss, no late`] = best?.calls ?? 0;
        if (best) {
          out[`${udp} ${label}: server CPU at that count (1 = one core)`] = best.cpu;
          out[`${udp} ${label}: of which kernel`] = best.cpuSystem;
          out[`${udp} ${label}: packets/s received at that count`] = Math.round(best.received / windowSeconds);
          out[`${udp} ${label}: event-loop delay max (ms)`] = best.eventLoopDelayMaxMs;
          out[`${udp} ${label}: load generator behind at worst (ms); VM steal on cores 0 / 1`] = `${best.generatorBehindMaxMs.toFixed(0)}; ${(100 * best.steal[0]).toFixed(1)} % / ${(100 * best.steal[1]).toFixed(1)} %`;
          out[`${udp} ${label}: full garbage collections in the window, longest pause (ms)`] = `${best.gcMajor}, ${best.gcMaxMs.toFixed(1)}`;
          out[`${udp} ${label}: server RSS (MiB)`] = Math.round(best.rssMiB);
          if (best.javascriptShare !== undefined) out[`${udp} ${label}: share of datagrams JavaScript saw (the rest recorded in C)`] = best.javascriptShare;
          out[`${udp} ${label}: share of the bare-socket ceiling`] = best.received / windowSeconds / bare.packetsPerSecond;
        }
      }
      server.proc.send({ cmd: 'close' });
      await once(server.proc, 'exit');
    }
  } catch (e) {
    // Leave no pinned process behind: the server is the only one not closed below.
    for (const child of spawned) if (child.exitCode === null) child.kill();
    throw e;
  } finally {
    load.proc.send({ cmd: 'close' });
    sink.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  out['window per step (s)'] = windowSeconds;
  return out;
}
