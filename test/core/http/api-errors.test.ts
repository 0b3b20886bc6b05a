import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host.ts';
import { startTestHost } from '../../helpers/host.ts';

describe('the host API on bad input', () => {
  let host: Host;
  beforeAll(async () => {
    // No media servers: selection has nothing to pick.
    host = await startTestHost({ mediaServers: { embedded: 0 } });
  });
  afterAll(async () => {
    await host?.close();
  });

  const json = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('answers malformed JSON with 400 CAPSTAN_ERR_BAD_REQUEST', async () => {
    const r = await host.http.inject({ url: '/api/v1/calls', ...json('{"from": ') });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ code: 'CAPSTAN_ERR_BAD_REQUEST' });
  });

  it('answers an invalid field with 400 naming the field', async () => {
    const r = await host.http.inject({ url: '/api/v1/calls', ...json(JSON.stringify({ legs: [{ role: 'operator' }] })) });
    expect(r.statusCode).toBe(400);
    expect(r.json().code).toBe('CAPSTAN_ERR_BAD_REQUEST');
    expect(r.json().message).toContain('legs.0.role');
  });

  it('answers an unknown call id with 404 CAPSTAN_ERR_CALL_NOT_FOUND', async () => {
    const r = await host.http.inject({ method: 'DELETE', url: '/api/v1/calls/no-such-call' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'CAPSTAN_ERR_CALL_NOT_FOUND', details: { callId: 'no-such-call' } });
  });

  it('answers an unknown recording id with 404 CAPSTAN_ERR_RECORDING_NOT_FOUND', async () => {
    for (const url of ['/api/v1/recordings/nope', '/api/v1/recordings/nope/audio']) {
      const r = await host.http.inject({ url });
      expect(r.statusCode).toBe(404);
      expect(r.json().code).toBe('CAPSTAN_ERR_RECORDING_NOT_FOUND');
    }
  });

  it('answers a call with no media server available with 503 CAPSTAN_ERR_NO_MEDIA_SERVER, and raises an event', async () => {
    const failures: string[] = [];
    host.events.on('media-server.selection-failed', ({ ruleSet, error }) => void failures.push(`${ruleSet}: ${error.code}`));
    const r = await host.http.inject({ url: '/api/v1/calls', ...json(JSON.stringify({ legs: [{ role: 'caller' }] })) });
    expect(r.statusCode).toBe(503);
    expect(r.json().code).toBe('CAPSTAN_ERR_NO_MEDIA_SERVER');
    expect(failures).toEqual(['default: CAPSTAN_ERR_NO_MEDIA_SERVER']);
  });

  it('answers an unknown route with 404 CAPSTAN_ERR_NOT_FOUND', async () => {
    const r = await host.http.inject({ url: '/api/v2/everything' });
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('CAPSTAN_ERR_NOT_FOUND');
  });

  it('refuses a media server registration without the shared secret', async () => {
    const r = await host.http.inject({
      url: '/api/v1/media-servers/register',
      ...json(JSON.stringify({ id: 'rogue', location: 'x', controlUrl: 'http://127.0.0.1:1', version: '0' })),
    });
    expect(r.statusCode).toBe(401);
    expect(r.json().code).toBe('CAPSTAN_ERR_UNAUTHORIZED');
    expect(host.registry.get('rogue')).toBeNull();
  });

  it('reports itself degraded when no media server is up, and serves the OpenAPI docs', async () => {
    const health = await host.http.inject({ url: '/api/v1/health' });
    expect(health.json()).toMatchObject({ status: 'degraded', mediaServers: [] });
    const spec = await host.http.inject({ url: '/docs/json' });
    expect(spec.statusCode).toBe(200);
    expect(Object.keys(spec.json().paths)).toEqual(expect.arrayContaining(['/api/v1/calls', '/api/v1/recordings', '/api/v1/health']));
  });
});
