/**
 * The media-capacity benchmark's relay-cost probe, pinned to the server's core: the CPU one
 * relayed datagram costs the sending process, sent through the native socket set to the
 * benchmark's relay sink (a discard device, or a loopback socket that never reads), from one
 * socket and from as many sockets as a media server has legs. On loopback the sender also pays
 * the sink's receive path (the kernel delivers — here, drops — the datagram in the sender's
 * system call). Arguments: bind address, sink address, sink port, sockets. Prints one JSON
 * line: { oneSocketUs, manySocketsUs, sockets }.
 */
import { NativeUdpTransport } from '../../media/rtp/native-udp-transport.ts';
import type { UdpSocket } from '../../media/rtp/udp-transport.ts';

const [bindAddress, sinkAddress] = [process.argv[2]!, process.argv[3]!];
const sinkPort = Number(process.argv[4]);
const sockets = Number(process.argv[5] ?? 2000);
const PER_ROUND = 1000;
const ROUNDS = 200;

async function costUs(from: UdpSocket[]): Promise<number> {
  const to = { address: sinkAddress, port: sinkPort };
  const datagram = Buffer.alloc(172, 0x80);
  let best = Infinity;
  // Three passes, the cheapest kept: the probe shares a machine with whatever else runs.
  for (let pass = 0; pass < 3; pass++) {
    const start = process.cpuUsage();
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < PER_ROUND; i++) from[(round * PER_ROUND + i) % from.length]!.send(datagram, to);
      await new Promise((r) => setImmediate(r));
    }
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / (ROUNDS * PER_ROUND));
  }
  return best;
}

const transport = new NativeUdpTransport();
const bound: UdpSocket[] = [];
for (let i = 0; i < sockets; i++) {
  const s = (await transport.bind(0, bindAddress))!;
  s.listen({ onDatagram: () => {}, onSent: () => {}, onError: () => {} });
  bound.push(s);
}
const oneSocketUs = await costUs(bound.slice(0, 1));
const manySocketsUs = await costUs(bound);
await transport.close();
process.stdout.write(`${JSON.stringify({ oneSocketUs, manySocketsUs, sockets })}\n`);
