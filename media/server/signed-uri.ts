/**
 * Signed file URIs: the media server hands out `<base>/files/<fileName>?expires=<unix s>&sig=<sig>`
 * so requesters can fetch (GET/HEAD) and delete (DELETE) one recording without holding the
 * control secret.
 *
 * sig = base64url(HMAC-SHA256(secret, "capstan-file-v1\n" + fileName + "\n" + expires)); the
 * prefix keeps these MACs distinct from anything else signed with the same secret. Verification
 * order and outcomes (the file routes map them to HTTP):
 *   bad-name      the name fails FILE_NAME_PATTERN (cannot leave the folder)   → 400
 *   unsigned      expires or sig missing or malformed                          → 403
 *   bad-signature the MAC does not match (tampered name/expiry, other secret)  → 403
 *   expired       genuine but past its expiry                                  → 401 CAPSTAN_ERR_URI_EXPIRED
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Recording file names: no separators, no leading dot, a known extension. */
export const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}(\.[A-Za-z0-9_-]{1,64})?\.(wav|opus|sasf)$/;

export type UriCheck = { ok: true } | { ok: false; reason: 'bad-name' | 'unsigned' | 'bad-signature' | 'expired' };

function mac(fileName: string, expires: number, secret: string): Buffer {
  return createHmac('sha256', secret).update(`capstan-file-v1\n${fileName}\n${expires}`).digest();
}

/**
 * Signs the URI of `fileName` under `baseUrl` (the media server's public base, no trailing
 * slash needed), valid for `ttlSeconds` from `nowSeconds` (default: the current time).
 */
export function signFileUri(baseUrl: string, fileName: string, secret: string, ttlSeconds: number, nowSeconds = Date.now() / 1000): string {
  if (!FILE_NAME_PATTERN.test(fileName)) throw new RangeError(`not a valid recording file name: ${fileName}`);
  const expires = Math.floor(nowSeconds + ttlSeconds);
  const sig = mac(fileName, expires, secret).toString('base64url');
  return `${baseUrl.replace(/\/+$/, '')}/files/${encodeURIComponent(fileName)}?expires=${expires}&sig=${sig}`;
}

/** Checks a request's file name and its `expires`/`sig` query values. */
export function verifyFileUri(
  fileName: string,
  expires: string | undefined,
  sig: string | undefined,
  secret: string,
  nowSeconds = Date.now() / 1000,
): UriCheck {
  if (!FILE_NAME_PATTERN.test(fileName)) return { ok: false, reason: 'bad-name' };
  if (!expires || !sig || !/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return { ok: false, reason: 'unsigned' };
  const expected = mac(fileName, Number(expires), secret);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  if (Number(expires) < nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true };
}
