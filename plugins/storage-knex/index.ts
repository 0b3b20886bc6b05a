import { join } from 'node:path';
import type { CapstanPlugin } from '../../core/plugin.ts';
import { KnexRecordingStore } from './knex-recording-store.ts';
import { KnexDeliveryStore } from './knex-delivery-store.ts';
import { KnexAuditLog } from './knex-audit-log.ts';

/** Provides `recordingStore` and `deliveryStore`: SQLite under the data dir by default, PostgreSQL by configuration. */
export function storageKnexPlugin(): CapstanPlugin {
  let store: KnexRecordingStore | null = null;
  return {
    name: 'capstan:storage-knex',
    async setup(ctx) {
      const db = ctx.config.recorder.database;
      store =
        db.client === 'pg'
          ? await KnexRecordingStore.open({ client: 'pg', connection: db.connection ?? 'postgres:///capstan' })
          : await KnexRecordingStore.open({ client: 'sqlite', filename: db.filename ?? join(ctx.config.dataDir, 'capstan.sqlite') });
      ctx.services.provide('recordingStore', store);
      ctx.services.provide('deliveryStore', new KnexDeliveryStore(store.knex));
      ctx.services.provide('auditLog', new KnexAuditLog(store.knex));
      ctx.logger.info({ client: db.client }, 'recorder database ready');
    },
    async close() {
      await store?.close();
    },
  };
}
