import { hashPassword } from '../console/password.ts';
import { CapstanError } from '../errors.ts';
import { parseFlags } from './parse-args.ts';

export const CONSOLE_USER_USAGE = `capstan console-user --name NAME --role admin|supervisor|agent [--agent ID]

Reads a password from standard input (one line) and prints the console.users entry for it, with
the password hashed (scrypt), to paste into the configuration. An agent user needs --agent: the
agent id whose calls and recordings it sees.
  printf '%s\\n' 'a long passphrase' | npx capstan console-user --name alice --role agent --agent alice`;

export async function consoleUserCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('console-user', args, { name: { type: 'string' }, role: { type: 'string' }, agent: { type: 'string' } });
  if (!values.name) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan console-user: --name is required');
  const role = values.role;
  if (role !== 'admin' && role !== 'supervisor' && role !== 'agent') throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan console-user: --role is admin, supervisor or agent');
  if (role === 'agent' && !values.agent) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan console-user: an agent user needs --agent ID');
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const password = input.split(/\r?\n/)[0] ?? '';
  if (password.length < 8) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan console-user: give a password of at least 8 characters on standard input');
  const user = { name: values.name, role, ...(values.agent ? { agent: values.agent } : {}), passwordHash: await hashPassword(password) };
  process.stdout.write(`${JSON.stringify(user)}\n`);
  return 0;
}
