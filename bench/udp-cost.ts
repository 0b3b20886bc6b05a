/**
 * The CPU one media-server process spends per RTP packet on the network alone: receiving a
 * datagram (from another process, as from a phone) and sending one (the relay to the other
 * leg). A child process is the peer, so only this process's side is counted.
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';

const PEER = `
const dgram = require('node:dgram');
const [mode, port, count] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
if (mode === 'send') {
  const buf = Buffer.alloc(172, 1);
  let sent = 0;
  const burst = () => { for (let i = 0; i < 200 && sent < +count; i++, sent++) s.send(buf, +port, '127.0.0.1'); if (sent < +count) setImmediate(burst); else setTimeout(() => process.exit(0), 200); };
  burst();
} else {
  let got = 0;
  s.on('message', () => { got++; });
  s.bind(0, '127.0.0.1', () => { process.stdout.write(String(s.address().port) + '\\n'); });
  process.on('SIGTERM', () => { process.stdout.write('got ' + got + '\\n'); process.exit(0); });
}
`;

export interface UdpCost {
  /** CPU µs this process spends to receive one 172-byte datagram. */
  receiveUsPerPacket: number;
  /** CPU µs this process spends to send one. */
  sendUsPerPacket: number;
}

export async function measureUdpCost(count = 100_000): Promise<UdpCost> {
  // Receive: a child blasts datagrams at our socket.
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  let received = 0;
  let last = 0;
  sock.on('message', () => {
    received++;
    last = performance.now();
  });
  const start = process.cpuUsage();
  const sender = spawn(process.execPath, ['-e', PEER, 'send', String(sock.address().port), String(count)], { stdio: 'ignore' });
  await once(sender, 'exit');
  while (performance.now() - last < 100) await new Promise((r) => setTimeout(r, 20));
  const r = process.cpuUsage(start);
  sock.close();
  // Send: we blast datagrams at a child that reads them.
  const receiver = spawn(process.execPath, ['-e', PEER, 'recv'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = Number((await once(receiver.stdout!, 'data'))[0].toString().trim());
  const out = createSocket('udp4');
  const buf = Buffer.alloc(172, 1);
  const sendStart = process.cpuUsage();
  for (let sent = 0; sent < count; ) {
    for (let i = 0; i < 200 && sent < count; i++, sent++) out.send(buf, port, '127.0.0.1');
    await new Promise((res) => setImmediate(res));
  }
  await new Promise((res) => setTimeout(res, 100));
  const s = process.cpuUsage(sendStart);
  out.close();
  receiver.kill('SIGTERM');
  await once(receiver, 'exit');
  return {
    receiveUsPerPacket: (r.user + r.system) / Math.max(1, received),
    sendUsPerPacket: (s.user + s.system) / count,
  };
}
