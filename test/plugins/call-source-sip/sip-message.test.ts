import { describe, expect, it } from 'vitest';
import { CapstanError } from '../../../core/errors.ts';
import { header, parseSipMessage, parseVia, serializeSipMessage, tagOf, userOf } from '../../../plugins/call-source-sip/sip-message.ts';

// RFC 3261 §24.2's INVITE, with compact headers and a folded line mixed in.
const INVITE = [
  'INVITE sip:bob@biloxi.com SIP/2.0',
  'v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  't: Bob <sip:bob@biloxi.com>',
  'f: Alice <sip:alice@atlanta.com>;tag=1928301774',
  'i: a84b4c76e66710@pc33.atlanta.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.com>',
  'Subject: a call',
  '  folded on two lines',
  'c: application/sdp',
  'l: 4',
  '',
  'v=0\r\nignored',
].join('\r\n');

const reason = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CapstanError);
    expect((e as CapstanError).code).toBe('CAPSTAN_ERR_SIP_MALFORMED');
    return (e as CapstanError & { details: { reason: string } }).details.reason;
  }
  throw new Error('parsed');
};

describe('SIP messages', () => {
  it('parse a request with compact and folded headers, keeping only Content-Length bytes of body', () => {
    const msg = parseSipMessage(INVITE);
    expect(msg).toMatchObject({ kind: 'request', method: 'INVITE', uri: 'sip:bob@biloxi.com', body: 'v=0\r' });
    expect(header(msg, 'Call-ID')).toBe('a84b4c76e66710@pc33.atlanta.com');
    expect(header(msg, 'Subject')).toBe('a call folded on two lines');
    expect(tagOf(header(msg, 'From')!)).toBe('1928301774');
    expect(tagOf(header(msg, 'To')!)).toBeNull();
    expect(userOf(header(msg, 'To')!)).toBe('bob');
    expect(parseVia(header(msg, 'Via')!)).toMatchObject({ transport: 'UDP', host: 'pc33.atlanta.com', port: null, branch: 'z9hG4bK776asdhds' });
  });

  it('serialize back to the same message, Content-Length recomputed', () => {
    const msg = parseSipMessage(INVITE);
    const again = parseSipMessage(serializeSipMessage(msg));
    expect(again).toEqual(msg);
    expect(serializeSipMessage(msg).toString()).toContain('Content-Length: 4\r\n\r\nv=0\r');
  });

  it('parse a response', () => {
    const msg = parseSipMessage('SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKx;rport\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n');
    expect(msg).toMatchObject({ kind: 'response', status: 180, reason: 'Ringing' });
    expect(parseVia(header(msg, 'Via')!)).toMatchObject({ port: 5070, rport: true });
  });

  it('refuse what is broken, saying why', () => {
    expect(reason(() => parseSipMessage('\x00\x01garbage'))).toBe('no-header-end');
    expect(reason(() => parseSipMessage('HELLO WORLD\r\n\r\n'))).toBe('bad-start-line');
    expect(reason(() => parseSipMessage(INVITE.replace('l: 4', 'l: 400')))).toBe('short-body');
    expect(reason(() => parseSipMessage(INVITE.replace('l: 4', 'l: four')))).toBe('bad-content-length');
    expect(reason(() => parseSipMessage(INVITE.replace('i: a84b4c76e66710@pc33.atlanta.com\r\n', '')))).toBe('missing-header');
    expect(reason(() => parseSipMessage(INVITE.replace('CSeq: 314159 INVITE', 'CSeq: 314159 BYE')))).toBe('cseq-method');
    expect(reason(() => parseSipMessage(INVITE.replace('CSeq: 314159 INVITE', 'CSeq: INVITE')))).toBe('bad-cseq');
    expect(reason(() => parseSipMessage(INVITE.replace('Max-Forwards: 70', 'Max Forwards: 70')))).toBe('bad-header');
    expect(reason(() => parseSipMessage(INVITE.replace('Max-Forwards: 70', 'no colon here')))).toBe('bad-header');
    expect(reason(() => parseSipMessage(INVITE.replace('sip:bob@biloxi.com SIP', 'http://x SIP')))).toBe('bad-uri');
    expect(reason(() => parseSipMessage('SIP/2.0 999 Odd\r\nVia: SIP/2.0/UDP h\r\n\r\n'))).toBe('bad-status');
  });
});
