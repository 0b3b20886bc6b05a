import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { startTestHost } from '../helpers/host.ts';

/** One SIP peer on a UDP socket: sends a datagram and takes the next answer (or none in time). */
class Peer {
  readonly socket: Socket = createSocket('udp4');
  readonly inbox: string[] = [];
  async open(): Promise<number> {
    this.socket.on('message', (m) => this.inbox.push(m.toString()));
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    return this.socket.address().port;
  }
  async ask(port: number, text: string, waitMs = 1500): Promise<string | null> {
    const before = this.inbox.length;
    this.socket.send(Buffer.from(text), port, '127.0.0.1');
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (this.inbox.length > before) return this.inbox[before]!;
      await new Promise((r) => setTimeout(r, 20));
    }
    return null;
  }
}

const request = (method: string, me: number, extra: Record<string, string> = {}, body = '', opts: { cseqMethod?: string; contentLength?: string; toTag?: string; callId?: string; branch?: string; cseq?: number; to?: string } = {}) =>
  [
    `${method} sip:${opts.to ?? '800100'}@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${me};branch=${opts.branch ?? `z9hG4bK${Math.random().toString(36).slice(2)}`}`,
    'Max-Forwards: 70',
    `From: <sip:tester@127.0.0.1>;tag=t1`,
    `To: <sip:${opts.to ?? '800100'}@127.0.0.1>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    `Call-ID: ${opts.callId ?? Math.random().toString(36).slice(2)}`,
    `CSeq: ${opts.cseq ?? 1} ${opts.cseqMethod ?? method}`,
    ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${opts.contentLength ?? Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');

const statusOf = (answer: string | null) => (answer === null ? null : Number(/^SIP\/2\.0 (\d{3})/.exec(answer)?.[1]));

describe('the SIP B2BUA facing malformed and unexpected SIP', () => {
  let host: Host;
  let sipPort: number;
  const peer = new Peer();
  let me: number;
  // A callee that never answers: its calls stay ringing while the tests poke at them.
  const silent = createSocket('udp4');
  // A callee that answers every INVITE at once (PCMU on a port nobody reads) and every BYE.
  const answering = createSocket('udp4');
  answering.on('message', (m) => {
    const text = m.toString();
    const start = text.split('\r\n', 1)[0]!;
    const h = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'im').exec(text)?.[1]?.trim() ?? '';
    const via = /SIP\/2\.0\/UDP ([^;:]+):(\d+)/.exec(h('Via'))!;
    const to = start.startsWith('INVITE') && !/tag=/.test(h('To')) ? `${h('To')};tag=answering` : h('To');
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n';
    if (start.startsWith('INVITE') || start.startsWith('BYE')) {
      const body = start.startsWith('INVITE') ? sdp : '';
      const headers = [`Via: ${h('Via')}`, `From: ${h('From')}`, `To: ${to}`, `Call-ID: ${h('Call-ID')}`, `CSeq: ${h('CSeq')}`, `Contact: <sip:callee@127.0.0.1:${answering.address().port}>`];
      answering.send(Buffer.from(['SIP/2.0 200 OK', ...headers, ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${body.length}`, '', body].join('\r\n')), Number(via[2]), via[1]!);
    }
  });
  beforeAll(async () => {
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    await new Promise<void>((r) => answering.bind(0, '127.0.0.1', r));
    host = await startTestHost({ sip: { port: 0, address: '127.0.0.1', routes: [
      { match: '^700', to: `sip:nobody@127.0.0.1:${silent.address().port}` },
      { match: '^sip:support@', to: `sip:nobody@127.0.0.1:${silent.address().port}` },
      { match: '^600', to: `sip:callee@127.0.0.1:${answering.address().port}` },
    ] } });
    sipPort = ((await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number }).port;
    me = await peer.open();
  });
  afterAll(async () => {
    peer.socket.close();
    silent.close();
    answering.close();
    await host?.close();
  });

  it('answers OPTIONS 200 with what it allows', async () => {
    const answer = await peer.ask(sipPort, request('OPTIONS', me));
    expect(statusOf(answer)).toBe(200);
    expect(answer).toMatch(/^Allow: INVITE, ACK, BYE, CANCEL, OPTIONS/m);
  });

  it('answers 400 to bad headers and a wrong Content-Length, 501 to an unknown method, and drops garbage', async () => {
    expect(statusOf(await peer.ask(sipPort, request('OPTIONS', me, {}, '', { contentLength: '999' })))).toBe(400);
    expect(statusOf(await peer.ask(sipPort, request('OPTIONS', me, { 'Bad Header': 'x' })))).toBe(400);
    expect(statusOf(await peer.ask(sipPort, request('OPTIONS', me, {}, '', { cseqMethod: 'BYE' })))).toBe(400);
    expect(statusOf(await peer.ask(sipPort, request('FROBNICATE', me)))).toBe(501);
    expect(await peer.ask(sipPort, '\x16\x03\x01garbage that is not SIP\r\n\r\n', 500)).toBeNull();
    expect(await peer.ask(sipPort, 'x'.repeat(60_000), 500)).toBeNull();
  });

  it('refuses an in-dialog request for no dialog (481) and a call to a number with no route (404)', async () => {
    expect(statusOf(await peer.ask(sipPort, request('BYE', me, {}, '', { toTag: 'nope' })))).toBe(481);
    expect(statusOf(await peer.ask(sipPort, request('INVITE', me, { 'Content-Type': 'application/sdp' }, 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n', { toTag: 'nope' })))).toBe(481);
    // A new INVITE: 100 Trying, then 404.
    const invite = request('INVITE', me, { 'Content-Type': 'application/sdp' }, 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n');
    expect(statusOf(await peer.ask(sipPort, invite))).toBe(100);
    await new Promise((r) => setTimeout(r, 300));
    expect(peer.inbox.some((m) => statusOf(m) === 404)).toBe(true);
  });

  it('answers 482 to an INVITE in a call’s name without the To-tag a re-INVITE needs (a merged request), and the call goes on', async () => {
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';
    const callId = `ringing-${Math.random().toString(36).slice(2)}`;
    expect(statusOf(await peer.ask(sipPort, request('INVITE', me, { 'Content-Type': 'application/sdp' }, sdp, { callId, to: '700100', branch: 'z9hG4bKfirst' })))).toBe(100);
    // The same INVITE again (a retransmission) is not a new request: no 482 for it.
    const before = peer.inbox.length;
    await peer.ask(sipPort, request('INVITE', me, { 'Content-Type': 'application/sdp' }, sdp, { callId, to: '700100', branch: 'z9hG4bKfirst' }), 300);
    expect(peer.inbox.slice(before).map(statusOf)).not.toContain(482);
    // A "re-INVITE" that forgot the To-tag: another transaction in the same call's name.
    expect(statusOf(await peer.ask(sipPort, request('INVITE', me, { 'Content-Type': 'application/sdp' }, sdp, { callId, to: '700100', branch: 'z9hG4bKsecond', cseq: 2 })))).toBe(482);
    // The ringing call is still there to cancel.
    const cancelled = await peer.ask(sipPort, request('CANCEL', me, {}, '', { callId, to: '700100', branch: 'z9hG4bKfirst' }));
    expect(statusOf(cancelled)).toBe(200);
  });

  it('routes by the called URI when no route matches the number', async () => {
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';
    const callId = `uri-${Math.random().toString(36).slice(2)}`;
    const before = peer.inbox.length;
    expect(statusOf(await peer.ask(sipPort, request('INVITE', me, { 'Content-Type': 'application/sdp' }, sdp, { callId, to: 'support', branch: 'z9hG4bKuri' })))).toBe(100);
    await new Promise((r) => setTimeout(r, 300));
    // Ringing at the route's target, not refused 404 like an unrouted number.
    expect(peer.inbox.slice(before).map(statusOf)).toEqual([100]);
    expect(statusOf(await peer.ask(sipPort, request('CANCEL', me, {}, '', { callId, to: 'support', branch: 'z9hG4bKuri' })))).toBe(200);
  });

  it('refuses a REFER to a target no route matches (403: no calls placed anywhere a party names), and accepts a routed one', async () => {
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';
    const callId = `refer-${Math.random().toString(36).slice(2)}`;
    const before = peer.inbox.length;
    peer.socket.send(Buffer.from(request('INVITE', me, { 'Content-Type': 'application/sdp', Contact: `<sip:tester@127.0.0.1:${me}>` }, sdp, { callId, to: '600100', branch: 'z9hG4bKrefer' })), sipPort, '127.0.0.1');
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !peer.inbox.slice(before).some((m) => statusOf(m) === 200)) await new Promise((r) => setTimeout(r, 20));
    const ok = peer.inbox.slice(before).find((m) => statusOf(m) === 200)!;
    expect(ok).toBeDefined();
    const toTag = /^To:.*;tag=([^;\s]+)/m.exec(ok)![1]!;
    peer.socket.send(Buffer.from(request('ACK', me, {}, '', { callId, to: '600100', toTag })), sipPort, '127.0.0.1');
    const refer = (target: string, cseq: number) => request('REFER', me, { 'Refer-To': `<${target}>`, Contact: `<sip:tester@127.0.0.1:${me}>` }, '', { callId, to: '600100', toTag, cseq });
    expect(statusOf(await peer.ask(sipPort, refer('sip:premium@203.0.113.9', 2)))).toBe(403);
    expect(statusOf(await peer.ask(sipPort, refer('sip:700200@127.0.0.1', 3)))).toBe(202);
    expect(statusOf(await peer.ask(sipPort, request('BYE', me, {}, '', { callId, to: '600100', toTag, cseq: 4 })))).toBe(200);
  });

  it('answers 403 to SIP from outside sip.allowFrom, counts it, and refuses an allowFrom entry that is no address', async () => {
    const guarded = await startTestHost({ sip: { port: 0, address: '127.0.0.1', allowFrom: ['192.0.2.0/24', '2001:db8::/32'], routes: [] } });
    try {
      const port = ((await (await fetch(`${guarded.url}/api/v1/sip`)).json()) as { port: number }).port;
      const answer = await peer.ask(port, request('OPTIONS', me));
      expect(statusOf(answer)).toBe(403);
      expect(answer).toMatch(/^SIP\/2\.0 403 Forbidden \(source not allowed\)/);
      const stats = (await (await fetch(`${guarded.url}/api/v1/sip`)).json()) as { dropped: Record<string, number> };
      expect(stats.dropped['not-allowed']).toBe(1);
    } finally {
      await guarded.close();
    }
    // Loopback allowed: served as usual.
    const open = await startTestHost({ sip: { port: 0, address: '127.0.0.1', allowFrom: ['127.0.0.0/8'], routes: [] } });
    try {
      const port = ((await (await fetch(`${open.url}/api/v1/sip`)).json()) as { port: number }).port;
      expect(statusOf(await peer.ask(port, request('OPTIONS', me)))).toBe(200);
    } finally {
      await open.close();
    }
    await expect(startTestHost({ sip: { port: 0, allowFrom: ['10.0.0.0/33'] } })).rejects.toMatchObject({ code: 'CAPSTAN_ERR_CONFIG_INVALID', message: expect.stringContaining('sip.allowFrom') });
  });

  it('counts what it dropped or refused by reason, and keeps serving', async () => {
    const stats = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { dropped: Record<string, number> };
    expect(stats.dropped).toMatchObject({ 'short-body': 1, 'bad-header': 1, 'cseq-method': 1, 'bad-start-line': 1, 'no-header-end': 1 });
    expect(statusOf(await peer.ask(sipPort, request('OPTIONS', me)))).toBe(200);
  });
});
