import { intFlag } from './parse-args.ts';
import { runCall } from './call-command.ts';
import { printBanner, startHostFromFlags, stopOnSignal } from './start-command.ts';

export const DEMO_USAGE = `capstan demo [--calls N] [--exit] [start options]

Starts Capstan (as "capstan start" would) and places N simulated calls (default 3, two at a time),
printing where each recording went. Keeps running afterwards so you can browse the API, unless --exit.`;

export async function demoCommand(args: string[]): Promise<number> {
  const { host, source, values } = await startHostFromFlags('demo', args, { calls: { type: 'string' }, exit: { type: 'boolean' } });
  try {
    printBanner(host, source);
    const calls = intFlag('demo', 'calls', values.calls as string | undefined, 1, 100) ?? 3;
    const people = [
      { from: '5551001', workgroup: 'sales', agent: 'alice' },
      { from: '5551002', workgroup: 'support', agent: 'bob' },
      { from: '5551003', workgroup: 'support', agent: 'carol' },
    ];
    const out = (l: string) => process.stdout.write(`${l}\n`);
    let failed = 0;
    for (let i = 0; i < calls; i += 2) {
      const batch = Array.from({ length: Math.min(2, calls - i) }, (_, k) => {
        const p = people[(i + k) % people.length]!;
        return runCall({ host: host.url, duration: '4', ...p }, out).catch((e: unknown) => {
          failed++;
          out(`  call failed: ${(e as Error).message}`);
        });
      });
      await Promise.all(batch);
    }
    out(`demo: ${calls - failed} of ${calls} calls recorded and stored; list them at ${host.url}/api/v1/recordings`);
    if (values.exit) {
      await host.close();
      return failed === 0 ? 0 : 1;
    }
    await stopOnSignal(host);
    return 0;
  } catch (e) {
    await host.close();
    throw e;
  }
}

