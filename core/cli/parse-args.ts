import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CapstanError } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict flag parsing: an unknown flag or a missing value is a coded usage error, never a stack trace. */
export function parseFlags<O extends Options>(command: string, args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options: { help: { type: 'boolean', short: 'h' }, ...options }, strict: true, allowPositionals });
  } catch (e) {
    throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan ${command}: ${(e as Error).message.replace(/\. To specify.*$/s, '')}`, {
      details: { command },
    });
  }
}

export function intFlag(command: string, name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan ${command}: --${name} must be an integer from ${min} to ${max}, got "${value}"`, {
      details: { command, flag: name },
    });
  }
  return n;
}

export function numberFlag(command: string, name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) {
    throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan ${command}: --${name} must be a number of at least ${min}, got "${value}"`, {
      details: { command, flag: name },
    });
  }
  return n;
}
