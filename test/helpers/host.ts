import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../core/config/load-config.ts';
import type { ConfigInput } from '../../core/config/schema.ts';
import { Host } from '../../core/host.ts';
import { createLogger } from '../../core/logger.ts';
import type { CapstanPlugin } from '../../core/plugin.ts';

let nextPortBlock = 0;

/**
 * A host on a free HTTP port with its data in a fresh temp dir. Each call takes its own RTP port
 * block so test files running side by side never collide.
 */
export async function startTestHost(overrides: ConfigInput = {}, plugins: CapstanPlugin[] = []): Promise<Host> {
  const dataDir = mkdtempSync(join(tmpdir(), 'capstan-host-'));
  // Spread blocks by process so parallel vitest workers do not share ports.
  const base = 42000 + ((process.pid * 7 + nextPortBlock++ * 200) % 20000);
  const config = parseConfig({
    dataDir,
    logLevel: 'warn',
    ...overrides,
    http: { port: 0, ...overrides.http },
    // Any free SIP port: test hosts run side by side.
    sip: { port: 0, ...overrides.sip },
    mediaServers: { rtpPorts: `${base}-${base + 199}`, ...overrides.mediaServers },
  });
  return Host.start(config, { logger: createLogger({ level: process.env.CAPSTAN_TEST_LOG ?? 'error', fd: 2 }), plugins });
}
