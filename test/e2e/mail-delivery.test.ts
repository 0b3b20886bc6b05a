import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import type { Delivery } from '../../core/delivery/delivery-store.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall, type CallCreated } from '../../plugins/call-source-simulator/simulated-call.ts';
import { startTestHost } from '../helpers/host.ts';
import { until } from '../helpers/until.ts';
import { freePort, SmtpSink } from '../helpers/smtp-sink.ts';

const audio = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!;

let host: Host | undefined;
const sinks: SmtpSink[] = [];
afterEach(async () => {
  await host?.close();
  host = undefined;
  for (const s of sinks.splice(0)) await s.close();
});

async function hostWithSmtp(port: number, maxAttachmentBytes?: number): Promise<Host> {
  return startTestHost({
    mediaServers: { embedded: 1 },
    recorder: { policies: [] },
    mail: {
      smtp: { host: '127.0.0.1', port },
      from: 'capstan@test.example',
      agents: { alice: 'alice@example.com' },
      retryInitialMs: 200,
      retryMaxMs: 800,
      ...(maxAttachmentBytes ? { maxAttachmentBytes } : {}),
    },
  });
}

/** A call by agent alice during which she starts an ad hoc (client) recording. */
async function clientRecordedCall(h: Host): Promise<{ recordingId: string; uri: string; callId: string }> {
  let started: { recordingId: string; uri: string } | undefined;
  const call = await placeSimulatedCall({
    hostUrl: h.url,
    callerAudio: audio,
    durationMs: 1500,
    agent: 'alice',
    onConnected: async (c: CallCreated) => {
      const r = await fetch(`${h.url}/api/v1/calls/${c.call.callId}/recordings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ requester: 'client' }),
      });
      expect(r.status).toBe(201);
      started = (await r.json()) as { recordingId: string; uri: string };
    },
  });
  return { ...started!, callId: call.callId };
}

async function delivery(h: Host, id: string): Promise<Delivery> {
  const { items } = (await (await fetch(`${h.url}/api/v1/deliveries`)).json()) as { items: Delivery[] };
  return items.find((d) => d.recordingId === id)!;
}


describe('mailing recordings to their requester', () => {
  it('mails an agent’s ad hoc recording to the agent, attachment byte-identical, keeps a copy for supervisors, then deletes it on the media server', async () => {
    const smtp = new SmtpSink();
    sinks.push(smtp);
    host = await hostWithSmtp(await smtp.listen());
    const rec = await clientRecordedCall(host);
    const [mail] = await smtp.waitFor(1);
    expect(mail!.to).toMatchObject({ text: 'alice@example.com' });
    expect(mail!.from).toMatchObject({ text: 'capstan@test.example' });
    expect(mail!.attachments).toHaveLength(1);
    const attachment = mail!.attachments[0]!;
    expect(attachment.contentType).toBe('audio/wav');
    const d = await until(() => delivery(host!, rec.recordingId), (x) => x.status === 'delivered' && x.uri === null);
    // Byte-identical to what the media server wrote: same size and SHA-256 as its stop result.
    expect(attachment.content.length).toBe(d.sizeBytes);
    expect(createHash('sha256').update(attachment.content).digest('hex')).toBe(d.sha256);
    expect(readPcm8k(attachment.content).frames).toBeGreaterThan(8000);
    expect((await fetch(rec.uri, { method: 'HEAD' })).status).toBe(404);
    // Once mailed, the Recorder keeps it too (mail.keepCopy): the same bytes, the requester kept.
    const listed = (await (await fetch(`${host.url}/api/v1/recordings?callId=${rec.callId}`)).json()) as { total: number; items: { id: string; requester: string; status: string }[] };
    expect(listed.items.map((r) => `${r.requester}:${r.status}`)).toEqual(['client:stored']);
    const kept = Buffer.from(await (await fetch(`${host.url}/api/v1/recordings/${listed.items[0]!.id}/audio`)).arrayBuffer());
    expect(kept.equals(attachment.content)).toBe(true);
  });

  it('keeps retrying while the SMTP server is down, keeps the file, and delivers exactly once when it comes up', async () => {
    const port = await freePort();
    host = await hostWithSmtp(port);
    const rec = await clientRecordedCall(host);
    const waiting = await until(() => delivery(host!, rec.recordingId), (x) => x.attempts >= 2);
    expect(waiting.status).toBe('pending');
    expect(waiting.lastError).toMatch(/CAPSTAN_ERR_DELIVERY_FAILED/);
    expect((await fetch(rec.uri, { method: 'HEAD' })).status).toBe(200);

    const smtp = new SmtpSink();
    sinks.push(smtp);
    await smtp.listen(port);
    await smtp.waitFor(1);
    await until(() => delivery(host!, rec.recordingId), (x) => x.status === 'delivered' && x.uri === null);
    await new Promise((r) => setTimeout(r, 1500)); // time for any duplicate to show up
    expect(smtp.messages).toHaveLength(1);
    expect((await fetch(rec.uri, { method: 'HEAD' })).status).toBe(404);
  });

  it('stores a recording too large to attach with the Recorder and mails its link instead', async () => {
    const smtp = new SmtpSink();
    sinks.push(smtp);
    host = await hostWithSmtp(await smtp.listen(), 4096);
    const rec = await clientRecordedCall(host);
    const [mail] = await smtp.waitFor(1);
    expect(mail!.attachments).toHaveLength(0);
    const link = `${host.url}/api/v1/recordings/${rec.recordingId}/audio`;
    expect(mail!.text).toContain(link);
    const played = await fetch(link);
    expect(played.status).toBe(200);
    expect(readPcm8k(new Uint8Array(await played.arrayBuffer())).frames).toBeGreaterThan(8000);
    const stored = (await (await fetch(`${host.url}/api/v1/recordings/${rec.recordingId}`)).json()) as { requester: string; status: string };
    expect(stored).toMatchObject({ requester: 'client', status: 'stored' });
    expect((await fetch(rec.uri, { method: 'HEAD' })).status).toBe(404);
  });

  it('marks a recording with nowhere to go undeliverable and keeps its file on the media server', async () => {
    const smtp = new SmtpSink();
    sinks.push(smtp);
    host = await hostWithSmtp(await smtp.listen());
    const failed: string[] = [];
    host.events.on('recording.failed', ({ error }) => void failed.push(error.code));
    let recordingUri = '';
    const call = await placeSimulatedCall({
      hostUrl: host.url,
      callerAudio: audio,
      durationMs: 1000,
      agent: 'nobody-known',
      onConnected: async (c) => {
        const r = await fetch(`${host!.url}/api/v1/calls/${c.call.callId}/recordings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"requester":"client"}' });
        recordingUri = ((await r.json()) as { uri: string }).uri;
      },
    });
    const d = await until(async () => (await (await fetch(`${host!.url}/api/v1/deliveries?status=undeliverable`)).json()) as { items: Delivery[] }, (x) => x.items.length === 1);
    expect(d.items[0]).toMatchObject({ callId: call.callId, agent: 'nobody-known', to: null });
    expect(d.items[0]!.lastError).toContain('mail.agents');
    expect(failed).toContain('CAPSTAN_ERR_DELIVERY_FAILED');
    expect((await fetch(recordingUri, { method: 'HEAD' })).status).toBe(200);
    expect(smtp.messages).toHaveLength(0);
  });
});
