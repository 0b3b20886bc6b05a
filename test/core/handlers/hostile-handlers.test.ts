import { afterEach, describe, expect, it } from 'vitest';
import { call, startRuntime, type RuntimeFixture } from './helpers.ts';

/** Records every held call; must keep working whatever its neighbour does. */
const GOOD = `capstan.on('call.held', async ({ call }) => { await capstan.record.start(call.callId, { tags: ['good'] }); capstan.log.info('good', { id: call.callId, polluted: ({} as { polluted?: string }).polluted ?? null }); });`;
const limits = { cpuMsPerEvent: 30, deadlineMs: 300, memoryMb: 16, maxHostCallsPerEvent: 20 };

describe('hostile handlers', () => {
  let f: RuntimeFixture | undefined;
  afterEach(async () => {
    await f?.runtime.close();
    f = undefined;
  });

  /** Runs `hostile` beside GOOD, sends held calls, and checks the host and GOOD came through. */
  async function survive(hostile: string, expectedCode: string, overrides: Partial<typeof limits> = {}): Promise<RuntimeFixture> {
    f = await startRuntime({ good: GOOD, hostile }, { limits: { ...limits, ...overrides } });
    const started = performance.now();
    for (const id of ['h1', 'h2', 'h3']) await f.bus.emitAndWait('call.held', { call: call({ callId: id }), leg: 'caller' });
    expect(performance.now() - started).toBeLessThan(3000);
    expect(f.runtime.get('hostile')).toMatchObject({ status: 'quarantined', version: null, subscriptions: [], lastError: { code: expectedCode } });
    expect(f.runtime.get('good')).toMatchObject({ status: 'running' });
    expect(f.lines.filter((l) => l.msg === 'good').map((l) => (l.fields as { id: string }).id)).toEqual(['h1', 'h2', 'h3']);
    expect(f.actions.taken.filter((a) => a.handler === 'good')).toHaveLength(3);
    const failed = f.seen.filter((s) => s.event === 'handler.failed').map((s) => s.payload);
    expect(failed).toEqual([expect.objectContaining({ name: 'hostile', quarantined: true, error: expect.objectContaining({ code: expectedCode }) })]);
    // The host's own event loop is still responsive.
    await new Promise((r) => setTimeout(r, 1));
    return f;
  }

  it('quarantines an endless loop with CAPSTAN_ERR_HANDLER_CPU', async () => {
    await survive(`capstan.on('call.held', () => { for (;;) {} });`, 'CAPSTAN_ERR_HANDLER_CPU');
  });

  it('quarantines an endless loop in an async continuation with CAPSTAN_ERR_HANDLER_CPU', async () => {
    await survive(`capstan.on('call.held', async ({ call }) => { await capstan.record.start(call.callId); while (true) {} });`, 'CAPSTAN_ERR_HANDLER_CPU');
  });

  it('quarantines many short loops that add up over the event’s budget', async () => {
    await survive(
      `capstan.on('call.held', async ({ call }) => { for (let i = 0; i < 3; i++) { const end = Date.now() + 12; while (Date.now() < end) {} await capstan.record.start(call.callId); } });`,
      'CAPSTAN_ERR_HANDLER_CPU',
    );
  });

  it('quarantines a memory bomb with CAPSTAN_ERR_HANDLER_MEMORY', async () => {
    // A generous CPU budget, so the memory limit is what stops it.
    await survive(`const keep: unknown[] = []; capstan.on('call.held', () => { for (;;) keep.push(new Array(1000000).fill(7)); });`, 'CAPSTAN_ERR_HANDLER_MEMORY', { cpuMsPerEvent: 2000 });
  });

  it('quarantines a listener that throws with CAPSTAN_ERR_HANDLER_THREW and the stack', async () => {
    const fx = await survive(`capstan.on('call.held', () => { throw new TypeError('nope'); });`, 'CAPSTAN_ERR_HANDLER_THREW');
    expect(fx.runtime.get('hostile')?.lastError?.message).toContain('TypeError: nope');
  });

  it('quarantines an async listener that rejects with CAPSTAN_ERR_HANDLER_THREW', async () => {
    await survive(`capstan.on('call.held', async () => { await null; throw new Error('later'); });`, 'CAPSTAN_ERR_HANDLER_THREW');
  });

  it('quarantines an unhandled rejection with CAPSTAN_ERR_HANDLER_REJECTION', async () => {
    await survive(`capstan.on('call.held', () => { Promise.reject(new Error('floating')); });`, 'CAPSTAN_ERR_HANDLER_REJECTION');
  });

  it('quarantines a floating async function that throws with CAPSTAN_ERR_HANDLER_REJECTION', async () => {
    await survive(`const boom = async () => { throw new Error('x'); }; capstan.on('call.held', () => { void boom(); });`, 'CAPSTAN_ERR_HANDLER_REJECTION');
  });

  it('quarantines a listener that never settles with CAPSTAN_ERR_HANDLER_TIMEOUT', async () => {
    await survive(`capstan.on('call.held', () => new Promise(() => {}));`, 'CAPSTAN_ERR_HANDLER_TIMEOUT');
  });

  it('quarantines a log flood with CAPSTAN_ERR_HANDLER_FLOOD before it reaches the log', async () => {
    const fx = await survive(`capstan.on('call.held', () => { for (;;) { try { capstan.log.info('spam'); } catch {} } });`, 'CAPSTAN_ERR_HANDLER_FLOOD');
    expect(fx.lines.filter((l) => l.msg === 'spam').length).toBeLessThanOrEqual(limits.maxHostCallsPerEvent);
  });

  it('quarantines an action flood with CAPSTAN_ERR_HANDLER_FLOOD before the actions run', async () => {
    const fx = await survive(`capstan.on('call.held', ({ call }) => { for (let i = 0; i < 1000; i++) void capstan.record.start(call.callId).catch(() => {}); });`, 'CAPSTAN_ERR_HANDLER_FLOOD');
    expect(fx.actions.taken.filter((a) => a.handler === 'hostile').length).toBeLessThanOrEqual(limits.maxHostCallsPerEvent);
  });

  it('finds no way out of the sandbox', async () => {
    f = await startRuntime(
      {
        escape: `
          const attempts: Record<string, () => unknown> = {
            constructorChain: function (this: unknown) { return (this as { constructor: { constructor: (s: string) => () => unknown } }).constructor.constructor('return typeof process')(); },
            viaCapstan: () => (capstan.log.info as unknown as { constructor: (s: string) => () => unknown }).constructor('return typeof process + typeof require + typeof module')(),
            viaAction: () => (capstan.record.start as unknown as { constructor: (s: string) => () => unknown }).constructor('return typeof globalThis.process')(),
            asyncCtor: () => (async () => {}).constructor('return typeof process')().constructor.name,
            globals: () => Object.getOwnPropertyNames(globalThis).filter((k) => /capstan_|process|^Buffer$|require|setTimeout|WebAssembly|SharedArrayBuffer/.test(k)).join(','),
            require: () => { try { (globalThis as unknown as { require: (m: string) => unknown }).require('fs'); return 'loaded'; } catch (e) { return (e as Error).message.slice(0, 40); } },
            stackFrames: () => {
              const E = Error as unknown as { prepareStackTrace?: (e: unknown, f: { getThis(): unknown; getFunction(): unknown }[]) => unknown };
              E.prepareStackTrace = (_e, frames) => frames.map((fr) => typeof fr.getThis() + '/' + typeof fr.getFunction()).join(' ');
              const s = String((new Error() as { stack?: unknown }).stack);
              delete E.prepareStackTrace;
              return s.includes('function') && s.includes('process') ? 'leak' : 'ok';
            },
            hostFunction: () => String(capstan.record.start).includes('native code') ? 'native' : 'guest',
            freeze: () => { try { (capstan as unknown as { record: unknown }).record = null; } catch { /* strict */ } return typeof capstan.record; },
          };
          capstan.on('call.held', function () {
            const out: Record<string, unknown> = {};
            for (const [k, fn] of Object.entries(attempts)) { try { out[k] = fn.call(globalThis); } catch (e) { out[k] = 'threw ' + (e as Error).name; } }
            capstan.log.info('escape', out);
          });
        `,
      },
      { limits },
    );
    await f.bus.emitAndWait('call.held', { call: call(), leg: 'caller' });
    const out = f.lines.find((l) => l.msg === 'escape')?.fields as Record<string, string>;
    expect(out).toEqual({
      constructorChain: 'undefined',
      viaCapstan: 'undefinedfunctionundefined', // `require` is the sandbox's own refusing stub
      viaAction: 'undefined',
      asyncCtor: 'Promise',
      globals: 'require',
      require: 'Handlers cannot import or require module',
      stackFrames: 'ok',
      hostFunction: 'guest',
      freeze: 'object',
    });
    expect(f.runtime.get('escape')?.status).toBe('running');
  });

  it('lets no prototype pollution or payload change reach the host or other handlers', async () => {
    const payload = { call: call({ callId: 'orig' }), leg: 'caller' as const };
    const fx = await survive(
      `capstan.on('call.held', async (p) => {
        (Object.prototype as Record<string, unknown>).polluted = 'yes';
        (p.call as unknown as { __proto__: Record<string, unknown> }).__proto__.x = 1;
        p.call.callId = 'changed';
        p.call.attributes.injected = 'yes';
        JSON.parse = () => ({});
        await capstan.record.start('c', JSON.parse('{}') as never).catch(() => undefined);
        await capstan.record.start('c', globalThis.JSON.parse.call(null, '{"__proto__": {"requester": "client"}, "tags": ["t"]}') as never).catch(() => undefined);
        throw new Error('done polluting');
      });`,
      'CAPSTAN_ERR_HANDLER_THREW',
    );
    await fx.runtime.reload('hostile');
    fx.bus.emit('call.held', payload);
    await new Promise((r) => setTimeout(r, 20));
    expect(payload.call.callId).toBe('orig');
    expect(payload.call.attributes).toEqual({});
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).requester).toBeUndefined();
    // GOOD (a separate isolate) never saw the pollution.
    expect(fx.lines.filter((l) => l.msg === 'good').every((l) => (l.fields as { polluted: unknown }).polluted === null)).toBe(true);
    for (const a of fx.actions.taken) if (a.op === 'start') expect(a.options.requester).not.toBe('client');
  });
});
