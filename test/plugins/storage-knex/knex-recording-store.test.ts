import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KnexRecordingStore, type KnexStoreOptions } from '../../../plugins/storage-knex/knex-recording-store.ts';
import type { CallInfo, RecordingInfo, RecordingResultInfo } from '../../../core/events/call-events.ts';

const pg = process.env.CAPSTAN_TEST_PG;
// CI must prove PostgreSQL: there a missing CAPSTAN_TEST_PG fails instead of skipping.
const backends: [string, () => KnexStoreOptions][] = [
  ['SQLite', () => ({ client: 'sqlite', filename: join(mkdtempSync(join(tmpdir(), 'capstan-db-')), 'capstan.sqlite') })],
];
if (pg || process.env.CI) backends.push(['PostgreSQL', () => ({ client: 'pg', connection: pg ?? 'CAPSTAN_TEST_PG is not set' })]);

function call(): CallInfo {
  return {
    callId: randomUUID(), source: 'simulator', direction: 'inbound', from: '5551000', to: '1000',
    workgroup: 'sales', agent: 'alice', location: 'default', startedAt: new Date().toISOString(), attributes: {},
  };
}

function recording(c: CallInfo): RecordingInfo {
  return {
    recordingId: randomUUID(), callId: c.callId, requester: 'recorder', mediaServerId: 'ms-1', fileName: 'x.wav',
    uri: 'http://127.0.0.1:1/files/x.wav?sig=1', mime: 'audio/L16', channels: 2, deliverTo: null, tags: ['t'], keyId: '0123456789abcdef',
    startedAt: new Date().toISOString(),
  };
}

const result: RecordingResultInfo = {
  fileName: 'x.wav', uri: 'http://127.0.0.1:1/files/x.wav?sig=2', mime: 'audio/L16', channels: 2, sampleRate: 8000,
  samples: 40000, durationMs: 5000, sizeBytes: 160044, sha256: 'a'.repeat(64), startedAt: '', stoppedAt: new Date().toISOString(),
  pauses: [{ mode: 'silence', startMs: 100, endMs: 200 }], dtmf: [],
};

