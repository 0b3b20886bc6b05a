/**
 * `npm run bench`: runs every benchmark on this machine and prints the results as Markdown with
 * the machine and the date, ready for docs/benchmarks.md. Pass names to run only some:
 * `npm run bench -- sasf`.
 */
import { cpus, totalmem } from 'node:os';
import { benchSasf, benchSasfRecording } from './sasf.ts';
import { benchCodecs } from './codecs.ts';
import { benchHandlers } from './handlers.ts';
import { benchInsertion } from './insertion.ts';
import { benchFailover } from './failover.ts';
import { benchSip } from './sip.ts';
import { benchSipInsertion } from './sip-insertion.ts';
import { benchMediaCapacity } from './media-capacity.ts';
import { benchRelayLatency } from './relay-latency.ts';
import { benchTrueSpeech } from './truespeech.ts';

type Bench = { name: string; run: () => Promise<Record<string, unknown>> };

/** Several result objects in one table, their keys prefixed so none overwrites another. */
function prefixed(prefix: string, result: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(result).map(([k, v]) => [`${prefix}.${k}`, v]));
}

const benches: Bench[] = [
  { name: 'codecs', run: () => benchCodecs() },
  {
    name: 'sasf',
    run: async () => ({
      ...prefixed('stream', await benchSasf()),
      ...prefixed('recording', await benchSasfRecording()),
    }),
  },
  { name: 'handlers', run: async () => ({ ...(await benchHandlers()) }) },
  { name: 'insertion', run: async () => ({ ...(await benchInsertion()) }) },
  { name: 'failover', run: async () => ({ ...(await benchFailover()) }) },
  { name: 'sip-insertion', run: async () => ({ ...(await benchSipInsertion()) }) },
  {
    name: 'sip',
    run: async () => {
      const r = await benchSip();
      return {
        bestCps: r.bestCps,
        setupRates: r.setupRates.map((x) => `${x.cps}/s × ${x.calls}: ${x.passed ? 'ok' : 'FAILED'} in ${x.seconds} s`).join('; '),
        concurrent: r.concurrent.map((x) => `${x.calls}: ${x.passed ? 'ok' : 'FAILED'} (${x.stored} stored) in ${x.seconds} s`).join('; '),
      };
    },
  },
  { name: 'media-capacity', run: () => benchMediaCapacity() },
  { name: 'relay-latency', run: async () => ({ ...(await benchRelayLatency()) }) },
  { name: 'truespeech', run: async () => ({ ...(await benchTrueSpeech()) }) },
];

const only = process.argv.slice(2);
const selected = only.length ? benches.filter((b) => only.includes(b.name)) : benches;
if (only.length && selected.length !== only.length) {
  process.stderr.write(`unknown benchmark; known: ${benches.map((b) => b.name).join(', ')}\n`);
  process.exit(2);
}

const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v));
process.stdout.write(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}\n\n`);
for (const bench of selected) {
  const result = await bench.run();
  process.stdout.write(`### ${bench.name}\n\n| measure | value |\n|---|---|\n`);
  for (const [k, v] of Object.entries(result)) process.stdout.write(`| ${k} | ${fmt(v)} |\n`);
  process.stdout.write('\n');
}
