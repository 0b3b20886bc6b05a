/**
 * Handler runtime benchmark: events per second through the sandboxes on one core, the latency
 * from a call event to the recording request a handler makes, and the time from saving a handler
 * to its new version handling events.
 *
 *   node --no-node-snapshot --import tsx bench/handlers.ts
 *
 * Goals (issue 7): ≥ 50 000 events/s, p99 event → recording request < 2 ms, reload < 150 ms.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CallInfo } from '../core/events/call-events.ts';
import { EventBus } from '../core/events/event-bus.ts';
import { HandlerRuntime } from '../core/handlers/handler-runtime.ts';
import { ScriptedActions } from '../core/handlers/scripted-actions.ts';
import { createLogger } from '../core/logger.ts';

export interface HandlerBenchResult {
  /** call.connected events evaluated by the shipped recorder-policies handler (no match: no action), per second. */
  eventsPerSecond: number;
  /** Same, with the handler starting a recording for every call (action, answer, continuation). */
  recordingEventsPerSecond: number;
  /** From emitting call.assigned to workgroup-record-all asking for the recording, ms. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** From writing the handler file to the new version handling its first event, ms. */
  reloadP50Ms: number;
  reloadMaxMs: number;
  events: number;
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (n: number): number => Math.round(n * 1000) / 1000;

let serial = 0;
function call(workgroup: string | null): CallInfo {
  return { callId: `bench-${++serial}`, source: 'bench', direction: 'inbound', from: '+15550100', to: '+15550199', workgroup, agent: 'alice', location: 'default', startedAt: new Date().toISOString(), attributes: { role: 'agent' } };
}

async function runtimeWith(files: Record<string, string>, configFor: (name: string) => unknown, watch = false) {
  const root = mkdtempSync(join(tmpdir(), 'capstan-bench-'));
  const dir = join(root, 'handlers');
  mkdirSync(dir);
  for (const [name, from] of Object.entries(files)) copyFileSync(from, join(dir, `${name}.ts`));
  const logger = createLogger({ level: 'silent' });
  const bus = new EventBus(logger);
  const actions = new ScriptedActions();
  const runtime = new HandlerRuntime({ dir, stateDir: join(root, 'state'), events: bus, actions, logger, watch, configFor });
  await runtime.start();
  requireRunning(runtime, Object.keys(files));
  return { root, dir, bus, actions, runtime };
}

/** A benchmark of a handler that is not running would measure an empty bus: refuse to report it. */
function requireRunning(runtime: HandlerRuntime, names: string[]): void {
  for (const name of names) {
    const status = runtime.get(name);
    if (status?.status !== 'running') throw new Error(`bench: handler ${name} is ${status?.status ?? 'missing'}: ${JSON.stringify(status?.lastError)}`);
  }
}

const shipped = (name: string): string => new URL(`../handlers/${name}.ts`, import.meta.url).pathname;

export async function benchHandlers(options: { events?: number; reloads?: number } = {}): Promise<HandlerBenchResult> {
  const events = options.events ?? 100_000;

  // 1. Throughput: recorder policies evaluated per call (a realistic rule set that does not match).
  const policies = {
    policies: [
      { name: 'internal', when: { direction: ['internal'] }, actions: { record: false, stopProcessing: true } },
      { name: 'vip', when: { ani: '^\\+1999', workgroup: ['vip'] }, actions: { record: true, tags: ['vip'] } },
      { name: 'sample', when: { workgroup: ['nomatch'], percentage: 5 }, actions: { record: true } },
    ],
  };
  const a = await runtimeWith({ 'recorder-policies': shipped('recorder-policies') }, (n) => (n === 'recorder-policies' ? policies : undefined));
  for (let i = 0; i < 2000; i++) a.bus.emit('call.connected', { call: call('sales') }); // warm up the JIT
  const calls = Array.from({ length: events }, () => call('sales'));
  let t0 = performance.now();
  for (const c of calls) a.bus.emit('call.connected', { call: c });
  const eventsPerSecond = events / ((performance.now() - t0) / 1000);
  requireRunning(a.runtime, ['recorder-policies']);
  if ((a.runtime.get('recorder-policies')?.events ?? 0) < events) throw new Error('bench: the handler did not get every event');
  await a.runtime.close();

  // 2. Recording for every call, and the latency to the recording request.
  const wg = { workgroups: { sales: { email: 'sales@example.com' } } };
  const b = await runtimeWith({ 'workgroup-record-all': shipped('workgroup-record-all') }, (n) => (n === 'workgroup-record-all' ? wg : undefined));
  const recordCalls = Array.from({ length: Math.min(events, 20_000) }, () => call('sales'));
  t0 = performance.now();
  await Promise.all(recordCalls.map((c) => b.bus.emitAndWait('call.assigned', { call: c, workgroup: 'sales', agent: 'alice' })));
  const recordingEventsPerSecond = recordCalls.length / ((performance.now() - t0) / 1000);
  let asked = 0;
  b.actions.onAction = () => void (asked = performance.now());
  const latencies: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const c = call('sales');
    const emitted = performance.now();
    await b.bus.emitAndWait('call.assigned', { call: c, workgroup: 'sales', agent: 'alice' });
    latencies.push(asked - emitted);
  }
  latencies.sort((x, y) => x - y);
  requireRunning(b.runtime, ['workgroup-record-all']);
  if (b.actions.taken.length < recordCalls.length + latencies.length) throw new Error('bench: not every call was recorded');
  await b.runtime.close();

  // 3. Save → new version handling events, through chokidar and the debounce.
  const c = await runtimeWith({}, () => undefined, true);
  const reloads: number[] = [];
  let handledBy = 0;
  c.bus.on('handler.loaded', () => undefined);
  const source = (v: number) => `capstan.on('call.held', () => capstan.log.debug('v', { v: ${v} }));\ncapstan.on('call.resumed', () => { throw new Error('unused'); });\n// ${v}`;
  writeFileSync(join(c.dir, 'h.ts'), source(0));
  await new Promise<void>((resolve) => c.bus.once('handler.loaded', () => resolve()));
  for (let v = 1; v <= (options.reloads ?? 10); v++) {
    const saved = performance.now();
    const loaded = new Promise<void>((resolve) => c.bus.once('handler.loaded', () => resolve()));
    writeFileSync(join(c.dir, 'h.ts'), source(v));
    await loaded;
    c.bus.emit('call.held', { call: call(null), leg: 'caller' });
    handledBy = c.runtime.get('h')?.version ?? 0;
    reloads.push(performance.now() - saved);
    await new Promise((r) => setTimeout(r, 120)); // past the watcher's re-check window
  }
  if (handledBy === 0) throw new Error('reload benchmark: no version handled the event');
  reloads.sort((x, y) => x - y);
  await c.runtime.close();
  for (const r of [a, b, c]) rmSync(r.root, { recursive: true, force: true });

  return {
    eventsPerSecond: Math.round(eventsPerSecond),
    recordingEventsPerSecond: Math.round(recordingEventsPerSecond),
    latencyP50Ms: round(quantile(latencies, 0.5)),
    latencyP99Ms: round(quantile(latencies, 0.99)),
    reloadP50Ms: round(quantile(reloads, 0.5)),
    reloadMaxMs: round(reloads[reloads.length - 1]!),
    events,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await benchHandlers());
}
