import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { CallInfo, CapstanEvents } from '../../../core/events/call-events.ts';
import { EventBus } from '../../../core/events/event-bus.ts';
import { HandlerRuntime, type HandlerRuntimeOptions } from '../../../core/handlers/handler-runtime.ts';
import { ScriptedActions } from '../../../core/handlers/scripted-actions.ts';
import type { Logger } from '../../../core/logger.ts';

/** A logger that keeps its lines for assertions. */
export function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

export interface RuntimeFixture {
  dir: string;
  stateDir: string;
  bus: EventBus;
  actions: ScriptedActions;
  runtime: HandlerRuntime;
  lines: Record<string, unknown>[];
  write(name: string, source: string): string;
  /** Every bus event of these kinds, in order. */
  seen: { event: keyof CapstanEvents; payload: unknown }[];
}

/** A runtime over a fresh temp folder holding `files`; started. */
export async function startRuntime(files: Record<string, string>, options: Partial<HandlerRuntimeOptions> = {}): Promise<RuntimeFixture> {
  const root = mkdtempSync(join(tmpdir(), 'capstan-handlers-'));
  const dir = join(root, 'handlers');
  const stateDir = join(root, 'state');
  mkdirSync(dir);
  const write = (name: string, source: string): string => {
    const file = join(dir, name.endsWith('.ts') ? name : `${name}.ts`);
    writeFileSync(file, source);
    return file;
  };
  for (const [name, source] of Object.entries(files)) write(name, source);
  const { logger, lines } = memoryLogger();
  const bus = new EventBus(logger);
  const seen: RuntimeFixture['seen'] = [];
  for (const event of ['handler.loaded', 'handler.failed', 'handler.removed'] as const) bus.on(event, (payload) => void seen.push({ event, payload }));
  const actions = new ScriptedActions();
  const runtime = new HandlerRuntime({ dir, stateDir, events: bus, actions, logger, watch: false, ...options });
  await runtime.start();
  return { dir, stateDir, bus, actions, runtime, lines, write, seen };
}

let serial = 0;
export function call(overrides: Partial<CallInfo> = {}): CallInfo {
  serial++;
  return {
    callId: `call-${serial}`,
    source: 'test',
    direction: 'inbound',
    from: '+15550100',
    to: '+15550199',
    workgroup: null,
    agent: null,
    location: 'default',
    startedAt: new Date().toISOString(),
    attributes: {},
    ...overrides,
  };
}

export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
