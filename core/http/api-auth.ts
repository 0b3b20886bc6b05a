/**
 * API tokens and roles. Every `/api/v1` request gets a principal: from its bearer token when
 * tokens are configured (no or unknown token → 401), or an anonymous admin when none are (a
 * single box on loopback). Routes then check the role they need.
 *
 * Not covered here: media-server registration and load reports (the shared secret), health
 * (load balancers probe it), /metrics and /docs.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CapstanError } from '../errors.ts';

export type Role = 'admin' | 'supervisor' | 'agent';

export interface Principal {
  name: string;
  role: Role;
  /** The agent an `agent` principal stands for. */
  agent: string | null;
}

export interface ApiToken {
  name: string;
  token: string;
  role: Role;
  agent?: string | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

const OPEN = /^\/api\/v1\/(health$|(media-servers|rcs-servers)\/register$|(media-servers|rcs-servers)\/[^/]+\/load$)/;
const ANONYMOUS: Principal = { name: 'anonymous', role: 'admin', agent: null };

/**
 * `sessionOf`: the principal of a signed-in console session the request carries (its cookie), if
 * any. A session counts before tokens, so a browser is always who signed in, even on an open API.
 */
export function installApiAuth(app: FastifyInstance, tokens: readonly ApiToken[], sessionOf: (request: FastifyRequest) => Principal | null = () => null): void {
  const known = tokens.map((t) => ({ bytes: Buffer.from(t.token), principal: { name: t.name, role: t.role, agent: t.agent ?? null } satisfies Principal }));
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0]!;
    if (!path.startsWith('/api/v1/') || OPEN.test(path)) return;
    const session = sessionOf(request);
    if (session) {
      request.principal = session;
      return;
    }
    if (known.length === 0) {
      request.principal = ANONYMOUS;
      return;
    }
    const header = request.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    // Compare with every token, in constant time each, so timing says nothing about which matched.
    let found: Principal | null = null;
    for (const k of known) if (k.bytes.length === given.length && timingSafeEqual(k.bytes, given)) found = k.principal;
    if (!found) throw new CapstanError('CAPSTAN_ERR_UNAUTHORIZED', header ? 'The API token is not valid' : 'An API token is required (Authorization: Bearer <token>)');
    request.principal = found;
  });
}

/** Refuses with 403 unless the request's principal has one of `roles`. */
export function requireRole(request: FastifyRequest, ...roles: Role[]): Principal {
  const p = request.principal;
  // Fail closed: a route reached without the auth hook is a wiring bug, never an open door.
  if (!p) throw new CapstanError('CAPSTAN_ERR_INTERNAL', 'No principal: the API auth hook is not installed');
  if (!roles.includes(p.role)) {
    throw new CapstanError('CAPSTAN_ERR_FORBIDDEN', `This needs the ${roles.join(' or ')} role; ${p.name} is ${p.role}`, { details: { role: p.role } });
  }
  return p;
}

/** An agent sees only what is its own (its agent id); supervisors and admins see everything. */
export function mayAccessAgentOf(principal: Principal, agent: string | null): boolean {
  return principal.role !== 'agent' || (agent !== null && agent === principal.agent);
}
