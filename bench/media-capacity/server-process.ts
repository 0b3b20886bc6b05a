/**
 * The media-capacity benchmark's server side, run pinned to one core (`taskset -c 0`): either a
 * real media server (control API over HTTP, RTP on real sockets — the native socket set or
 * node:dgram, as the third argument says —, recordings to WAV), or a bare UDP socket loop that
 * only counts datagrams — the reference ceiling. Talks to the benchmark over the IPC channel:
 * { cmd: 'usage' } answers the process's CPU time and event-loop delay since the last ask (and,
 * on the native set, the share of datagrams that reached JavaScript).
 */
import { createSocket } from 'node:dgram';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { NativeUdpTransport } from '../../media/rtp/native-udp-transport.ts';
import { runMediaServer } from '../../media/server/main.ts';

const mode = process.argv[2];
const send = (m: unknown) => process.send!(m);
let cpu = process.cpuUsage();
let wall = performance.now();
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
/** Garbage collections since the last ask: the longest pause and the total (a stall's usual suspect). */
let gc = { maxMs: 0, totalMs: 0, major: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.maxMs = Math.max(gc.maxMs, e.duration);
    gc.totalMs += e.duration;
    // detail.kind 4 is a major (mark-compact) collection.
    if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 4) gc.major++;
  }
}).observe({ entryTypes: ['gc'] });

function usage(): Record<string, number> {
  const d = process.cpuUsage(cpu);
  const now = performance.now();
  const out = {
    cpu: (d.user + d.system) / 1000 / (now - wall),
    cpuSystem: d.system / 1000 / (now - wall),
    eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
    eventLoopDelayMaxMs: delay.max / 1e6,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    gcMaxMs: gc.maxMs,
    gcTotalMs: gc.totalMs,
    gcMajor: gc.major,
  };
  gc = { maxMs: 0, totalMs: 0, major: 0 };
  cpu = process.cpuUsage();
  wall = now;
  delay.reset();
  return out;
}

if (mode === 'bare') {
  const socket = createSocket('udp4');
  let received = 0;
  socket.on('message', () => {
    received++;
  });
  socket.bind(0, '127.0.0.1', () => {
    // The generator sends in bursts (sendmmsg): a deep queue keeps a burst from overflowing the
    // socket, so what is counted is what this loop can receive, not what its queue could hold.
    socket.setRecvBufferSize(4 * 1024 * 1024);
    send({ ready: true, port: socket.address().port });
  });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'usage') send({ ...usage(), received });
    if (m.cmd === 'close') socket.close(() => process.exit(0));
  });
} else {
  const server = await runMediaServer({
    location: 'bench',
    id: 'ms-bench',
    port: 0,
    address: '127.0.0.1',
    // The bench's relay sink decides: a discard device's local address, or loopback.
    rtpAddress: process.argv[5] ?? '127.0.0.1',
    // 6000 even ports: 3000 calls; below the kernel's ephemeral ports (32768 up).
    rtpPorts: [20000, 31999],
    dataDir: process.argv[3]!,
    secret: 'media-capacity-bench-secret',
    logLevel: 'warn',
    udp: process.argv[4] === 'dgram' ? 'dgram' : 'native',
  });
  send({ ready: true, controlUrl: server.controlUrl, udp: server.transport.kind });
  const native = server.transport instanceof NativeUdpTransport ? server.transport : undefined;
  let last = { received: 0, recorded: 0 };
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'usage') {
      const out: Record<string, number> = usage();
      if (native) {
        // Datagrams delivered to JavaScript against those the set recorded itself.
        const { received, recorded } = native.stats;
        const js = received - last.received;
        out.javascriptShare = js / Math.max(1, js + recorded - last.recorded);
        last = { received, recorded };
      }
      send(out);
    }
    if (m.cmd === 'close') void server.close().then(() => process.exit(0));
  });
}
