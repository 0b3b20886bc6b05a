import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pino } from 'pino';
import { CapstanError, ErrorCodes, toCapstanError, type ErrorCode } from '../errors.ts';
import type { HandlerErrorInfo } from '../events/handler-events.ts';
import { compileHandler } from './compile-handler.ts';
import { isHandlerEventName } from './handler-event-names.ts';
import { resolveLimits, type HandlerLimits } from './handler-limits.ts';
import { HandlerSandbox, type ActionRecord } from './handler-sandbox.ts';
import { HandlerStateStore } from './handler-state.ts';
import { ScriptedActions, type TakenAction } from './scripted-actions.ts';

export interface HandlerTestEvent {
  event: string;
  /** CPU the handler used on this event, ms. */
  cpuMs: number;
  /** The per-event CPU budget it runs under in production, ms. */
  budgetMs: number;
  actions: ActionRecord[];
  error: HandlerErrorInfo | null;
}

export interface HandlerTestResult {
  /** The handler file under test. */
  handler: string;
  /** The test file. */
  file: string;
  test: string;
  ok: boolean;
  /** Why it failed: the assertion, the handler's quarantine, a load error. */
  error: string | null;
  durationMs: number;
  events: HandlerTestEvent[];
  /** What the handler logged, one line each: `level message {fields}`. */
  logs: string[];
}

export interface HandlerTestReport {
  passed: number;
  failed: number;
  results: HandlerTestResult[];
  /** The per-event CPU budget, ms (the limit each event's cpuMs is held against). */
  budgetMs: number;
}

export interface RunHandlerTestsOptions {
  /** Limits to test under; default the runtime defaults. Tests fail when an event goes over them. */
  limits?: Partial<HandlerLimits>;
  /** Time one test may take in all, ms. Default 10000. */
  testTimeoutMs?: number;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Pairs of handler and test file under `path`: a folder, a handler `X.ts` or a test `X.test.ts`. */
async function findTests(path: string): Promise<{ handler: string; test: string }[]> {
  const full = resolve(path);
  const info = await stat(full).catch(() => null);
  if (!info) throw new CapstanError('CAPSTAN_ERR_FILE_NOT_FOUND', `${path} does not exist`, { details: { path } });
  if (info.isDirectory()) {
    const files = (await readdir(full)).filter((f) => f.endsWith('.test.ts')).sort();
    return files.map((f) => ({ handler: join(full, f.replace(/\.test\.ts$/, '.ts')), test: join(full, f) }));
  }
  if (full.endsWith('.test.ts')) return [{ handler: full.replace(/\.test\.ts$/, '.ts'), test: full }];
  if (full.endsWith('.ts')) return [{ handler: full, test: full.replace(/\.ts$/, '.test.ts') }];
  throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `${path} is neither a folder nor a .ts handler or test file`, { details: { path } });
}

/**
 * `capstan handlers test [PATH]`: runs each handler's `*.test.ts` inside the handler's own kind of
 * sandbox, with the same limits, against scripted call events, and reports the actions each event
 * led to and its CPU against the budget. Every test gets a fresh sandbox (fresh handler state, the
 * test's own `config`), so tests cannot leak into each other.
 */
export async function runHandlerTests(path = 'handlers', options: RunHandlerTestsOptions = {}): Promise<HandlerTestReport> {
  const limits = resolveLimits(options.limits);
  const results: HandlerTestResult[] = [];
  for (const pair of await findTests(path)) {
    results.push(...(await runFile(pair.handler, pair.test, limits, options.testTimeoutMs ?? 10_000)));
  }
  const passed = results.filter((r) => r.ok).length;
  return { passed, failed: results.length - passed, results, budgetMs: limits.cpuMsPerEvent };
}

