/**
 * A small libpcap reader for the tests' reference audio: the RTP payloads of the UDP packets in a
 * capture (Ethernet, Linux cooked or raw IPv4 link types), in file order. Written for the tests so
 * the reference comes from the capture itself, not from anything Capstan parses.
 */
export interface PcapRtp {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  payload: Buffer;
}

export function pcapRtpPayloads(file: Buffer): PcapRtp[] {
  const magic = file.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && file.readUInt32BE(0) !== 0xa1b2c3d4 && file.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (o: number) => (little ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const link = u32(20);
  const out: PcapRtp[] = [];
  for (let o = 24; o + 16 <= file.length; ) {
    const incl = u32(o + 8);
    const frame = file.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    let ip: Buffer;
    if (link === 1) {
      if (frame.readUInt16BE(12) !== 0x0800) continue;
      ip = frame.subarray(14);
    } else if (link === 113) {
      if (frame.readUInt16BE(14) !== 0x0800) continue;
      ip = frame.subarray(16);
    } else if (link === 101 || link === 228) ip = frame;
    else throw new Error(`pcap link type ${link} not handled`);
    if (ip[0]! >> 4 !== 4 || ip[9] !== 17) continue;
    const udp = ip.subarray((ip[0]! & 0x0f) * 4);
    const rtp = udp.subarray(8, udp.readUInt16BE(4));
    if (rtp.length < 12 || rtp[0]! >> 6 !== 2) continue;
    const cc = rtp[0]! & 0x0f;
    let start = 12 + 4 * cc;
    if (rtp[0]! & 0x10) start += 4 + 4 * rtp.readUInt16BE(start + 2);
    const end = rtp[0]! & 0x20 ? rtp.length - rtp[rtp.length - 1]! : rtp.length;
    out.push({ payloadType: rtp[1]! & 0x7f, sequenceNumber: rtp.readUInt16BE(2), timestamp: rtp.readUInt32BE(4), payload: rtp.subarray(start, end) });
  }
  return out;
}
