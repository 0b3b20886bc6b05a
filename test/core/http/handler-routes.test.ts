import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../../core/http/create-http-server.ts';
import { handlerRoutes } from '../../../core/http/routes/handler-routes.ts';
import { installApiAuth } from '../../../core/http/api-auth.ts';
import { memoryLogger, startRuntime, type RuntimeFixture } from '../handlers/helpers.ts';

describe('the handlers API', () => {
  let app: FastifyInstance;
  let f: RuntimeFixture;
  beforeAll(async () => {
    f = await startRuntime({ ok: `capstan.on('call.held', () => {});`, broken: `const = ;` });
    app = await createHttpServer(memoryLogger().logger, 'test');
    installApiAuth(app, []);
    handlerRoutes(app, f.runtime);
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await f?.runtime.close();
  });

  it('lists handlers with version, status, last error and reload history', async () => {
    const r = await app.inject({ url: '/api/v1/handlers' });
    expect(r.statusCode).toBe(200);
    expect(r.json().items).toMatchObject([
      { name: 'broken', status: 'failed', version: null, lastError: { code: 'CAPSTAN_ERR_HANDLER_COMPILE' }, reloads: [{ outcome: 'failed' }] },
      { name: 'ok', status: 'running', version: 1, subscriptions: ['call.held'], reloads: [{ outcome: 'loaded' }] },
    ]);
  });

  it('answers one handler, and 404 CAPSTAN_ERR_HANDLER_NOT_FOUND for an unknown one', async () => {
    expect((await app.inject({ url: '/api/v1/handlers/ok' })).json()).toMatchObject({ name: 'ok', status: 'running' });
    const r = await app.inject({ url: '/api/v1/handlers/nope' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'CAPSTAN_ERR_HANDLER_NOT_FOUND', details: { name: 'nope' } });
  });

  it('reloads a handler on POST', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/v1/handlers/ok/reload' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ name: 'ok', version: 2, status: 'running' });
    expect((await app.inject({ method: 'POST', url: '/api/v1/handlers/ghost/reload' })).statusCode).toBe(404);
  });
});
