/**
 * SIP messages (RFC 3261 §7, §20): `parseSipMessage` / `serializeSipMessage`. The parser checks
 * what a B2BUA relies on — the start line, the mandatory headers, CSeq, Content-Length against the
 * bytes present — and throws CAPSTAN_ERR_SIP_MALFORMED with a `reason` otherwise. Compact header
 * forms are expanded; folded header lines are joined.
 */
import { CapstanError } from '../../core/errors.ts';

export type SipHeaders = [name: string, value: string][];

export interface SipRequest {
  kind: 'request';
  method: string;
  uri: string;
  headers: SipHeaders;
  body: string;
}

export interface SipResponse {
  kind: 'response';
  status: number;
  reason: string;
  headers: SipHeaders;
  body: string;
}

export type SipMessage = SipRequest | SipResponse;

const COMPACT: Record<string, string> = {
  v: 'Via', f: 'From', t: 'To', i: 'Call-ID', m: 'Contact', l: 'Content-Length', c: 'Content-Type', k: 'Supported', s: 'Subject', e: 'Content-Encoding', o: 'Event', r: 'Refer-To', b: 'Referred-By',
};
const CANONICAL = new Map(['Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Content-Length', 'Content-Type', 'Max-Forwards', 'Allow', 'Supported', 'Subject', 'Refer-To', 'Referred-By', 'Expires', 'User-Agent', 'Record-Route', 'Route', 'Event', 'Authorization', 'WWW-Authenticate', 'Subscription-State', 'P-Asserted-Identity', 'Date'].map((h) => [h.toLowerCase(), h]));

function malformed(reason: string, message: string): CapstanError {
  return new CapstanError('CAPSTAN_ERR_SIP_MALFORMED', message, { details: { reason } });
}

function canonicalName(raw: string): string {
  const lower = raw.toLowerCase();
  return COMPACT[lower] ?? CANONICAL.get(lower) ?? raw;
}

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const MAX_MESSAGE = 65_535;

export function parseSipMessage(input: Buffer | string): SipMessage {
  const raw = typeof input === 'string' ? Buffer.from(input) : input;
  if (raw.length > MAX_MESSAGE) throw malformed('too-large', 'SIP message larger than 64 KiB');
  let headerEnd = raw.indexOf('\r\n\r\n');
  let sep = 4;
  if (headerEnd < 0) {
    headerEnd = raw.indexOf('\n\n');
    sep = 2;
  }
  if (headerEnd < 0) throw malformed('no-header-end', 'SIP message without the empty line that ends its headers');
  const head = raw.subarray(0, headerEnd).toString('utf8');
  if (/[\u0000]/.test(head)) throw malformed('binary', 'SIP message with binary bytes in its headers');
  const lines = head.split(/\r?\n/);
  const start = lines.shift()!.trim();
  const headers: SipHeaders = [];
  for (const line of lines) {
    if (/^[ \t]/.test(line) && headers.length > 0) {
      headers[headers.length - 1]![1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('bad-header', `Header line without a name: "${line.slice(0, 60)}"`);
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) throw malformed('bad-header', `Header name "${name.slice(0, 40)}" is not a token`);
    headers.push([canonicalName(name), line.slice(colon + 1).trim()]);
  }
  let body = raw.subarray(headerEnd + sep);
  const length = headers.find(([n]) => n === 'Content-Length')?.[1];
  if (length !== undefined) {
    if (!/^\d{1,6}$/.test(length)) throw malformed('bad-content-length', `Content-Length "${length}" is not a number`);
    const n = Number(length);
    // RFC 3261 §18.3: fewer bytes than declared is an error; extra bytes are discarded.
    if (n > body.length) throw malformed('short-body', `Content-Length says ${n} bytes, ${body.length} arrived`);
    body = body.subarray(0, n);
  }
  const msg = parseStart(start, headers, body.toString('utf8'));
  checkMandatory(msg);
  return msg;
}

function parseStart(start: string, headers: SipHeaders, body: string): SipMessage {
  const response = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(start);
  if (response) {
    const status = Number(response[1]);
    if (status < 100 || status > 699) throw malformed('bad-status', `Status ${status} out of range`);
    return { kind: 'response', status, reason: response[2] ?? '', headers, body };
  }
  const request = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/.exec(start);
  if (!request) throw malformed('bad-start-line', `Not a SIP/2.0 request or status line: "${start.slice(0, 80)}"`);
  if (!/^(sips?|tel):/i.test(request[2]!)) throw malformed('bad-uri', `Request-URI "${request[2]!.slice(0, 80)}" is not a SIP URI`);
  return { kind: 'request', method: request[1]!, uri: request[2]!, headers, body };
}

function checkMandatory(msg: SipMessage): void {
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    if (!msg.headers.some(([n]) => n === name)) throw malformed('missing-header', `Missing ${name} header`);
  }
  const cseq = parseCSeq(header(msg, 'CSeq')!);
  if (!cseq) throw malformed('bad-cseq', `CSeq "${header(msg, 'CSeq')}" is not "<number> <method>"`);
  if (msg.kind === 'request' && cseq.method !== msg.method && !(msg.method === 'ACK' && cseq.method === 'ACK') && !(msg.method === 'CANCEL' && cseq.method === 'CANCEL')) {
    throw malformed('cseq-method', `CSeq method ${cseq.method} does not match ${msg.method}`);
  }
  if (!parseVia(header(msg, 'Via')!)) throw malformed('bad-via', `Via "${header(msg, 'Via')!.slice(0, 80)}" cannot be read`);
}

