import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatHandlerTestReport, runHandlerTests } from '../../../core/handlers/run-handler-tests.ts';

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-htest-'));
  for (const [name, source] of Object.entries(files)) writeFileSync(join(dir, name), source);
  return dir;
}

describe('runHandlerTests', () => {
  it('passes the tests of the handlers that ship and of the examples', async () => {
    const shipped = await runHandlerTests(new URL('../../../handlers', import.meta.url).pathname);
    const examples = await runHandlerTests(new URL('../../../examples/handlers', import.meta.url).pathname);
    for (const report of [shipped, examples]) {
      expect(report.results.filter((r) => !r.ok)).toEqual([]);
      expect(report.passed).toBeGreaterThan(2);
    }
    expect(new Set(shipped.results.map((r) => r.handler.split('/').pop()))).toEqual(new Set(['custom-example.ts', 'recorder-policies.ts', 'workgroup-record-all.ts']));
  });

  it('reports the actions and CPU of each event against the budget', async () => {
    const dir = folder({
      'h.ts': `capstan.on('call.connected', async ({ call }) => { await capstan.record.start(call.callId, { tags: [String(capstan.config.tag)] }); });`,
      'h.test.ts': `capstanTest('records', { config: { tag: 'x' } }, async (t) => { const r = await t.emit('call.connected', { call: t.call({ callId: 'c1' }) }); t.expect(r.actions).toEqual([{ op: 'start', callId: 'c1', options: { requester: 'handler', tags: ['x'] } }]); });`,
    });
    const report = await runHandlerTests(join(dir, 'h.ts'), { limits: { cpuMsPerEvent: 40 } });
    expect(report).toMatchObject({ passed: 1, failed: 0, budgetMs: 40 });
    const [event] = report.results[0]!.events;
    expect(event).toMatchObject({ event: 'call.connected', budgetMs: 40, error: null, actions: [{ op: 'start', callId: 'c1' }] });
    expect(event!.cpuMs).toBeGreaterThan(0);
    expect(event!.cpuMs).toBeLessThan(40);
    expect(formatHandlerTestReport(report)).toMatch(/ok {3}.* › records \(1 events, max CPU \d+\.\d{3} of 40 ms\)\n.*call\.connected/);
  });

  it('fails a test whose assertion fails, and says what was expected', async () => {
    const dir = folder({
      'h.ts': `capstan.on('call.connected', () => {});`,
      'h.test.ts': `capstanTest('wants a recording', async (t) => { const r = await t.emit('call.connected', { call: t.call() }); t.expect(r.actions).toHaveLength(1); });
                    capstanTest('passes', (t) => { t.expect(1).not.toBe(2); });`,
    });
    const report = await runHandlerTests(dir);
    expect(report).toMatchObject({ passed: 1, failed: 1 });
    expect(report.results[0]).toMatchObject({ test: 'wants a recording', ok: false, error: 'expected [] to have length 1' });
  });

  it('fails a test when the handler would be quarantined, with the same code', async () => {
    const dir = folder({
      'h.ts': `capstan.on('call.held', () => { for (;;) {} });`,
      'h.test.ts': `capstanTest('loops', async (t) => { await t.emit('call.held', { call: t.call(), leg: 'caller' }); });`,
    });
    const report = await runHandlerTests(dir, { limits: { cpuMsPerEvent: 20 } });
    expect(report.results[0]!.ok).toBe(false);
    expect(report.results[0]!.error).toMatch(/^CAPSTAN_ERR_HANDLER_CPU/);
  });

  it('keeps each test apart: fresh state and configuration per test', async () => {
    const dir = folder({
      'h.ts': `capstan.on('call.held', () => { capstan.state.set('n', (capstan.state.get<number>('n') ?? 0) + 1); capstan.log.info('n', { n: capstan.state.get('n'), mode: capstan.config.mode ?? null }); });`,
      'h.test.ts': `capstanTest('a', { config: { mode: 'a' } }, async (t) => { await t.emit('call.held', { call: t.call(), leg: 'caller' }); });
                    capstanTest('b', async (t) => { await t.emit('call.held', { call: t.call(), leg: 'caller' }); });`,
    });
    const report = await runHandlerTests(dir);
    expect(report.results.map((r) => r.logs)).toEqual([['info n {"n":1,"mode":"a"}'], ['info n {"n":1,"mode":null}']]);
  });

  it('reports a handler that does not compile, and a test file without tests', async () => {
    const dir = folder({ 'bad.ts': `const = 1;`, 'bad.test.ts': `capstanTest('x', () => {});`, 'empty.ts': ``, 'empty.test.ts': `// nothing` });
    const report = await runHandlerTests(dir);
    expect(report.failed).toBe(2);
    expect(report.results[0]!.error).toMatch(/bad\.ts:1:\d+/);
    expect(report.results[1]!.error).toMatch(/registers no tests/);
    await expect(runHandlerTests(join(dir, 'missing'))).rejects.toMatchObject({ code: 'CAPSTAN_ERR_FILE_NOT_FOUND' });
  });
});
