import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall } from '../../plugins/call-source-simulator/simulated-call.ts';
import { startTestHost } from '../helpers/host.ts';
import { until } from '../helpers/until.ts';

const audio = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!;


describe('handlers running in the host', () => {
  let host: Host;
  let handlersDir: string;
  beforeAll(async () => {
    handlersDir = mkdtempSync(join(tmpdir(), 'capstan-handlers-'));
    copyFileSync(new URL('../../handlers/workgroup-record-all.ts', import.meta.url), join(handlersDir, 'workgroup-record-all.ts'));
    host = await startTestHost({
      handlersDir,
      mediaServers: { embedded: 1 },
      recorder: { policies: [] },
      handlers: { config: { 'workgroup-record-all': { workgroups: { sales: { email: 'sales-qa@example.com' } } } } },
    });
  });
  afterAll(async () => {
    await host?.close();
  });

  it('lists the loaded handlers with their version and subscriptions', async () => {
    const r = (await (await fetch(`${host.url}/api/v1/handlers`)).json()) as { items: { name: string; status: string; subscriptions: string[] }[] };
    expect(r.items).toEqual([expect.objectContaining({ name: 'workgroup-record-all', status: 'running', subscriptions: expect.arrayContaining(['call.assigned']) })]);
  });

  it('records a sales call for the workgroup and mails it to the workgroup’s address (outbox)', async () => {
    const call = await placeSimulatedCall({ hostUrl: host.url, callerAudio: audio, durationMs: 1500, workgroup: 'sales', agent: 'bob' });
    expect(call.recordings).toEqual([expect.objectContaining({ requester: 'workgroup' })]);
    const outbox = join(host.config.dataDir, 'outbox');
    const files = await until(() => readdirSync(outbox).filter((f) => f.endsWith('.eml')), (f) => f.length === 1);
    const mail = await simpleParser(readFileSync(join(outbox, files[0]!)));
    expect(mail.to).toMatchObject({ text: 'sales-qa@example.com' });
    expect(mail.attachments).toHaveLength(1);
    expect(readPcm8k(mail.attachments[0]!.content).frames).toBeGreaterThan(8000);
  });

  it('does not record a call of another workgroup', async () => {
    const call = await placeSimulatedCall({ hostUrl: host.url, callerAudio: audio, durationMs: 300, workgroup: 'support' });
    expect(call.recordings).toEqual([]);
  });

  it('picks up a handler dropped into the folder, and forgets it when deleted', async () => {
    const file = join(handlersDir, 'tagger.ts');
    writeFileSync(file, "capstan.on('call.connected', ({ call }) => capstan.log.info('seen', { callId: call.callId }));\n");
    await until(() => host.handlers.list().map((h) => `${h.name}:${h.status}`), (l) => l.includes('tagger:running'));
    const { rmSync } = await import('node:fs');
    rmSync(file);
    await until(() => host.handlers.list().map((h) => h.name), (l) => !l.includes('tagger'));
  });
});
