import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { call, startRuntime, until, type RuntimeFixture } from './helpers.ts';

const version = (tag: string) => `capstan.on('call.held', ({ call }) => capstan.log.info('held', { tag: '${tag}', id: call.callId }));`;

describe('hot reload', () => {
  let f: RuntimeFixture | undefined;
  afterEach(async () => {
    await f?.runtime.close();
    f = undefined;
  });

  const held = (fx: RuntimeFixture) => fx.lines.filter((l) => l.msg === 'held').map((l) => l.fields as { tag: string; id: string });
  const loaded = (fx: RuntimeFixture, name: string, v: number) => () =>
    fx.seen.some((s) => s.event === 'handler.loaded' && (s.payload as { name: string; version: number }).name === name && (s.payload as { version: number }).version === v);

  it('loads a new version when the file is written, and new events go to it', async () => {
    f = await startRuntime({ h: version('one') }, { watch: true });
    f.bus.emit('call.held', { call: call({ callId: 'a' }), leg: 'caller' });
    f.write('h', version('two'));
    await until(loaded(f, 'h', 2), 5000, 'version 2');
    f.bus.emit('call.held', { call: call({ callId: 'b' }), leg: 'caller' });
    expect(held(f)).toEqual([{ tag: 'one', id: 'a' }, { tag: 'two', id: 'b' }]);
    expect(f.runtime.get('h')).toMatchObject({ version: 2, status: 'running', reloads: [{ version: 1, outcome: 'loaded' }, { version: 2, outcome: 'loaded' }] });
    expect(f.bus.listenerCount('call.held')).toBe(1);
  });

  it('loads a new version saved by rename, as editors do', async () => {
    f = await startRuntime({ h: version('one') }, { watch: true });
    const tmp = join(f.dir, '.h.ts.swp');
    writeFileSync(tmp, version('renamed'));
    renameSync(tmp, join(f.dir, 'h.ts'));
    await until(loaded(f, 'h', 2), 5000, 'version 2');
    f.bus.emit('call.held', { call: call({ callId: 'r' }), leg: 'caller' });
    expect(held(f)).toEqual([{ tag: 'renamed', id: 'r' }]);
  });

  it('loads a handler whose file appears after start', async () => {
    f = await startRuntime({}, { watch: true });
    f.write('late', version('late'));
    await until(loaded(f, 'late', 1), 5000, 'late handler');
    f.bus.emit('call.held', { call: call({ callId: 'x' }), leg: 'caller' });
    expect(held(f)).toEqual([{ tag: 'late', id: 'x' }]);
  });

  it('unsubscribes a handler whose file is deleted', async () => {
    f = await startRuntime({ h: version('one') }, { watch: true });
    rmSync(join(f.dir, 'h.ts'));
    await until(() => f!.seen.some((s) => s.event === 'handler.removed'), 5000, 'removal');
    expect(f.runtime.list()).toEqual([]);
    expect(f.bus.listenerCount('call.held')).toBe(0);
    f.bus.emit('call.held', { call: call(), leg: 'caller' });
    expect(held(f)).toEqual([]);
  });

  it('keeps the old version serving when the new one does not compile, and says why', async () => {
    f = await startRuntime({ h: version('one') }, { watch: true });
    f.write('h', `capstan.on('call.held', () => { const x: = 1; });`);
    await until(() => f!.seen.some((s) => s.event === 'handler.failed'), 5000, 'failure');
    expect(f.seen.find((s) => s.event === 'handler.failed')?.payload).toMatchObject({ name: 'h', version: 2, quarantined: false, runningVersion: 1, error: { code: 'CAPSTAN_ERR_HANDLER_COMPILE' } });
    f.bus.emit('call.held', { call: call({ callId: 'still' }), leg: 'caller' });
    expect(held(f)).toEqual([{ tag: 'one', id: 'still' }]);
    expect(f.runtime.get('h')).toMatchObject({ status: 'running', version: 1, lastError: { code: 'CAPSTAN_ERR_HANDLER_COMPILE' }, reloads: [{ outcome: 'loaded' }, { outcome: 'failed' }] });
    expect(f.lines.some((l) => l.msg === 'handler failed to load; the previous version keeps running')).toBe(true);
    // Fixing the file brings the new version in.
    f.write('h', version('three'));
    await until(loaded(f, 'h', 3), 5000, 'version 3');
    expect(f.runtime.get('h')?.lastError).toBeNull();
  });

  it('hands every event to exactly one version while versions are swapped under load', async () => {
    f = await startRuntime({ h: version('v0') }, { watch: true, reloadDebounceMs: 5 });
    let sent = 0;
    let sending = true;
    const pump = (async () => {
      while (sending) {
        for (let i = 0; i < 20; i++) f!.bus.emit('call.held', { call: call({ callId: `e${sent++}` }), leg: 'caller' });
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let v = 1; v <= 4; v++) {
      f.write('h', version(`v${v}`));
      await until(loaded(f, 'h', v + 1), 5000, `version ${v + 1}`);
    }
    sending = false;
    await pump;
    const got = held(f);
    expect(got.map((g) => g.id)).toEqual(Array.from({ length: sent }, (_, i) => `e${i}`));
    // Versions only move forward: no event reached an old version after a newer one served.
    const order = got.map((g) => Number(g.tag.slice(1)));
    expect(order.every((v, i) => i === 0 || v >= order[i - 1]!)).toBe(true);
    expect(new Set(order)).toEqual(new Set([0, 1, 2, 3, 4]));
    expect(f.bus.listenerCount('call.held')).toBe(1);
  });

  it('lets events in flight finish on the old version, then disposes it', async () => {
    const slow = (tag: string) => `capstan.on('call.connected', async ({ call }) => { const r = await capstan.record.start(call.callId); capstan.log.info('done', { tag: '${tag}', rec: r.recordingId }); });`;
    f = await startRuntime({ s: slow('old') }, { watch: true });
    const release = f.actions.hold();
    const inFlight = f.bus.emitAndWait('call.connected', { call: call() });
    f.write('s', slow('new'));
    await until(loaded(f, 's', 2), 5000, 'version 2');
    release();
    await inFlight;
    await f.bus.emitAndWait('call.connected', { call: call() });
    expect(f.lines.filter((l) => l.msg === 'done').map((l) => (l.fields as { tag: string }).tag)).toEqual(['old', 'new']);
  });

  it('brings a quarantined handler back when its file is saved', async () => {
    f = await startRuntime({ q: `capstan.on('call.held', () => { throw new Error('oops'); });` }, { watch: true });
    f.bus.emit('call.held', { call: call(), leg: 'caller' });
    expect(f.runtime.get('q')).toMatchObject({ status: 'quarantined', lastError: { code: 'CAPSTAN_ERR_HANDLER_THREW' } });
    f.write('q', version('fixed'));
    await until(loaded(f, 'q', 2), 5000, 'version 2');
    f.bus.emit('call.held', { call: call({ callId: 'ok' }), leg: 'caller' });
    expect(held(f)).toEqual([{ tag: 'fixed', id: 'ok' }]);
  });

  it('reloads on demand without a change (the API’s way out of quarantine)', async () => {
    f = await startRuntime({ q: version('one') });
    const status = await f.runtime.reload('q');
    expect(status).toMatchObject({ version: 2, status: 'running' });
    await expect(f.runtime.reload('nope')).rejects.toMatchObject({ code: 'CAPSTAN_ERR_HANDLER_NOT_FOUND' });
  });
});