describe.each(backends)('KnexRecordingStore on %s', (_name, options) => {
  let store: KnexRecordingStore;
  beforeAll(async () => {
    store = await KnexRecordingStore.open(options());
  });
  afterAll(async () => {
    await store?.close();
  });

  it('walks a recording through started, completed, stored and remote-deleted', async () => {
    const c = call();
    const r = recording(c);
    await store.insertStarted(r, c);
    expect((await store.get(r.recordingId))?.status).toBe('recording');
    await store.markCompleted(r.recordingId, result);
    const completed = await store.get(r.recordingId);
    expect(completed).toMatchObject({ status: 'completed', samples: 40000, sizeBytes: 160044, uri: result.uri, pauses: result.pauses, agent: 'alice', tags: ['t'], keyId: '0123456789abcdef' });
    expect((await store.listUnfinished()).map((x) => x.id)).toContain(r.recordingId);
    await store.markStored(r.recordingId, '2026/11/x.wav', new Date().toISOString());
    expect((await store.listUnfinished()).map((x) => x.id)).toContain(r.recordingId);
    await store.markRemoteDeleted(r.recordingId);
    expect(await store.get(r.recordingId)).toMatchObject({ status: 'stored', uri: null, mediaPath: '2026/11/x.wav' });
    expect((await store.listUnfinished()).map((x) => x.id)).not.toContain(r.recordingId);
  });

  it('keeps a failover segment as part of its recording, with the gap between them, out of the search', async () => {
    const c = { ...call(), location: 'paris' };
    const r = recording(c);
    await store.insertStarted(r, c);
    const seg = { ...recording(c), recordingId: `${r.recordingId}-s1`, mediaServerId: 'ms-2', segment: { of: r.recordingId, index: 1, startMs: 3020 } };
    await store.insertStarted(seg, c);
    await store.addGap(r.recordingId, { afterSegment: 0, startMs: 3000, endMs: 3020, reason: 'media server ms-1 died' });
    // Replayed after a crash: still one gap.
    await store.addGap(r.recordingId, { afterSegment: 0, startMs: 3000, endMs: 3020, reason: 'media server ms-1 died' });
    // The recovered first segment turns out to end at 2 550 ms: the gap starts there.
    await store.setGapStart(r.recordingId, 0, 2550);
    expect(await store.get(r.recordingId)).toMatchObject({ location: 'paris', segmentOf: null, segmentIndex: 0, gaps: [{ afterSegment: 0, startMs: 2550, endMs: 3020, reason: 'media server ms-1 died' }] });
    expect(await store.listSegments(r.recordingId)).toMatchObject([{ id: seg.recordingId, segmentOf: r.recordingId, segmentIndex: 1, segmentStartMs: 3020, mediaServerId: 'ms-2' }]);
    expect((await store.list({ callId: c.callId })).items.map((x) => x.id)).toEqual([r.recordingId]);
    expect((await store.list({ callId: c.callId, includeSegments: true })).total).toBe(2);
  });

  it('records where the media is kept: the content store by default, or a Remote Content Service server', async () => {
    const c = call();
    const [a, b] = [recording(c), recording(c)];
    for (const r of [a, b]) {
      await store.insertStarted(r, c);
      await store.markCompleted(r.recordingId, result);
    }
    await store.markStored(a.recordingId, '2026/11/a.wav', new Date().toISOString());
    await store.markStored(b.recordingId, '2026/11/b.wav', new Date().toISOString(), 'rcs:rcs-paris');
    expect((await store.get(a.recordingId))?.mediaLocation).toBe('store');
    expect((await store.get(b.recordingId))?.mediaLocation).toBe('rcs:rcs-paris');
  });

  it('ignores replayed steps so a crash-and-resume stores nothing twice', async () => {
    const c = call();
    const r = recording(c);
    await store.insertStarted(r, c);
    await store.insertStarted(r, c);
    await store.markCompleted(r.recordingId, result);
    await store.markStored(r.recordingId, 'a.wav', '2026-01-01T00:00:00.000Z');
    await store.markCompleted(r.recordingId, { ...result, sizeBytes: 1 });
    const row = await store.get(r.recordingId);
    expect(row).toMatchObject({ status: 'stored', sizeBytes: 160044 });
    expect((await store.list({ callId: c.callId })).total).toBe(1);
  });

  it('lists a call’s recordings, paged', async () => {
    const c = call();
    for (let i = 0; i < 3; i++) await store.insertStarted(recording(c), c);
    const page = await store.list({ callId: c.callId, limit: 2, offset: 0 });
    expect(page.total).toBe(3);
    expect(page.items).toHaveLength(2);
    expect((await store.list({ callId: c.callId, limit: 2, offset: 2 })).items).toHaveLength(1);
  });

  it('never marks a stored recording failed', async () => {
    const c = call();
    const r = recording(c);
    await store.insertStarted(r, c);
    await store.markCompleted(r.recordingId, result);
    await store.markStored(r.recordingId, 'b.wav', new Date().toISOString());
    await store.markFailed(r.recordingId, 'late failure');
    expect((await store.get(r.recordingId))?.status).toBe('stored');
  });

  it('searches by time, agent, workgroup, tag, ANI and DNIS', async () => {
    const c = { ...call(), agent: `agent-${Date.now()}`, workgroup: 'wg-search', from: '5559999', to: '800123' };
    const early = { ...recording(c), tags: ['vip', 'odd%_tag'], startedAt: '2026-01-01T10:00:00.000Z' };
    const late = { ...recording(c), tags: ['other'], startedAt: '2026-01-02T10:00:00.000Z' };
    await store.insertStarted(early, c);
    await store.insertStarted(late, c);
    const ids = async (q: Parameters<KnexRecordingStore['list']>[0]) => (await store.list(q)).items.map((r) => r.id);
    expect(await ids({ agent: c.agent })).toEqual([late.recordingId, early.recordingId]);
    expect(await ids({ agent: c.agent, tag: 'vip' })).toEqual([early.recordingId]);
    expect(await ids({ agent: c.agent, tag: 'odd%_tag' })).toEqual([early.recordingId]);
    expect(await ids({ agent: c.agent, tag: 'odd' })).toEqual([]);
    expect(await ids({ agent: c.agent, from: '2026-01-02T00:00:00.000Z' })).toEqual([late.recordingId]);
    expect(await ids({ agent: c.agent, to: '2026-01-02T00:00:00.000Z' })).toEqual([early.recordingId]);
    expect(await ids({ agent: c.agent, ani: '5559999', dnis: '800123', workgroup: 'wg-search' })).toHaveLength(2);
    expect(await ids({ agent: c.agent, dnis: '800124' })).toEqual([]);
  });
});
