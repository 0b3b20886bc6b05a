import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from '../logger.ts';
import { CapstanError, isCapstanError } from '../errors.ts';
import { zodValidatorCompiler } from './zod-schema.ts';

/** The host's HTTP server: coded JSON errors everywhere, OpenAPI docs at /docs. */
export async function createHttpServer(logger: Logger, version: string): Promise<FastifyInstance> {
  // pino's Logger is a FastifyBaseLogger; the cast only drops pino's richer generic.
  const app = Fastify({ loggerInstance: logger.child({ component: 'http' }), logController: new LogController({ disableRequestLogging: true }), bodyLimit: 1024 * 1024 }) as unknown as FastifyInstance;
  app.setValidatorCompiler(zodValidatorCompiler);

  app.setErrorHandler((error: FastifyError | CapstanError, request, reply) => {
    let coded: CapstanError;
    if (isCapstanError(error)) coded = error;
    else if (error.validation || (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)) {
      // fastify's own 4xx: malformed JSON, wrong content type, body too large...
      coded = new CapstanError('CAPSTAN_ERR_BAD_REQUEST', error.message, { details: { reason: error.code } });
      coded = Object.assign(coded, { statusCode: error.statusCode ?? 400 });
    } else {
      request.log.error({ err: error }, 'unexpected error');
      coded = new CapstanError('CAPSTAN_ERR_INTERNAL', 'Internal error; see the host log');
    }
    void reply.status(coded.statusCode).send(coded.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(new CapstanError('CAPSTAN_ERR_NOT_FOUND', `No route ${request.method} ${request.url}`).toJSON());
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Capstan API', version, description: 'Call recording: calls, recordings, media servers, health.' },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  return app;
}
