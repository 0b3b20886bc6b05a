/**
 * The registrar (RFC 3261 §10): agent phones REGISTER where they take calls, and routes whose `to`
 * is `registered` (the called number's own binding) or `registered:USER` send calls there.
 *
 * Only configured users may register, each proving its password by Digest (sip-digest.ts); with
 * `open`, anyone may, without a password (a lab or a closed network only: whoever registers a
 * number takes its calls). Bindings live in memory: after a restart phones register again, as they
 * do every `expires` seconds anyway.
 */
import { DigestAuthenticator } from './sip-digest.ts';
import { header, headers, uriOf, userOf, type SipRequest } from './sip-message.ts';

export interface SipRegistrarOptions {
  /** Users allowed to register and their passwords. Default {}. */
  users: Record<string, string>;
  /** Accept any user without a password. Default false. */
  open: boolean;
  /** Digest realm. Default `capstan`. */
  realm: string;
  /** Longest registration granted, s. Default 3600. */
  maxExpires: number;
  /** Shortest registration accepted, s (shorter: 423 Interval Too Brief). Default 60. */
  minExpires: number;
}

/** Nobody may register: what the B2BUA runs with when it is given no registrar options. */
export const CLOSED_REGISTRAR: SipRegistrarOptions = { users: {}, open: false, realm: 'capstan', maxExpires: 3600, minExpires: 60 };

export interface Binding {
  user: string;
  /** The Contact URI the phone registered: where its calls go. */
  contact: string;
  expiresAt: number;
}

/** What to answer a REGISTER: status, reason and extra headers. */
export interface RegisterAnswer {
  status: number;
  reason: string;
  headers: [string, string][];
}

export class SipRegistrar {
  readonly #options: SipRegistrarOptions;
  readonly #auth: DigestAuthenticator;
  readonly #bindings = new Map<string, Binding>();

  constructor(options: SipRegistrarOptions) {
    this.#options = options;
    this.#auth = new DigestAuthenticator(options.realm);
  }

  register(req: SipRequest, now = Date.now()): RegisterAnswer {
    const user = userOf(header(req, 'To') ?? '');
    if (!user) return { status: 400, reason: 'Bad Request (no user in To)', headers: [] };
    const password = this.#options.users[user];
    if (password === undefined && !this.#options.open) return { status: 403, reason: 'Forbidden (not a registered user)', headers: [] };
    if (password !== undefined && !this.#auth.verify(header(req, 'Authorization'), 'REGISTER', user, password)) {
      // No credentials yet, or wrong ones, or a stale nonce: a fresh challenge either way.
      return { status: 401, reason: 'Unauthorized', headers: [['WWW-Authenticate', this.#auth.challenge()]] };
    }
    const contacts = headers(req, 'Contact').flatMap((v) => v.split(/,(?![^<]*>)/)).map((c) => c.trim()).filter(Boolean);
    const expiresHeader = header(req, 'Expires');
    const defaultExpires = expiresHeader !== undefined && /^\d+$/.test(expiresHeader.trim()) ? Number(expiresHeader) : 3600;
    if (contacts.length === 1 && contacts[0] === '*') {
      if (defaultExpires !== 0) return { status: 400, reason: 'Bad Request (Contact * needs Expires: 0)', headers: [] };
      this.#bindings.delete(user);
      return { status: 200, reason: 'OK', headers: [] };
    }
    for (const contact of contacts) {
      const own = /;\s*expires=(\d+)/i.exec(contact.includes('>') ? contact.slice(contact.lastIndexOf('>')) : contact)?.[1];
      const expires = own !== undefined ? Number(own) : defaultExpires;
      if (expires === 0) {
        if (this.#bindings.get(user)?.contact === uriOf(contact)) this.#bindings.delete(user);
        continue;
      }
      if (expires < this.#options.minExpires) return { status: 423, reason: 'Interval Too Brief', headers: [['Min-Expires', String(this.#options.minExpires)]] };
      // One binding per user: the phone that registered last takes the calls.
      this.#bindings.set(user, { user, contact: uriOf(contact), expiresAt: now + Math.min(expires, this.#options.maxExpires) * 1000 });
    }
    const binding = this.lookup(user, now);
    return {
      status: 200,
      reason: 'OK',
      headers: binding ? [['Contact', `<${binding.contact}>;expires=${Math.round((binding.expiresAt - now) / 1000)}`], ['Date', new Date(now).toUTCString()]] : [],
    };
  }

  /** The live binding of a user, or null. */
  lookup(user: string, now = Date.now()): Binding | null {
    const b = this.#bindings.get(user);
    if (!b) return null;
    if (b.expiresAt <= now) {
      this.#bindings.delete(user);
      return null;
    }
    return b;
  }

  list(now = Date.now()): { user: string; contact: string; expiresInS: number }[] {
    return [...this.#bindings.values()].filter((b) => b.expiresAt > now).map((b) => ({ user: b.user, contact: b.contact, expiresInS: Math.round((b.expiresAt - now) / 1000) }));
  }
}
