/**
 * HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 2617), MD5 as every phone speaks it.
 * Nonces are stateless: a timestamp and its HMAC with a secret of this process, so any nonce we
 * handed out in the last `nonceTtlMs` verifies without a table, and a forged or stale one does not.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  qop?: string | undefined;
  nc?: string | undefined;
  cnonce?: string | undefined;
}

/** The parameters of an `Authorization: Digest ...` value, or null when it is not Digest. */
export function parseDigest(value: string): DigestCredentials | null {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return null;
  const params: Record<string, string> = {};
  for (const p of m[1]!.matchAll(/([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|([^\s,]+))/g)) params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? '';
  const { username, realm, nonce, uri, response } = params;
  if (!username || realm === undefined || !nonce || !uri || !response) return null;
  return { username, realm, nonce, uri, response, qop: params.qop, nc: params.nc, cnonce: params.cnonce };
}

export class DigestAuthenticator {
  readonly realm: string;
  readonly #secret = randomBytes(32);
  readonly #nonceTtlMs: number;

  /** `nonceTtlMs`: how long a challenge's nonce stays good. Default 5 minutes. */
  constructor(realm: string, nonceTtlMs = 300_000) {
    this.realm = realm;
    this.#nonceTtlMs = nonceTtlMs;
  }

  #sign(stamp: string): string {
    return createHmac('sha256', this.#secret).update(stamp).digest('hex').slice(0, 32);
  }

  /** A `WWW-Authenticate` value with a fresh nonce. */
  challenge(): string {
    const stamp = Date.now().toString(16);
    return `Digest realm="${this.realm}", nonce="${stamp}.${this.#sign(stamp)}", algorithm=MD5, qop="auth"`;
  }

  #nonceValid(nonce: string): boolean {
    const [stamp, mac] = nonce.split('.');
    if (!stamp || !mac || mac.length !== 32) return false;
    const expected = Buffer.from(this.#sign(stamp));
    if (!timingSafeEqual(expected, Buffer.from(mac))) return false;
    const age = Date.now() - parseInt(stamp, 16);
    return age >= 0 && age <= this.#nonceTtlMs;
  }

  /**
   * Whether `authorization` proves knowledge of `password` for `method`: the nonce ours and fresh,
   * the realm ours, the response right (with or without qop=auth).
   */
  verify(authorization: string | undefined, method: string, expectedUser: string, password: string): boolean {
    const c = authorization ? parseDigest(authorization) : null;
    if (!c || c.username !== expectedUser || c.realm !== this.realm || !this.#nonceValid(c.nonce)) return false;
    const ha1 = md5(`${c.username}:${this.realm}:${password}`);
    const ha2 = md5(`${method}:${c.uri}`);
    const expected = c.qop ? md5(`${ha1}:${c.nonce}:${c.nc ?? ''}:${c.cnonce ?? ''}:${c.qop}:${ha2}`) : md5(`${ha1}:${c.nonce}:${ha2}`);
    return expected.length === c.response.length && timingSafeEqual(Buffer.from(expected), Buffer.from(c.response.toLowerCase()));
  }
}
