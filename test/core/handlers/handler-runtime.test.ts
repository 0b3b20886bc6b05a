import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HANDLER_EVENT_NAMES } from '../../../core/handlers/handler-event-names.ts';
import { HandlerRuntime } from '../../../core/handlers/handler-runtime.ts';
import { ScriptedActions } from '../../../core/handlers/scripted-actions.ts';
import { call, memoryLogger, startRuntime, type RuntimeFixture } from './helpers.ts';
import type { CapstanEvents } from '../../../core/events/call-events.ts';

const recording = (callId: string) => ({
  recordingId: 'r-1', callId, requester: 'recorder' as const, mediaServerId: 'ms', fileName: 'f.wav', uri: 'u', mime: 'audio/L16', channels: 2 as const,
  deliverTo: null, tags: [], keyId: null, startedAt: new Date().toISOString(),
});
const result = { fileName: 'f.wav', uri: 'u', mime: 'audio/L16', channels: 2, sampleRate: 8000, samples: 8000, durationMs: 1000, sizeBytes: 16044, sha256: 'x', startedAt: '', stoppedAt: '', pauses: [], dtmf: [] };

/** One payload per handler event, all about the same call. */
function payloads(c = call()): { [K in (typeof HANDLER_EVENT_NAMES)[number]]: CapstanEvents[K] } {
  const r = recording(c.callId);
  return {
    'call.offered': { call: c },
    'call.connected': { call: c },
    'call.assigned': { call: c, workgroup: 'sales', agent: 'alice' },
    'call.held': { call: c, leg: 'caller' },
    'call.resumed': { call: c, leg: 'caller' },
    'call.transferred': { call: c, to: '+1555' },
    'call.disconnected': { call: c, reason: 'hangup' },
    'recording.started': { recording: r },
    'recording.paused': { recording: r, mode: 'silence' },
    'recording.resumed': { recording: r },
    'recording.completed': { recording: r, result },
    'recording.failed': { recording: null, callId: c.callId, error: { code: 'CAPSTAN_ERR_NO_MEDIA_SERVER', message: 'none' } },
    'recording.stored': { recording: r, storedId: 'r-1', location: 'recorder:x' },
    'recording.delivered': { recording: r, to: 'qa@example.com' },
  };
}

