import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../../core/console/password.ts';
import { runCli } from '../../helpers/run-cli.ts';
import { spawn } from 'node:child_process';
import { CLI } from '../../helpers/run-cli.ts';

describe('console passwords', () => {
  it('are stored as salted scrypt hashes that verify only the right password', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b); // salted
    expect(a).not.toContain('correct');
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'md5$abc')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$99999999$8$1$aa$bb')).toBe(false);
  });

  it('are hashed by "capstan console-user" into an entry the configuration accepts', async () => {
    const child = spawn(process.execPath, ['--no-node-snapshot', CLI, 'console-user', '--name', 'alice', '--role', 'agent', '--agent', 'a-17'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stdin.end('a long passphrase\n');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    const entry = JSON.parse(out) as { name: string; role: string; agent: string; passwordHash: string };
    expect(entry).toMatchObject({ name: 'alice', role: 'agent', agent: 'a-17' });
    expect(await verifyPassword('a long passphrase', entry.passwordHash)).toBe(true);
    // An agent without --agent is refused with the usage code.
    const bad = await runCli(['console-user', '--name', 'bob', '--role', 'agent']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('CAPSTAN_ERR_CLI_USAGE');
  }, 30_000);
});
