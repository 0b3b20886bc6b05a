import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall, waitForStoredRecordings } from '../../plugins/call-source-simulator/simulated-call.ts';
import { startTestHost } from '../helpers/host.ts';

const ADMIN = 'admin-token-0123456789abcdef';
const SUPERVISOR = 'supervisor-token-0123456789ab';
const ALICE = 'alice-token-0123456789abcdefgh';
const BOB = 'bob-token-0123456789abcdefghij';
const audio = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!;

describe('API tokens, roles and the audit log', () => {
  let host: Host;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    host = await startTestHost({
      mediaServers: { embedded: 1 },
      api: {
        tokens: [
          { name: 'ops', token: ADMIN, role: 'admin' },
          { name: 'sue', token: SUPERVISOR, role: 'supervisor' },
          { name: 'alice', token: ALICE, role: 'agent', agent: 'alice' },
          { name: 'bob', token: BOB, role: 'agent', agent: 'bob' },
        ],
      },
    });
    for (const agent of ['alice', 'bob']) {
      const call = await placeSimulatedCall({ hostUrl: host.url, callerAudio: audio, durationMs: 600, agent, token: ADMIN });
      await waitForStoredRecordings(host.url, call.callId, 20_000, ADMIN);
      ids[agent] = call.recordings[0]!.recordingId;
    }
  });
  afterAll(async () => {
    await host?.close();
  });

  const get = (path: string, token?: string) => fetch(`${host.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('refuses the API without a valid token, and keeps health open', async () => {
    expect((await get('/api/v1/recordings')).status).toBe(401);
    const bad = await get('/api/v1/recordings', 'x'.repeat(30));
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { code: string }).code).toBe('CAPSTAN_ERR_UNAUTHORIZED');
    expect((await get('/api/v1/health')).status).toBe(200);
  });

  it('shows an agent only their own recordings and refuses another agent’s', async () => {
    const list = (await (await get('/api/v1/recordings', ALICE)).json()) as { items: { id: string }[] };
    expect(list.items.map((r) => r.id)).toEqual([ids.alice]);
    // Asking for someone else's by filter changes nothing.
    const sneaky = (await (await get('/api/v1/recordings?agent=bob', ALICE)).json()) as { items: unknown[] };
    expect(sneaky.items.map((r) => (r as { id: string }).id)).toEqual([ids.alice]);
    for (const path of [`/api/v1/recordings/${ids.bob}`, `/api/v1/recordings/${ids.bob}/audio`]) {
      const r = await get(path, ALICE);
      expect(r.status).toBe(403);
      expect(((await r.json()) as { code: string }).code).toBe('CAPSTAN_ERR_FORBIDDEN');
    }
    expect((await get(`/api/v1/recordings/${ids.alice}/audio`, ALICE)).status).toBe(200);
  });

  it('lets a supervisor see and play everything but not delete, and audits every playback and export', async () => {
    const all = (await (await get('/api/v1/recordings', SUPERVISOR)).json()) as { total: number };
    expect(all.total).toBe(2);
    expect((await get(`/api/v1/recordings/${ids.bob}/audio`, SUPERVISOR)).status).toBe(200);
    expect((await get(`/api/v1/recordings/${ids.bob}/audio?download=1`, SUPERVISOR)).headers.get('content-disposition')).toMatch(/^attachment/);
    const del = await fetch(`${host.url}/api/v1/recordings/${ids.bob}`, { method: 'DELETE', headers: { authorization: `Bearer ${SUPERVISOR}` } });
    expect(del.status).toBe(403);
    const audit = (await (await get(`/api/v1/audit?recordingId=${ids.bob}`, SUPERVISOR)).json()) as { items: { actor: string; action: string }[] };
    expect(audit.items.map((e) => `${e.actor}:${e.action}`)).toEqual(['sue:export', 'sue:playback']);
    expect((await get('/api/v1/audit', ALICE)).status).toBe(403);
  });

  it('lets an admin delete a recording, media and all, audited', async () => {
    const del = await fetch(`${host.url}/api/v1/recordings/${ids.bob}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(del.status).toBe(204);
    expect((await get(`/api/v1/recordings/${ids.bob}`, ADMIN)).status).toBe(404);
    const audit = (await (await get(`/api/v1/audit?actor=ops`, ADMIN)).json()) as { items: { action: string; recordingId: string }[] };
    expect(audit.items).toContainEqual(expect.objectContaining({ action: 'delete', recordingId: ids.bob }));
  });

  it('refuses placing calls to anyone but an admin', async () => {
    const r = await fetch(`${host.url}/api/v1/calls`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ALICE}` }, body: '{"legs":[{"role":"caller"}]}' });
    expect(r.status).toBe(403);
  });
});