async function runFile(handlerFile: string, testFile: string, limits: HandlerLimits, timeoutMs: number): Promise<HandlerTestResult[]> {
  const base = { handler: handlerFile, file: testFile };
  const failedFile = (error: string): HandlerTestResult[] => [{ ...base, test: '(load)', ok: false, error, durationMs: 0, events: [], logs: [] }];
  let handler: string;
  let test: string;
  try {
    [handler, test] = await Promise.all([readFile(handlerFile, 'utf8'), readFile(testFile, 'utf8')]);
  } catch (e) {
    return failedFile(`cannot read ${(e as NodeJS.ErrnoException).path ?? handlerFile}: ${(e as Error).message}`);
  }
  let handlerCode: string;
  let testCode: string;
  try {
    handlerCode = (await compileHandler(handler, basename(handlerFile))).code;
    testCode = (await compileHandler(test, basename(testFile))).code;
  } catch (e) {
    return failedFile(toCapstanError(e).message);
  }
  // The test list comes from the test file alone: the handler's code needs the test's config.
  let tests: { name: string; config?: unknown }[];
  try {
    const discovery = await createTestSandbox({ name: basename(handlerFile, '.ts'), handlerCode: '', testCode, testFile, limits, config: {}, logs: [], onOp: () => '{}' });
    tests = discovery.listTests();
    discovery.dispose();
  } catch (e) {
    return failedFile(toCapstanError(e).message);
  }
  const results: HandlerTestResult[] = [];
  for (let i = 0; i < tests.length; i++) {
    results.push(await runOne({ ...base, name: basename(handlerFile, '.ts'), handlerCode, testCode, testFile, limits, timeoutMs, index: i, test: tests[i]! }));
  }
  if (tests.length === 0) return failedFile(`${basename(testFile)} registers no tests: call capstanTest(name, fn)`);
  return results;
}

interface TestSandboxOptions {
  name: string;
  handlerCode: string;
  testCode: string;
  testFile: string;
  limits: HandlerLimits;
  config: unknown;
  logs: string[];
  onOp: (op: string, json: string) => string;
  actions?: ScriptedActions;
  onQuarantine?: (error: CapstanError) => void;
}

function createTestSandbox(o: TestSandboxOptions): Promise<HandlerSandbox> {
  const logger = pino(
    { level: 'debug', base: null, timestamp: false },
    {
      write(line: string) {
        const { level, msg, fields } = JSON.parse(line) as { level: number; msg: string; fields?: unknown };
        o.logs.push(`${LEVELS[level] ?? level} ${msg}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`);
      },
    },
  );
  return HandlerSandbox.create({
    name: o.name,
    version: 1,
    code: o.handlerCode,
    fileName: `${o.name}.ts`,
    config: o.config,
    limits: o.limits,
    actions: o.actions ?? new ScriptedActions(),
    state: new HandlerStateStore(null, o.limits.stateMaxBytes),
    logger,
    recordActions: true,
    onQuarantine: o.onQuarantine ?? (() => undefined),
    test: { code: o.testCode, fileName: basename(o.testFile), onOp: o.onOp },
  });
}

