import { randomBytes } from 'node:crypto';
import type { Principal } from '../http/api-auth.ts';

/**
 * Signed-in console sessions, in memory: an unguessable id (the cookie's value) → who, until when.
 * A host restart signs everyone out (documented); nothing secret is ever in the cookie itself.
 */
export class Sessions {
  readonly #sessions = new Map<string, { principal: Principal; expiresAt: number }>();
  readonly #ttlMs: number;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  create(principal: Principal): string {
    const id = randomBytes(32).toString('base64url');
    this.#sessions.set(id, { principal, expiresAt: Date.now() + this.#ttlMs });
    return id;
  }

  get(id: string | undefined): Principal | null {
    if (!id) return null;
    const s = this.#sessions.get(id);
    if (!s) return null;
    if (s.expiresAt < Date.now()) {
      this.#sessions.delete(id);
      return null;
    }
    return s.principal;
  }

  delete(id: string | undefined): void {
    if (id) this.#sessions.delete(id);
  }
}

export const SESSION_COOKIE = 'capstan_session';

/** The session id from a Cookie header, if any. */
export function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === SESSION_COOKIE) return v.join('=');
  }
  return undefined;
}
