import { existsSync, readFileSync } from 'node:fs';
import { resolve, extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { CapstanError } from '../errors.ts';
import { ConfigSchema, type CapstanConfig, type ConfigInput } from './schema.ts';

/** Files looked for in the working directory when no `--config` is given, in this order. */
export const DEFAULT_CONFIG_FILES = ['capstan.config.ts', 'capstan.config.json'];

export interface LoadConfigOptions {
  /** Explicit config file (`--config`). Missing file → CAPSTAN_ERR_CONFIG_NOT_FOUND. */
  file?: string | undefined;
  /** Values from the command line, applied over the file's. */
  overrides?: ConfigInput;
  /** Where relative paths and default files are resolved. Default process.cwd(). */
  cwd?: string;
}

export interface LoadedConfig {
  config: CapstanConfig;
  /** The file read, or null when running on defaults. */
  source: string | null;
}

async function readConfigFile(path: string): Promise<unknown> {
  if (extname(path) === '.json') {
    try {
      return JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new CapstanError('CAPSTAN_ERR_CONFIG_INVALID', `${path}: not valid JSON: ${(e as Error).message}`, {
        details: { file: path },
      });
    }
  }
  // .ts/.js/.mjs: a module whose default export is the config object (tsx transpiles .ts).
  try {
    const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
    return mod.default;
  } catch (e) {
    throw new CapstanError('CAPSTAN_ERR_CONFIG_INVALID', `${path}: failed to load: ${(e as Error).message}`, {
      details: { file: path },
      cause: e,
    });
  }
}

/** Deep merge of plain objects; arrays and scalars from `over` replace. */
function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over;
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out;
}

/** Turns a schema failure into one coded error naming the key and what is allowed. */
export function configError(error: z.ZodError, source: string | null): CapstanError {
  const issues = error.issues.map((issue) => ({ key: issue.path.join('.') || '(root)', problem: issue.message }));
  const first = issues[0]!;
  const where = source ? ` in ${source}` : '';
  return new CapstanError(
    'CAPSTAN_ERR_CONFIG_INVALID',
    `Invalid configuration${where}: "${first.key}": ${first.problem}` +
      (issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''),
    { details: { issues } },
  );
}

export function parseConfig(input: unknown, source: string | null = null): CapstanConfig {
  const parsed = ConfigSchema.safeParse(input ?? {});
  if (!parsed.success) throw configError(parsed.error, source);
  return parsed.data;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  let source: string | null = null;
  if (options.file !== undefined) {
    source = resolve(cwd, options.file);
    if (!existsSync(source)) {
      throw new CapstanError('CAPSTAN_ERR_CONFIG_NOT_FOUND', `Configuration file not found: ${source}`, {
        details: { file: source },
      });
    }
  } else {
    source = DEFAULT_CONFIG_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f)) ?? null;
  }
  const fromFile = source ? await readConfigFile(source) : {};
  const config = parseConfig(merge(fromFile ?? {}, options.overrides ?? {}), source);
  config.dataDir = resolve(cwd, config.dataDir);
  config.handlersDir = resolve(cwd, config.handlersDir);
  return { config, source };
}
