import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { CapstanError } from '../errors.ts';

/**
 * The host's own components (media servers, Remote Content Service servers) and the host itself
 * authenticate to each other with the shared secret as a bearer token, compared in constant time.
 */
export function requireSecret(secret: string, who = 'A media server'): (request: FastifyRequest) => Promise<void> {
  const expected = Buffer.from(`Bearer ${secret}`);
  return async (request) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new CapstanError('CAPSTAN_ERR_UNAUTHORIZED', `${who} must present the shared secret`);
    }
  };
}