describe('HandlerRuntime', () => {
  let f: RuntimeFixture | undefined;
  afterEach(async () => {
    await f?.runtime.close();
    f = undefined;
  });

  it('delivers every call and recording event a handler subscribed to, with its payload', async () => {
    const listeners = HANDLER_EVENT_NAMES.map((e) => `capstan.on('${e}', (p) => capstan.log.info('got', { event: '${e}', payload: p }));`).join('\n');
    f = await startRuntime({ all: listeners });
    const all = payloads();
    for (const event of HANDLER_EVENT_NAMES) f.bus.emit(event, all[event] as never);
    const got = f.lines.filter((l) => l.msg === 'got').map((l) => (l.fields as { event: string; payload: unknown }));
    expect(got.map((g) => g.event)).toEqual(HANDLER_EVENT_NAMES);
    for (const g of got) expect(g.payload).toEqual(all[g.event as keyof typeof all]);
    expect(got.every((g, i) => f!.lines.find((l) => l.msg === 'got' && (l.fields as { event: string }).event === HANDLER_EVENT_NAMES[i])?.handler === 'all')).toBe(true);
  });

  it('takes every recording action with the options given, and answers start with the recording', async () => {
    f = await startRuntime({
      acts: `
        let id = '';
        capstan.on('call.connected', async ({ call }) => {
          const r = await capstan.record.start(call.callId, { requester: 'workgroup', deliverTo: 'wg@example.com', channels: 1, mime: 'audio/PCMU', tags: ['a'], compression: 'gsm', encryption: true, retentionDays: 30 });
          id = r.recordingId;
        });
        capstan.on('call.held', () => capstan.record.pause(id));
        capstan.on('call.transferred', () => capstan.record.securePause(id));
        capstan.on('call.resumed', () => capstan.record.resume(id));
        capstan.on('call.disconnected', async () => { const r = await capstan.record.stop(id); capstan.log.info('stopped', { size: r.sizeBytes }); });
      `,
    });
    const p = payloads();
    await f.bus.emitAndWait('call.connected', p['call.connected']);
    for (const e of ['call.held', 'call.transferred', 'call.resumed', 'call.disconnected'] as const) await f.bus.emitAndWait(e, p[e] as never);
    const [start, ...rest] = f.actions.taken;
    expect(start).toEqual({
      op: 'start', handler: 'acts', callId: p['call.connected'].call.callId, recordingId: 'rec-1',
      options: { requester: 'workgroup', deliverTo: 'wg@example.com', channels: 1, mime: 'audio/PCMU', tags: ['a'], compression: 'gsm', encryption: true, retentionDays: 30 },
    });
    expect(rest).toEqual(['pause', 'securePause', 'resume', 'stop'].map((op) => ({ op, handler: 'acts', recordingId: 'rec-1' })));
    expect(f.lines.find((l) => l.msg === 'stopped')?.fields).toEqual({ size: 44 });
  });

  it('makes emitAndWait wait until the recording a handler starts at connect is running', async () => {
    f = await startRuntime({ rec: `capstan.on('call.connected', async ({ call }) => { await capstan.record.start(call.callId); capstan.log.info('started'); });` });
    const release = f.actions.hold();
    let done = false;
    const waiting = f.bus.emitAndWait('call.connected', { call: call() }).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    release();
    await waiting;
    expect(f.lines.some((l) => l.msg === 'started')).toBe(true);
  });

  it('defaults the requester to handler and refuses invalid options and the client requester with CAPSTAN_ERR_HANDLER_ACTION', async () => {
    f = await startRuntime({
      v: `
        capstan.on('call.connected', async ({ call }) => {
          await capstan.record.start(call.callId);
          for (const bad of [{ requester: 'client' }, { channels: 3 }, { colour: 'red' }]) {
            try { await capstan.record.start(call.callId, bad as never); } catch (e) { capstan.log.warn('refused', { code: (e as { code: string }).code }); }
          }
        });
      `,
    });
    await f.bus.emitAndWait('call.connected', { call: call() });
    expect(f.actions.taken).toHaveLength(1);
    expect(f.actions.taken[0]).toMatchObject({ options: { requester: 'handler' } });
    expect(f.lines.filter((l) => l.msg === 'refused').map((l) => l.fields)).toEqual(Array(3).fill({ code: 'CAPSTAN_ERR_HANDLER_ACTION' }));
    expect(f.runtime.get('v')?.status).toBe('running');
  });

  it('does not take actions at load time', async () => {
    f = await startRuntime({ early: `capstan.record.start('c').catch((e) => capstan.log.warn('refused', { code: e.code }));` });
    expect(f.actions.taken).toHaveLength(0);
    expect(f.lines.find((l) => l.msg === 'refused')?.fields).toEqual({ code: 'CAPSTAN_ERR_HANDLER_ACTION' });
  });

  it('keeps a handler running when an action fails, and tells the handler the code', async () => {
    f = await startRuntime({ h: `capstan.on('call.connected', async ({ call }) => { try { await capstan.record.start(call.callId); } catch (e) { capstan.log.warn('failed', { code: (e as { code: string }).code }); } });` });
    f.actions.failNext('start', 'CAPSTAN_ERR_NO_MEDIA_SERVER');
    await f.bus.emitAndWait('call.connected', { call: call() });
    expect(f.lines.find((l) => l.msg === 'failed')?.fields).toEqual({ code: 'CAPSTAN_ERR_NO_MEDIA_SERVER' });
    expect(f.runtime.get('h')?.status).toBe('running');
  });

  it('gives each handler its own frozen configuration, name and version', async () => {
    f = await startRuntime(
      { a: `capstan.log.info('cfg', { config: capstan.config, handler: capstan.handler, frozen: Object.isFrozen(capstan.config.nested) });`, b: `capstan.log.info('cfg', { config: capstan.config });` },
      { configFor: (name) => (name === 'a' ? { nested: { x: 1 } } : undefined) },
    );
    const cfg = f.lines.filter((l) => l.msg === 'cfg');
    expect(cfg.find((l) => l.handler === 'a')?.fields).toEqual({ config: { nested: { x: 1 } }, handler: { name: 'a', version: 1 }, frozen: true });
    expect(cfg.find((l) => l.handler === 'b')?.fields).toEqual({ config: {} });
  });

  it('persists state per handler across restarts and refuses state over the size limit', async () => {
    const source = `
      capstan.on('call.connected', () => {
        capstan.state.set('count', (capstan.state.get<number>('count') ?? 0) + 1);
        try { capstan.state.set('big', 'x'.repeat(5000)); } catch (e) { capstan.log.warn('too big', { code: (e as { code: string }).code }); }
        capstan.log.info('count', { count: capstan.state.get('count'), keys: capstan.state.keys() });
      });
    `;
    f = await startRuntime({ s: source }, { limits: { stateMaxBytes: 1000 } });
    await f.bus.emitAndWait('call.connected', { call: call() });
    await f.runtime.close();
    expect(JSON.parse(readFileSync(join(f.stateDir, 's.json'), 'utf8'))).toEqual({ count: 1 });
    const { logger, lines } = memoryLogger();
    const again = new HandlerRuntime({ dir: f.dir, stateDir: f.stateDir, events: f.bus, actions: new ScriptedActions(), logger, watch: false, limits: { stateMaxBytes: 1000 } });
    await again.start();
    f.bus.emit('call.connected', { call: call() });
    await again.close();
    expect(lines.find((l) => l.msg === 'count')?.fields).toEqual({ count: 2, keys: ['count'] });
    expect(lines.find((l) => l.msg === 'too big')?.fields).toEqual({ code: 'CAPSTAN_ERR_HANDLER_STATE' });
  });

  it('lists handlers with version, status, subscriptions, last error and history, and reports loads on the bus', async () => {
    f = await startRuntime({ good: `capstan.on('call.held', () => {});`, broken: `const x: number = ;`, 'thing.test': `nope(`, 'types.d': `declare const y: number;` });
    const list = f.runtime.list();
    expect(list.map((h) => h.name)).toEqual(['broken', 'good']);
    expect(list[1]).toMatchObject({ name: 'good', status: 'running', version: 1, subscriptions: ['call.held'], lastError: null, reloads: [{ version: 1, outcome: 'loaded' }] });
    expect(list[0]).toMatchObject({ name: 'broken', status: 'failed', version: null, lastError: { code: 'CAPSTAN_ERR_HANDLER_COMPILE' }, reloads: [{ outcome: 'failed' }] });
    expect(list[0]!.lastError!.message).toMatch(/broken\.ts:1:\d+/);
    expect(f.seen.map((s) => s.event).sort()).toEqual(['handler.failed', 'handler.loaded']);
  });

  it('holds one bus listener per subscribed event and none for the others; close removes them and is idempotent', async () => {
    f = await startRuntime({ a: `capstan.on('call.held', () => {}); capstan.on('call.connected', () => {});`, b: `capstan.on('call.held', () => {});` });
    expect(f.bus.listenerCount('call.held')).toBe(1);
    expect(f.bus.listenerCount('call.connected')).toBe(1);
    expect(f.bus.listenerCount('call.offered')).toBe(0);
    await Promise.all([f.runtime.close(), f.runtime.close()]);
    await f.runtime.close();
    expect(f.bus.listenerCount('call.held')).toBe(0);
    expect(f.bus.listenerCount('call.connected')).toBe(0);
  });

  it('refuses imports and top-level code that throws, with the reason', async () => {
    f = await startRuntime({ imp: `import { readFileSync } from 'node:fs'; readFileSync('/etc/passwd');`, thr: `throw new Error('bad config');` });
    expect(f.runtime.get('imp')?.lastError?.message).toMatch(/cannot import or require modules/);
    expect(f.runtime.get('thr')?.lastError?.message).toMatch(/threw while loading: .*bad config/);
  });
});
