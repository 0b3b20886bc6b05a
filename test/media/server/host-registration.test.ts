import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadReport, RegisterRequest } from '../../../media/control-api.ts';
import { runMediaServer, type MediaServer } from '../../../media/server/main.ts';

const SECRET = 'registration-test-secret';

/** The host's side of the contract, as a real HTTP server that records what it is sent. */
async function fakeHost(port: number, options: { forgetAfterLoads?: number } = {}) {
  const seen = { registers: [] as RegisterRequest[], loads: [] as LoadReport[], auth: new Set<string>() };
  const app: FastifyInstance = Fastify();
  let known = false;
  app.post('/api/v1/media-servers/register', async (req) => {
    seen.auth.add(String(req.headers.authorization));
    const body = RegisterRequest.parse(req.body);
    seen.registers.push(body);
    known = true;
    return { id: body.id };
  });
  app.post('/api/v1/media-servers/:id/load', async (req, reply) => {
    if (!known) return reply.code(404).send({ code: 'CAPSTAN_ERR_NOT_FOUND', message: 'unknown' });
    seen.loads.push(LoadReport.parse(req.body));
    if (options.forgetAfterLoads !== undefined && seen.loads.length === options.forgetAfterLoads) known = false;
    return reply.code(204).send();
  });
  await app.listen({ port, host: '127.0.0.1' });
  return { app, seen };
}

async function freePort(): Promise<number> {
  const probe = Fastify();
  await probe.listen({ port: 0, host: '127.0.0.1' });
  const { port } = probe.server.address() as { port: number };
  await probe.close();
  return port;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function startMediaServer(hostPort: number): Promise<MediaServer> {
  const dir = mkdtempSync(join(tmpdir(), 'registration-'));
  const server = await runMediaServer({
    location: 'site-a',
    id: 'ms-reg',
    hostUrl: `http://127.0.0.1:${hostPort}`,
    port: 0,
    address: '127.0.0.1',
    rtpAddress: '127.0.0.1',
    rtpPorts: [47300, 47399],
    dataDir: dir,
    secret: SECRET,
    loadIntervalMs: 100,
    logLevel: 'silent',
  });
  cleanup.push(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return server;
}

describe('media server registration', () => {
  it('keeps running while the host is absent, then registers and reports load once it appears', async () => {
    const port = await freePort();
    const server = await startMediaServer(port);
    await sleep(300);
    expect((await fetch(`${server.controlUrl}/v1/health`, { headers: { authorization: `Bearer ${SECRET}` } })).status).toBe(200);

    const host = await fakeHost(port);
    cleanup.push(() => host.app.close());
    await sleep(500);
    expect(host.seen.registers[0]).toMatchObject({ id: 'ms-reg', location: 'site-a', controlUrl: server.controlUrl, pid: process.pid });
    expect(host.seen.loads.length).toBeGreaterThanOrEqual(2);
    expect(host.seen.loads.at(-1)).toMatchObject({ acceptsSessions: true, activeResources: 0 });
    expect([...host.seen.auth]).toEqual([`Bearer ${SECRET}`]);
  });

  it('registers again when the host answers a load report with 404', async () => {
    const port = await freePort();
    const host = await fakeHost(port, { forgetAfterLoads: 2 });
    cleanup.push(() => host.app.close());
    await startMediaServer(port);
    await sleep(600);
    expect(host.seen.registers.length).toBe(2);
    expect(host.seen.loads.length).toBeGreaterThan(2);
  });
});
