import type { Knex } from 'knex';

/** Migrations in code (no files to find at run time), applied in order by knex at start. */
const migrations: Record<string, Knex.Migration> = {
  '0001_recordings': {
    async up(knex) {
      await knex.schema.createTable('recordings', (t) => {
        t.string('id', 64).primary();
        t.string('call_id', 64).notNullable().index();
        t.string('requester', 32).notNullable();
        t.string('status', 16).notNullable().index();
        t.string('direction', 16).notNullable();
        t.string('ani', 128).notNullable().defaultTo('');
        t.string('dnis', 128).notNullable().defaultTo('');
        t.string('workgroup', 128).nullable().index();
        t.string('agent', 128).nullable().index();
        t.string('media_server_id', 128).notNullable();
        t.string('file_name', 255).notNullable();
        t.text('uri').nullable();
        t.string('mime', 64).notNullable();
        t.integer('channels').notNullable();
        t.integer('sample_rate').nullable();
        t.bigInteger('samples').nullable();
        t.double('duration_ms').nullable();
        t.bigInteger('size_bytes').nullable();
        t.string('sha256', 64).nullable();
        t.string('started_at', 32).notNullable().index();
        t.string('stopped_at', 32).nullable();
        t.string('stored_at', 32).nullable();
        t.text('media_path').nullable();
        t.string('media_location', 64).nullable();
        t.text('tags').notNullable().defaultTo('[]');
        t.string('key_id', 32).nullable();
        t.text('pauses').notNullable().defaultTo('[]');
        t.text('dtmf').notNullable().defaultTo('[]');
        t.text('error').nullable();
      });
    },
    async down(knex) {
      await knex.schema.dropTable('recordings');
    },
  },
  '0002_deliveries': {
    async up(knex) {
      await knex.schema.createTable('deliveries', (t) => {
        t.string('recording_id', 64).primary();
        t.string('call_id', 64).notNullable().index();
        t.string('requester', 32).notNullable();
        t.string('status', 16).notNullable().index();
        t.text('to').nullable();
        t.string('agent', 128).nullable();
        t.string('workgroup', 128).nullable();
        t.text('call').notNullable();
        t.string('file_name', 255).notNullable();
        t.text('uri').nullable();
        t.bigInteger('size_bytes').nullable();
        t.string('sha256', 64).nullable();
        t.string('mime', 64).notNullable();
        t.integer('attempts').notNullable().defaultTo(0);
        t.text('last_error').nullable();
        t.string('message_id', 255).nullable();
        t.text('result').nullable();
        t.string('created_at', 32).notNullable();
        t.string('delivered_at', 32).nullable();
      });
    },
    async down(knex) {
      await knex.schema.dropTable('deliveries');
    },
  },
  '0003_audit': {
    async up(knex) {
      await knex.schema.createTable('audit_log', (t) => {
        t.increments('seq').primary();
        t.string('at', 32).notNullable().index();
        t.string('actor', 128).notNullable().index();
        t.string('role', 16).notNullable();
        t.string('action', 16).notNullable();
        t.string('recording_id', 64).notNullable().index();
        t.text('detail').nullable();
      });
    },
    async down(knex) {
      await knex.schema.dropTable('audit_log');
    },
  },
  // Failover segments: a recording continued on another media server is stored as further rows
  // (`segment_of` its first one), and the first one keeps the gaps between them.
  '0004_segments': {
    async up(knex) {
      await knex.schema.alterTable('recordings', (t) => {
        t.string('segment_of', 64).nullable().index();
        t.integer('segment_index').notNullable().defaultTo(0);
        t.double('segment_start_ms').notNullable().defaultTo(0);
        t.text('gaps').notNullable().defaultTo('[]');
      });
    },
    async down(knex) {
      await knex.schema.alterTable('recordings', (t) => {
        t.dropColumn('segment_of');
        t.dropColumn('segment_index');
        t.dropColumn('segment_start_ms');
        t.dropColumn('gaps');
      });
    },
  },
  // The call's location: the Remote Content Service that keeps a recording is chosen by it.
  '0005_rcs': {
    async up(knex) {
      await knex.schema.alterTable('recordings', (t) => {
        t.string('location', 128).nullable().index();
      });
    },
    async down(knex) {
      await knex.schema.alterTable('recordings', (t) => {
        t.dropColumn('location');
      });
    },
  },
  // The media server holding a delivery's file: its URI is signed again with the server's current
  // address when the host restarts (embedded servers listen on new ports).
  '0006_delivery_media_server': {
    async up(knex) {
      await knex.schema.alterTable('deliveries', (t) => {
        t.string('media_server_id', 128).nullable();
      });
    },
    async down(knex) {
      await knex.schema.alterTable('deliveries', (t) => {
        t.dropColumn('media_server_id');
      });
    },
  },
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