export function serializeSipMessage(msg: SipMessage): Buffer {
  const start = msg.kind === 'request' ? `${msg.method} ${msg.uri} SIP/2.0` : `SIP/2.0 ${msg.status} ${msg.reason}`;
  const body = Buffer.from(msg.body, 'utf8');
  const lines = [start, ...msg.headers.filter(([n]) => n !== 'Content-Length').map(([n, v]) => `${n}: ${v}`), `Content-Length: ${body.length}`];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]);
}

/** The first value of a header (by canonical name), or undefined. */
export function header(msg: SipMessage, name: string): string | undefined {
  return msg.headers.find(([n]) => n === name)?.[1];
}

export function headers(msg: SipMessage, name: string): string[] {
  return msg.headers.filter(([n]) => n === name).map(([, v]) => v);
}

export function parseCSeq(value: string): { seq: number; method: string } | null {
  const m = /^(\d{1,10})\s+([A-Za-z]+)$/.exec(value.trim());
  return m ? { seq: Number(m[1]), method: m[2]! } : null;
}

export interface Via {
  transport: string;
  host: string;
  port: number | null;
  branch: string | null;
  rport: boolean;
}

/** The first (topmost) Via value of a header that may hold several, comma-separated. */
export function parseVia(value: string): Via | null {
  const first = value.split(',')[0]!.trim();
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+(\[[^\]]+\]|[^\s;:]+)(?::(\d+))?\s*(;.*)?$/.exec(first);
  if (!m) return null;
  const params = m[4] ?? '';
  return { transport: m[1]!.toUpperCase(), host: m[2]!, port: m[3] ? Number(m[3]) : null, branch: /;\s*branch=([^;\s]+)/i.exec(params)?.[1] ?? null, rport: /;\s*rport(?:[;=]|$)/i.test(params) };
}

/** The `tag` parameter of a From or To value (outside its <...>), or null. */
export function tagOf(value: string): string | null {
  const afterUri = value.includes('>') ? value.slice(value.lastIndexOf('>')) : value;
  return /;\s*tag=([^;\s]+)/i.exec(afterUri)?.[1] ?? null;
}

/** The user part of the SIP URI in a From/To/Request-URI value (`sip:alice@host` → `alice`). */
export function userOf(value: string): string {
  const uri = /<([^>]+)>/.exec(value)?.[1] ?? value.split(';')[0]!.trim();
  return /^(?:sips?|tel):([^@;>]+)@/i.exec(uri)?.[1] ?? /^tel:([^;>]+)/i.exec(uri)?.[1] ?? '';
}

/** The URI inside a Contact (or From/To) value. */
export function uriOf(value: string): string {
  return /<([^>]+)>/.exec(value)?.[1] ?? value.split(';')[0]!.trim();
}
