import { mkdtempSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KnexRecordingStore } from '../../../plugins/storage-knex/knex-recording-store.ts';
import { ContentStore } from '../../../core/recorder/content-store.ts';
import { RetentionRunner, type RetentionPolicy } from '../../../core/recorder/retention.ts';
import { createLogger } from '../../../core/logger.ts';

const DAY = 86_400_000;
const now = Date.parse('2026-06-01T00:00:00.000Z');

describe('retention', () => {
  let store: KnexRecordingStore;
  let content: ContentStore;
  let archive: ContentStore;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-retention-'));
    store = await KnexRecordingStore.open({ client: 'sqlite', filename: join(dir, 'db.sqlite') });
    content = new ContentStore(join(dir, 'store'));
    archive = new ContentStore(join(dir, 'archive'));
  });
  afterAll(async () => store?.close());

  async function stored(daysOld: number, over: { workgroup?: string; tags?: string[] } = {}): Promise<string> {
    const id = randomUUID();
    const startedAt = new Date(now - daysOld * DAY).toISOString();
    const call = { callId: randomUUID(), source: 'sim', direction: 'inbound' as const, from: '1', to: '2', workgroup: over.workgroup ?? null, agent: null, location: 'x', startedAt, attributes: {} };
    await store.insertStarted({ recordingId: id, callId: call.callId, requester: 'recorder', mediaServerId: 'ms', fileName: `${id}.wav`, uri: 'http://x/f.wav', mime: 'audio/L16', channels: 2, deliverTo: null, tags: over.tags ?? [], keyId: null, startedAt }, call);
    await store.markCompleted(id, { fileName: `${id}.wav`, uri: 'http://x/f.wav', mime: 'audio/L16', channels: 2, sampleRate: 8000, samples: 8, durationMs: 1, sizeBytes: 4, sha256: 'a'.repeat(64), startedAt, stoppedAt: startedAt, pauses: [], dtmf: [] });
    const mediaPath = join(startedAt.slice(0, 4), `${id}.wav`);
    mkdirSync(dirname(content.pathOf(mediaPath)), { recursive: true });
    writeFileSync(content.pathOf(mediaPath), 'RIFF');
    await store.markStored(id, mediaPath, startedAt);
    return id;
  }

  it('purges media, purges whole recordings and moves media by age, workgroup and tag; leaves the rest', async () => {
    const young = await stored(5, { workgroup: 'sales' });
    const salesOld = await stored(40, { workgroup: 'sales' });
    const supportOld = await stored(40, { workgroup: 'support' });
    const testCall = await stored(2, { tags: ['test'] });
    const ancient = await stored(400);
    const policies: RetentionPolicy[] = [
      { name: 'tests', olderThanDays: 1, tag: ['test'], action: 'purge-all' },
      { name: 'sales-30d', olderThanDays: 30, workgroup: ['sales'], action: 'purge-media' },
      { name: 'archive-1y', olderThanDays: 365, action: 'move', moveTo: 'archive' },
    ];
    const runner = new RetentionRunner({ store, content, locations: { archive }, logger: createLogger({ level: 'silent' }) }, policies);
    const report = await runner.run(now);
    expect(report).toMatchObject({ purgedMedia: 1, purgedAll: 1, moved: 1, failed: 0 });

    expect(await store.get(testCall)).toBeNull();
    const sales = await store.get(salesOld);
    expect(sales).toMatchObject({ status: 'purged', mediaPath: null });
    const moved = (await store.get(ancient))!;
    expect(moved).toMatchObject({ status: 'stored', mediaLocation: 'archive' });
    expect(existsSync(archive.pathOf(moved.mediaPath!))).toBe(true);
    expect(existsSync(content.pathOf(moved.mediaPath!))).toBe(false);
    expect(await store.get(young)).toMatchObject({ status: 'stored', mediaLocation: 'store' });
    expect(await store.get(supportOld)).toMatchObject({ status: 'stored', mediaLocation: 'store' });

    // A second run finds nothing more to do.
    expect(await runner.run(now)).toMatchObject({ purgedMedia: 0, purgedAll: 0, moved: 0 });
  });
});
