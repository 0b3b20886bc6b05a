import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.ts';

const noStack = (s: string) => expect(s).not.toMatch(/^\s+at /m);

describe('the capstan command line', () => {
  it('prints its commands for help and exits 0', async () => {
    const r = await runCli(['help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('start');
    expect(r.stdout).toContain('media-server');
  });

  it('refuses an unknown command with CAPSTAN_ERR_CLI_USAGE and exit code 2', async () => {
    const r = await runCli(['record-everything']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('CAPSTAN_ERR_CLI_USAGE');
    noStack(r.stderr);
  });

  it('refuses an unknown flag with a coded error, not a stack trace', async () => {
    const r = await runCli(['start', '--prot', '9000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CAPSTAN_ERR_CLI_USAGE: .*--prot/);
    noStack(r.stderr);
  });

  it('refuses a port that is not a number', async () => {
    const r = await runCli(['start', '--port', 'eighty']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--port must be an integer');
  });

  it('refuses a missing audio file with CAPSTAN_ERR_AUDIO_FILE', async () => {
    const r = await runCli(['call', '--audio', '/nonexistent/hello.wav']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CAPSTAN_ERR_AUDIO_FILE');
    expect(r.stderr).toContain('/nonexistent/hello.wav');
    noStack(r.stderr);
  });

  it('refuses an audio file that is not 8 kHz PCM and says how to convert it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-cli-'));
    writeFileSync(join(dir, 'not.wav'), 'this is not a wav file at all, just text');
    const r = await runCli(['call', '--audio', join(dir, 'not.wav')]);
    expect(r.stderr).toContain('CAPSTAN_ERR_AUDIO_FILE');
    expect(r.stderr).toContain('sox');
  });

  it('says clearly when no host answers', async () => {
    const r = await runCli(['call', '--host', 'http://127.0.0.1:9', '--duration', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CAPSTAN_ERR_\w+: Capstan host at http:\/\/127.0.0.1:9 did not answer/);
    noStack(r.stderr);
  });

  it('stops start on a bad configuration value, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-cli-'));
    writeFileSync(join(dir, 'capstan.config.json'), JSON.stringify({ mediaServers: { embedded: 'two' } }));
    const r = await runCli(['start'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CAPSTAN_ERR_CONFIG_INVALID');
    expect(r.stderr).toContain('"mediaServers.embedded"');
    noStack(r.stderr);
  });

  it('stops start when --config names a missing file', async () => {
    const r = await runCli(['start', '--config', '/nonexistent/capstan.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('CAPSTAN_ERR_CONFIG_NOT_FOUND');
  });

  it('refuses a media server retention that is not a number of days', async () => {
    const r = await runCli(['media-server', '--host', 'http://127.0.0.1:9', '--location', 'x', '--retention-days', 'soon'], { env: { CAPSTAN_SECRET: 'a-test-secret-of-enough-length' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--retention-days must be a number');
  });

  it('refuses a media server UDP transport other than auto, native or dgram', async () => {
    const r = await runCli(['media-server', '--host', 'http://127.0.0.1:9', '--location', 'x', '--udp', 'io_uring'], { env: { CAPSTAN_SECRET: 'a-test-secret-of-enough-length' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--udp must be auto, native, dgram');
  });
});
