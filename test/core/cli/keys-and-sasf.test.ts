import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.ts';

const SAMPLE = new URL('../../../examples/audio/callee.wav', import.meta.url).pathname;

describe('capstan keys and capstan sasf', () => {
  it('generate, encrypt, inspect, rotate, and decrypt both old and new recordings from the key folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-keys-'));
    const keys = join(dir, 'keys');
    const gen = await runCli(['keys', 'generate', '--dir', keys]);
    expect(gen.code).toBe(0);
    const firstId = /generated ([0-9a-f]{16})/.exec(gen.stdout)![1]!;

    const enc1 = await runCli(['sasf', 'encrypt', '--key', join(keys, 'active.public.pem'), SAMPLE, join(dir, 'old.sasf')]);
    expect(enc1.code, enc1.stderr).toBe(0);
    const inspect = await runCli(['sasf', 'inspect', join(dir, 'old.sasf')]);
    expect(inspect.stdout).toContain(`key id      ${firstId}`);
    expect(inspect.stdout).toContain('complete    yes');
    expect(inspect.stdout).toContain('audio/L16, 8000 Hz, 1 channel');

    const rot = await runCli(['keys', 'rotate', '--dir', keys]);
    expect(rot.stdout).toContain(`retired ${firstId}`);
    const enc2 = await runCli(['sasf', 'encrypt', '--key', join(keys, 'active.public.pem'), SAMPLE, join(dir, 'new.sasf')]);
    expect(enc2.code).toBe(0);

    for (const name of ['old', 'new']) {
      const dec = await runCli(['sasf', 'decrypt', '--key', keys, join(dir, `${name}.sasf`), join(dir, `${name}.wav`)]);
      expect(dec.code, dec.stderr).toBe(0);
      expect(readFileSync(join(dir, `${name}.wav`)).equals(readFileSync(SAMPLE))).toBe(true);
    }
    const list = await runCli(['keys', 'list', '--dir', keys]);
    expect(list.stdout.trim().split('\n')).toHaveLength(2);
  });

  it('refuses another key folder’s key with CAPSTAN_ERR_SASF_WRONG_KEY and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-keys-'));
    await runCli(['keys', 'generate', '--dir', join(dir, 'a')]);
    await runCli(['keys', 'generate', '--dir', join(dir, 'b')]);
    await runCli(['sasf', 'encrypt', '--key', join(dir, 'a', 'active.public.pem'), SAMPLE, join(dir, 'x.sasf')]);
    const bKey = (await runCli(['keys', 'list', '--dir', join(dir, 'b')])).stdout.slice(0, 16);
    const dec = await runCli(['sasf', 'decrypt', '--key', join(dir, 'b', `${bKey}.private.pem`), join(dir, 'x.sasf'), join(dir, 'x.wav')]);
    expect(dec.code).toBe(1);
    expect(dec.stderr).toContain('CAPSTAN_ERR_SASF_WRONG_KEY');
    expect(() => readFileSync(join(dir, 'x.wav'))).toThrow();
  });

  it('refuses a missing action with a usage error', async () => {
    const r = await runCli(['keys']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CAPSTAN_ERR_CLI_USAGE');
  });
});
