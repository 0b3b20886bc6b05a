import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../../core/config/load-config.ts';
import { ConfigSchema } from '../../../core/config/schema.ts';
import { CapstanError } from '../../../core/errors.ts';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'capstan-config-'));
}

async function codeOf(p: Promise<unknown>): Promise<CapstanError> {
  try {
    await p;
  } catch (e) {
    return e as CapstanError;
  }
  throw new Error('expected an error');
}

describe('loadConfig', () => {
  it('runs on documented defaults when there is no file', async () => {
    const dir = tmp();
    const { config, source } = await loadConfig({ cwd: dir });
    expect(source).toBeNull();
    expect(config.http.port).toBe(8080);
    expect(config.dataDir).toBe(join(dir, 'var'));
    expect(config.mediaServers.embedded).toBe(2);
    expect(config.recorder.database.client).toBe('sqlite');
    expect(config.recorder.policies.map((p) => p.name)).toEqual(['record-all']);
    expect(config.mail.smtp).toBeUndefined();
  });

  it('reads capstan.config.json from the working directory and applies command-line overrides over it', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'capstan.config.json'), JSON.stringify({ http: { port: 9000 }, mediaServers: { embedded: 1 } }));
    const { config, source } = await loadConfig({ cwd: dir, overrides: { mediaServers: { embedded: 0 } } });
    expect(source).toBe(join(dir, 'capstan.config.json'));
    expect(config.http.port).toBe(9000);
    expect(config.mediaServers.embedded).toBe(0);
  });

  it('reads a TypeScript config whose default export is the config', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'capstan.config.ts'), 'const port: number = 9100;\nexport default { http: { port } };\n');
    const { config } = await loadConfig({ cwd: dir });
    expect(config.http.port).toBe(9100);
  });

  it('stops with CAPSTAN_ERR_CONFIG_INVALID naming the key and what is allowed', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ mediaServers: { rtpPorts: '5000' } }));
    const e = await codeOf(loadConfig({ cwd: dir, file: 'c.json' }));
    expect(e.code).toBe('CAPSTAN_ERR_CONFIG_INVALID');
    expect(e.message).toContain('"mediaServers.rtpPorts"');
    expect(e.message).toContain('a range like 40000-40999');
  });

  it('refuses unknown keys so a typo does not silently fall back to a default', () => {
    try {
      parseConfig({ http: { prot: 1 } });
      expect.fail('should throw');
    } catch (e) {
      expect((e as CapstanError).code).toBe('CAPSTAN_ERR_CONFIG_INVALID');
      expect((e as CapstanError).message).toMatch(/http.*prot/);
    }
  });

  it('refuses a wrong type with the allowed values', () => {
    expect(() => parseConfig({ logLevel: 'loud' })).toThrow(/"logLevel".*(fatal|info)/);
  });

  it('says which file is missing with CAPSTAN_ERR_CONFIG_NOT_FOUND', async () => {
    const e = await codeOf(loadConfig({ cwd: tmp(), file: 'nope.json' }));
    expect(e.code).toBe('CAPSTAN_ERR_CONFIG_NOT_FOUND');
    expect(e.message).toContain('nope.json');
  });

  it('refuses a JSON file that does not parse', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'bad.json'), '{ "http": ');
    const e = await codeOf(loadConfig({ cwd: dir, file: 'bad.json' }));
    expect(e.code).toBe('CAPSTAN_ERR_CONFIG_INVALID');
    expect(e.message).toContain('not valid JSON');
  });
});

/** Every key of the schema, as dotted paths (arrays of objects as `key[].field`). */
function keysOf(schema: unknown, prefix = ''): string[] {
  let s = schema as { def?: { type: string; innerType?: unknown; shape?: Record<string, unknown>; element?: unknown } };
  while (s.def && ['default', 'optional', 'prefault', 'nullable', 'pipe'].includes(s.def.type) && s.def.innerType) s = s.def.innerType as typeof s;
  if (s.def?.type === 'object' && s.def.shape) {
    return Object.entries(s.def.shape).flatMap(([k, v]) => {
      const path = prefix ? `${prefix}.${k}` : k;
      return [path, ...keysOf(v, path)];
    });
  }
  if (s.def?.type === 'array' && s.def.element) return keysOf(s.def.element, `${prefix}[]`);
  return [];
}

describe('docs/configuration.md', () => {
  it('documents every configuration key', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const missing = keysOf(ConfigSchema).filter((k) => !doc.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });
});
