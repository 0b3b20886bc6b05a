import { spawn, type ChildProcess } from 'node:child_process';

/** The sipp scenarios shipped in examples/sipp/. */
export const SIPP_SCENARIOS = new URL('../../examples/sipp/', import.meta.url).pathname;

export interface SippRun {
  proc: ChildProcess;
  /** sipp's exit code: 0 when every call of the scenario succeeded. */
  exited: Promise<number | null>;
  /** What sipp printed, for the assertion message when it fails. */
  output: () => string;
}

/** sipp as a child in `cwd` (where its scenarios find `pcap/...`), errors traced, a call timeout failing the run. */
export function sipp(args: string[], cwd: string, timeout = '40s'): SippRun {
  const proc = spawn('sipp', ['-nostdin', '-trace_err', '-timeout', timeout, '-timeout_error', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, exited: new Promise((r) => proc.on('exit', (code) => r(code))), output: () => out };
}
