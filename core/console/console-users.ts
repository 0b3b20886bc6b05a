import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Principal, Role } from '../http/api-auth.ts';
import type { Logger } from '../logger.ts';
import { hashPassword, verifyPassword } from './password.ts';

export interface ConsoleUser {
  name: string;
  role: Role;
  agent?: string | undefined;
  passwordHash: string;
}

/** A hash to compare against when the name is unknown, so a wrong name takes as long as a wrong password. */
const DUMMY = hashPassword(randomBytes(16).toString('hex'));

/**
 * Who may sign in to the console: `console.users` from the configuration, or — when none are
 * configured — a first administrator `admin` whose generated password is printed once at its
 * creation and kept only as a hash in `<dataDir>/console-admin.json`.
 */
export class ConsoleUsers {
  readonly #users: Map<string, ConsoleUser>;

  private constructor(users: ConsoleUser[]) {
    this.#users = new Map(users.map((u) => [u.name, u]));
  }

  static async open(configured: ConsoleUser[], dataDir: string, logger: Logger): Promise<ConsoleUsers> {
    if (configured.length > 0) return new ConsoleUsers(configured);
    const file = join(dataDir, 'console-admin.json');
    if (existsSync(file)) return new ConsoleUsers([JSON.parse(readFileSync(file, 'utf8')) as ConsoleUser]);
    const password = randomBytes(12).toString('base64url');
    const admin: ConsoleUser = { name: 'admin', role: 'admin', passwordHash: await hashPassword(password) };
    writeFileSync(file, JSON.stringify(admin), { mode: 0o600 });
    logger.warn({ name: 'admin', password }, 'console: first administrator created; sign in at /console with this password (shown once) and configure console.users');
    return new ConsoleUsers([admin]);
  }

  /** The principal for a right name and password, else null. */
  async verify(name: string, password: string): Promise<Principal | null> {
    const user = this.#users.get(name);
    const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY));
    return user && ok ? { name: user.name, role: user.role, agent: user.agent ?? null } : null;
  }
}