async function runOne(o: {
  handler: string;
  file: string;
  name: string;
  handlerCode: string;
  testCode: string;
  testFile: string;
  limits: HandlerLimits;
  timeoutMs: number;
  index: number;
  test: { name: string; config?: unknown };
}): Promise<HandlerTestResult> {
  const started = performance.now();
  const events: HandlerTestEvent[] = [];
  const logs: string[] = [];
  const actions = new ScriptedActions();
  let sandbox: HandlerSandbox | null = null;
  let finish!: (error: string | null) => void;
  const done = new Promise<string | null>((resolve) => {
    let settled = false;
    finish = (error) => {
      if (settled) return;
      settled = true;
      resolve(error);
    };
  });
  const onOp = (op: string, json: string): string => {
    const request = JSON.parse(json) as Record<string, unknown>;
    switch (op) {
      case 'test.done': {
        const r = request as { ok: boolean; error?: { message: string } };
        // Settle after the guest call that reported it returns (the sandbox is not re-entrant).
        setImmediate(() => finish(r.ok ? null : (r.error?.message ?? 'failed')));
        return '{}';
      }
      case 'test.actions':
        return JSON.stringify({ value: actions.taken.map(publicAction) });
      case 'test.failNext': {
        const code = String(request.code ?? 'CAPSTAN_ERR_NO_MEDIA_SERVER');
        const opName = String(request.op);
        if (!['start', 'pause', 'securePause', 'resume', 'stop'].includes(opName) || !Object.hasOwn(ErrorCodes, code)) {
          return JSON.stringify({ error: { code: 'CAPSTAN_ERR_BAD_REQUEST', message: `t.failNext(op, code): op is start, pause, securePause, resume or stop; code a CAPSTAN_ERR_... code` } });
        }
        actions.failNext(opName as TakenAction['op'], code as ErrorCode, typeof request.message === 'string' ? request.message : undefined);
        return '{}';
      }
      case 'test.emit': {
        const id = Number(request.id);
        const event = String(request.event);
        if (!isHandlerEventName(event)) return JSON.stringify({ error: { code: 'CAPSTAN_ERR_BAD_REQUEST', message: `t.emit(): unknown event ${event}` } });
        const payloadJson = JSON.stringify(request.payload ?? {});
        setImmediate(() => {
          void (async () => {
            const outcome = await sandbox!.dispatch(event, payloadJson);
            events.push({ event, cpuMs: outcome.cpuMs, budgetMs: o.limits.cpuMsPerEvent, actions: outcome.actions, error: outcome.error });
            sandbox!.settleRequest(id, true, JSON.stringify({ actions: outcome.actions, cpuMs: outcome.cpuMs, budgetMs: o.limits.cpuMsPerEvent, error: outcome.error }));
          })();
        });
        return '{}';
      }
      default:
        return JSON.stringify({ error: { code: 'CAPSTAN_ERR_BAD_REQUEST', message: `unknown test call ${op}` } });
    }
  };
  let error: string | null;
  const timer = setTimeout(() => finish(`timed out after ${o.timeoutMs} ms`), o.timeoutMs);
  try {
    sandbox = await createTestSandbox({
      name: o.name,
      handlerCode: o.handlerCode,
      testCode: o.testCode,
      testFile: o.testFile,
      limits: o.limits,
      config: o.test.config ?? {},
      logs,
      onOp,
      actions,
      // A handler that would be quarantined in production fails its test, with the same code.
      onQuarantine: (e) => finish(`${e.code}: ${e.message}`),
    });
    sandbox.runTest(o.index);
    error = await done;
  } catch (e) {
    error = toCapstanError(e).message;
  } finally {
    clearTimeout(timer);
    sandbox?.dispose();
  }
  return { handler: o.handler, file: o.file, test: o.test.name, ok: error === null, error, durationMs: performance.now() - started, events, logs };
}

/** What the test sees of an action: no handler name (it is always the one under test). */
function publicAction(action: TakenAction): Record<string, unknown> {
  const { handler: _handler, ...rest } = action;
  return rest;
}

/** The report as the CLI prints it: one line per test, its events' CPU against the budget, and failures. */
export function formatHandlerTestReport(report: HandlerTestReport): string {
  const lines: string[] = [];
  for (const r of report.results) {
    const maxCpu = r.events.reduce((m, e) => Math.max(m, e.cpuMs), 0);
    lines.push(`${r.ok ? 'ok  ' : 'FAIL'} ${basename(dirname(r.file))}/${basename(r.file)} › ${r.test} (${r.events.length} events, max CPU ${maxCpu.toFixed(3)} of ${report.budgetMs} ms)`);
    if (!r.ok) lines.push(`     ${r.error}`);
    for (const e of r.events) lines.push(`       ${e.event}: ${e.cpuMs.toFixed(3)} ms CPU, ${e.actions.length} action(s)${e.error ? `, ${e.error.code}` : ''}`);
  }
  lines.push(`${report.passed} passed, ${report.failed} failed`);
  return lines.join('\n');
}
