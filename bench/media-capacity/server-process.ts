/**
 * The media-capacity benchmark's server side, run pinned to one core (`taskset -c 0`): either a
 * real media server (control API over HTTP, RTP on real sockets, recordings to WAV), or a bare
 * UDP socket loop that only counts datagrams — the reference ceiling. Talks to the benchmark
 * over the IPC channel: { cmd: 'usage' } answers the process's CPU time and event-loop delay
 * since the last ask.
 */
import { createSocket } from 'node:dgram';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { runMediaServer } from '../../media/server/main.ts';

const mode = process.argv[2];
const send = (m: unknown) => process.send!(m);
let cpu = process.cpuUsage();
let wall = performance.now();
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();

function usage(): Record<string, number> {
  const d = process.cpuUsage(cpu);
  const now = performance.now();
  const out = {
    cpu: (d.user + d.system) / 1000 / (now - wall),
    cpuSystem: d.system / 1000 / (now - wall),
    eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
    eventLoopDelayMaxMs: delay.max / 1e6,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
  };
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
  socket.bind(0, '127.0.0.1', () => send({ ready: true, port: socket.address().port }));
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
    rtpAddress: '127.0.0.1',
    rtpPorts: [20000, 29999],
    dataDir: process.argv[3]!,
    secret: 'media-capacity-bench-secret',
    logLevel: 'warn',
  });
  send({ ready: true, controlUrl: server.controlUrl });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'usage') send(usage());
    if (m.cmd === 'close') void server.close().then(() => process.exit(0));
  });
}
