import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { freeUdpPort } from '../helpers/free-port.ts';
import { startTestHost } from '../helpers/host.ts';
import { until } from '../helpers/until.ts';
import { SIPP_SCENARIOS, sipp } from '../helpers/sipp.ts';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');


/** A bare UDP SIP peer: sends a request and collects what comes back. */
async function udpPeer() {
  const socket = createSocket('udp4');
  const inbox: string[] = [];
  socket.on('message', (m) => inbox.push(m.toString()));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const port = socket.address().port;
  return {
    port,
    close: () => socket.close(),
    /** Sends and waits for the first final (or given) answer. */
    async ask(to: number, text: string, accept = (s: number) => s >= 200): Promise<{ status: number; text: string }> {
      const before = inbox.length;
      socket.send(Buffer.from(text), to, '127.0.0.1');
      const found = await until(
        async () => inbox.slice(before).map((t) => ({ status: Number(/^SIP\/2\.0 (\d{3})/.exec(t)?.[1]), text: t })).find((a) => accept(a.status)) ?? null,
        (a) => a !== null,
        3000,
      );
      return found!;
    },
  };
}

function register(me: number, user: string, extra: string[] = [], cseq = 1): string {
  return [
    `REGISTER sip:127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK${randomBytes(6).toString('hex')}`,
    'Max-Forwards: 70',
    `From: <sip:${user}@127.0.0.1>;tag=r${cseq}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: reg-${user}-${me}`,
    `CSeq: ${cseq} REGISTER`,
    `Contact: <sip:${user}@127.0.0.1:${me}>`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** The Authorization a phone computes for a challenge (RFC 2617 with qop=auth). */
function authorization(challenge: string, user: string, password: string): string {
  const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const uri = 'sip:127.0.0.1';
  const cnonce = randomBytes(4).toString('hex');
  const response = md5(`${md5(`${user}:${realm}:${password}`)}:${nonce}:00000001:${cnonce}:auth:${md5(`REGISTER:${uri}`)}`);
  return `Authorization: Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}"`;
}

describe('agent phones registering with the SIP registrar', () => {
  let host: Host;
  let sipPort: number;
  let dir: string;
  const password = randomBytes(9).toString('base64url');
  const children: ChildProcess[] = [];
  const sipStats = async () => (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number; registrations: { user: string; contact: string; expiresInS: number }[] };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-register-'));
    symlinkSync('/usr/share/sip-tester', join(dir, 'pcap'));
    host = await startTestHost({
      sip: {
        port: 0,
        address: '127.0.0.1',
        registrar: { users: { '1001': password, '1002': randomBytes(9).toString('base64url') } },
        routes: [
          { match: '^100[0-9]$', to: 'registered', workgroup: 'support', agent: 'agent-1001' },
          { match: '^555$', to: 'registered:1001', workgroup: 'support' },
        ],
      },
    });
    sipPort = (await sipStats()).port;
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await host?.close();
  });

  it('challenges a REGISTER, refuses a wrong password and an unknown user, and binds the right one until it unregisters', async () => {
    const phone = await udpPeer();
    try {
      expect((await phone.ask(sipPort, register(phone.port, '4242'))).status).toBe(403);
      const challenged = await phone.ask(sipPort, register(phone.port, '1002'));
      expect(challenged.status).toBe(401);
      const challenge = /^WWW-Authenticate: (.+)$/m.exec(challenged.text)![1]!;
      expect(challenge).toMatch(/^Digest realm="capstan", nonce="[^"]+", algorithm=MD5, qop="auth"/);
      // The wrong password: challenged again, nothing bound.
      expect((await phone.ask(sipPort, register(phone.port, '1002', [authorization(challenge, '1002', 'wrong')], 2))).status).toBe(401);
      // Another user's password does not do either.
      expect((await phone.ask(sipPort, register(phone.port, '1002', [authorization(challenge, '1002', password)], 3))).status).toBe(401);
      expect((await sipStats()).registrations).toEqual([]);

      const first = await phone.ask(sipPort, register(phone.port, '1001'));
      const ok = await phone.ask(sipPort, register(phone.port, '1001', ['Expires: 120', authorization(/^WWW-Authenticate: (.+)$/m.exec(first.text)![1]!, '1001', password)], 2));
      expect(ok.status).toBe(200);
      expect(ok.text).toMatch(new RegExp(`^Contact: <sip:1001@127\\.0\\.0\\.1:${phone.port}>;expires=120`, 'm'));
      const [binding] = (await sipStats()).registrations;
      expect(binding).toMatchObject({ user: '1001', contact: `sip:1001@127.0.0.1:${phone.port}` });
      expect(binding!.expiresInS).toBeGreaterThan(110);
      expect(binding!.expiresInS).toBeLessThanOrEqual(120);

      // Unregistering (Expires: 0) takes the binding away; a call to the number then finds no phone.
      const again = await phone.ask(sipPort, register(phone.port, '1001', [], 3));
      const bye = await phone.ask(sipPort, register(phone.port, '1001', ['Expires: 0', authorization(/^WWW-Authenticate: (.+)$/m.exec(again.text)![1]!, '1001', password)], 4));
      expect(bye.status).toBe(200);
      expect((await sipStats()).registrations).toEqual([]);
      const invite = [
        'INVITE sip:1001@127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bK${randomBytes(6).toString('hex')}`,
        'Max-Forwards: 70',
        'From: <sip:caller@127.0.0.1>;tag=c1',
        'To: <sip:1001@127.0.0.1>',
        `Call-ID: call-${randomBytes(4).toString('hex')}`,
        'CSeq: 1 INVITE',
        `Contact: <sip:caller@127.0.0.1:${phone.port}>`,
        'Content-Type: application/sdp',
        '',
        'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n',
      ];
      const body = invite.pop()!;
      const text = [...invite.slice(0, -1), `Content-Length: ${body.length}`, '', body].join('\r\n');
      expect((await phone.ask(sipPort, text)).status).toBe(480);
    } finally {
      phone.close();
    }
  });

  it('sends a call for the number to the phone sipp registered (Digest by sipp), and records it', async () => {
    const phonePort = await freeUdpPort();
    const reg = sipp(['-sf', join(SIPP_SCENARIOS, 'register.xml'), `127.0.0.1:${sipPort}`, '-s', '1001', '-au', '1001', '-ap', password, '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-m', '1', '-key', 'contact', `sip:1001@127.0.0.1:${phonePort}`], dir);
    children.push(reg.proc);
    expect(await reg.exited, reg.output()).toBe(0);
    expect((await sipStats()).registrations.map((r) => r.contact)).toEqual([`sip:1001@127.0.0.1:${phonePort}`]);

    const phone = sipp(['-sf', join(SIPP_SCENARIOS, 'callee-reinvite.xml'), '-i', '127.0.0.1', '-p', String(phonePort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(phone.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sn', 'uac', `127.0.0.1:${sipPort}`, '-s', '1001', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-m', '1', '-d', '1500'], dir);
    children.push(caller.proc);
    const [callerCode, phoneCode] = await Promise.all([caller.exited, phone.exited]);
    expect(callerCode, caller.output()).toBe(0);
    expect(phoneCode, phone.output()).toBe(0);
    const { items } = await until(
      async () => (await (await fetch(`${host.url}/api/v1/recordings?dnis=1001`)).json()) as { items: { status: string; agent: string; workgroup: string }[] },
      (r) => r.items.length === 1 && r.items[0]!.status === 'stored',
      20_000,
    );
    expect(items[0]).toMatchObject({ agent: 'agent-1001', workgroup: 'support' });
  }, 60_000);
});
