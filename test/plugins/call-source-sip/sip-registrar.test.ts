import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DigestAuthenticator, parseDigest } from '../../../plugins/call-source-sip/sip-digest.ts';
import type { SipRequest } from '../../../plugins/call-source-sip/sip-message.ts';
import { SipRegistrar } from '../../../plugins/call-source-sip/sip-registrar.ts';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** What a phone answers to a challenge, with or without qop (RFC 2617 / RFC 2069). */
function answer(challenge: string, user: string, password: string, uri: string, qop: boolean, nonceOverride?: string): string {
  const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
  const nonce = nonceOverride ?? /nonce="([^"]+)"/.exec(challenge)![1]!;
  const ha1 = md5(`${user}:${realm}:${password}`);
  const ha2 = md5(`REGISTER:${uri}`);
  if (!qop) return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${md5(`${ha1}:${nonce}:${ha2}`)}"`;
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", qop=auth, nc=00000001, cnonce="c0ffee", response="${md5(`${ha1}:${nonce}:00000001:c0ffee:auth:${ha2}`)}"`;
}

function register(user: string, headers: [string, string][]): SipRequest {
  return {
    kind: 'request',
    method: 'REGISTER',
    uri: 'sip:capstan.example',
    headers: [['Via', 'SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKr'], ['From', `<sip:${user}@capstan.example>;tag=a`], ['To', `<sip:${user}@capstan.example>`], ['Call-ID', 'r1'], ['CSeq', '1 REGISTER'], ...headers],
    body: '',
  };
}

describe('SIP Digest authentication', () => {
  const auth = new DigestAuthenticator('capstan', 200);
  it('verifies a right response with and without qop, and refuses a wrong password, another user and another realm', () => {
    const c = auth.challenge();
    expect(auth.verify(answer(c, '1001', 'pw', 'sip:capstan.example', true), 'REGISTER', '1001', 'pw')).toBe(true);
    expect(auth.verify(answer(c, '1001', 'pw', 'sip:capstan.example', false), 'REGISTER', '1001', 'pw')).toBe(true);
    expect(auth.verify(answer(c, '1001', 'nope', 'sip:capstan.example', true), 'REGISTER', '1001', 'pw')).toBe(false);
    expect(auth.verify(answer(c, '1002', 'pw', 'sip:capstan.example', true), 'REGISTER', '1001', 'pw')).toBe(false);
    expect(auth.verify(answer(c.replace('realm="capstan"', 'realm="other"'), '1001', 'pw', 'sip:capstan.example', true), 'REGISTER', '1001', 'pw')).toBe(false);
    expect(auth.verify(undefined, 'REGISTER', '1001', 'pw')).toBe(false);
    expect(auth.verify('Basic MTAwMTpwdw==', 'REGISTER', '1001', 'pw')).toBe(false);
  });

  it('refuses a nonce it did not make and one that has gone stale', async () => {
    const c = auth.challenge();
    const nonce = /nonce="([^"]+)"/.exec(c)![1]!;
    const forged = `${nonce.split('.')[0]}.${'0'.repeat(32)}`;
    expect(auth.verify(answer(c, '1001', 'pw', 'sip:x', true, forged), 'REGISTER', '1001', 'pw')).toBe(false);
    expect(auth.verify(answer(c, '1001', 'pw', 'sip:x', true, 'garbage'), 'REGISTER', '1001', 'pw')).toBe(false);
    // Another authenticator's nonce (another process, another secret) does not verify either.
    const other = new DigestAuthenticator('capstan').challenge();
    expect(auth.verify(answer(other, '1001', 'pw', 'sip:x', true), 'REGISTER', '1001', 'pw')).toBe(false);
    await new Promise((r) => setTimeout(r, 250));
    expect(auth.verify(answer(c, '1001', 'pw', 'sip:x', true), 'REGISTER', '1001', 'pw')).toBe(false);
  });

  it('reads the parameters of an Authorization value, quoted or not', () => {
    expect(parseDigest('Digest username="1001",realm="capstan",nonce="n",uri="sip:x",response="abc",qop=auth,nc=00000001,cnonce="c"')).toEqual({
      username: '1001', realm: 'capstan', nonce: 'n', uri: 'sip:x', response: 'abc', qop: 'auth', nc: '00000001', cnonce: 'c',
    });
    expect(parseDigest('Digest realm="capstan"')).toBeNull();
  });
});

describe('the SIP registrar', () => {
  const options = { users: { '1001': 'pw' }, open: false, realm: 'capstan', maxExpires: 600, minExpires: 60 };

  function registered(registrar: SipRegistrar, user: string, headers: [string, string][], now = Date.now()) {
    const first = registrar.register(register(user, headers), now);
    const challenge = first.headers.find(([n]) => n === 'WWW-Authenticate')?.[1];
    return challenge ? registrar.register(register(user, [...headers, ['Authorization', answer(challenge, user, 'pw', 'sip:capstan.example', true)]]), now) : first;
  }

  it('caps the expiry, refuses one shorter than the minimum with 423 and Min-Expires, and lets a binding lapse', () => {
    const r = new SipRegistrar(options);
    const now = Date.now();
    const ok = registered(r, '1001', [['Contact', '<sip:1001@10.0.0.9:5062>'], ['Expires', '7200']], now);
    expect(ok.status).toBe(200);
    expect(ok.headers).toContainEqual(['Contact', '<sip:1001@10.0.0.9:5062>;expires=600']);
    expect(r.lookup('1001', now + 599_000)?.contact).toBe('sip:1001@10.0.0.9:5062');
    expect(r.lookup('1001', now + 600_000)).toBeNull();
    const brief = registered(r, '1001', [['Contact', '<sip:1001@10.0.0.9:5062>;expires=10']], now);
    expect(brief).toMatchObject({ status: 423, headers: [['Min-Expires', '60']] });
  });

  it('unregisters with Contact * and Expires 0, and refuses Contact * without it', () => {
    const r = new SipRegistrar(options);
    expect(registered(r, '1001', [['Contact', '<sip:1001@10.0.0.9:5062>']]).status).toBe(200);
    expect(registered(r, '1001', [['Contact', '*']]).status).toBe(400);
    expect(r.lookup('1001')).not.toBeNull();
    expect(registered(r, '1001', [['Contact', '*'], ['Expires', '0']]).status).toBe(200);
    expect(r.lookup('1001')).toBeNull();
  });

  it('refuses unknown users unless open, and then takes anyone without a challenge', () => {
    expect(new SipRegistrar(options).register(register('2002', [['Contact', '<sip:2002@10.0.0.9>']])).status).toBe(403);
    const open = new SipRegistrar({ ...options, users: {}, open: true });
    expect(open.register(register('2002', [['Contact', '<sip:2002@10.0.0.9>']])).status).toBe(200);
    expect(open.lookup('2002')?.contact).toBe('sip:2002@10.0.0.9');
  });
});
