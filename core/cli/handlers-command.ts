import { CapstanError } from '../errors.ts';
import { formatHandlerTestReport, runHandlerTests } from '../handlers/run-handler-tests.ts';
import { parseFlags } from './parse-args.ts';

export const HANDLERS_USAGE = `capstan handlers test [PATH]

Runs handlers' own tests (each *.test.ts beside its handler) inside the same sandbox the host
uses, against scripted call events, and reports the actions each event caused and its CPU against
the per-event budget. PATH is a handler file or a folder (default: handlers).`;

export async function handlersCommand(args: string[]): Promise<number> {
  const { positionals } = parseFlags('handlers', args, {}, true);
  const [action, path, ...extra] = positionals;
  if (action !== 'test' || extra.length > 0) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan handlers: say "test [PATH]"');
  const report = await runHandlerTests(path ?? 'handlers');
  process.stdout.write(`${formatHandlerTestReport(report)}\n`);
  if (report.passed + report.failed === 0) {
    process.stderr.write(`capstan handlers: no *.test.ts found in ${path ?? 'handlers'}\n`);
    return 1;
  }
  return report.failed === 0 ? 0 : 1;
}
