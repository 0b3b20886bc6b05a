/**
 * Child process for the crash test: writes a SASF file, flushes, says so, keeps writing without
 * flushing, and waits to be killed with SIGKILL (no chance to close or flush again).
 *   node crash-writer.ts OUT PUBLIC_KEY_PEM_FILE FLUSHED_BYTES EXTRA_BYTES
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SasfWriter } from '../../../media/sasf/writer.ts';
import { metadata, pattern } from './sasf-samples.ts';

const [out, keyFile, flushed, extra] = process.argv.slice(2) as [string, string, string, string];
const data = pattern(Number(flushed) + Number(extra), 42);
const writer = await SasfWriter.open(out, { publicKey: createPublicKey(readFileSync(keyFile)), metadata, chunkSize: 1024 });
// 20 ms frames of 8 kHz 16-bit stereo, as the recorder hands them over.
for (let o = 0; o < Number(flushed); o += 640) writer.write(data.subarray(o, Math.min(o + 640, Number(flushed))));
await writer.flush();
process.stdout.write('flushed\n');
for (let o = Number(flushed); o < data.length; o += 640) writer.write(data.subarray(o, Math.min(o + 640, data.length)));
setInterval(() => {}, 1000); // wait for SIGKILL
