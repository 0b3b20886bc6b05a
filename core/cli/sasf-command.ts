import { statSync } from 'node:fs';
import { loadPrivateKey, loadPublicKey, privateKeyResolver } from '../keys/index.ts';
import { CapstanError } from '../errors.ts';
import { decryptSasfFile, encryptSasfFile, inspectSasf } from '../../media/sasf/index.ts';
import { parseFlags } from './parse-args.ts';

export const SASF_USAGE = `capstan sasf inspect FILE
capstan sasf decrypt --key KEY IN OUT [--allow-incomplete] [--passphrase-env VAR]
capstan sasf encrypt --key PUBLIC_KEY_FILE IN OUT

inspect  the header (recording, format, key id), the chunks, complete or not — no key needed
decrypt  gives back the inner WAV or Ogg file; KEY is a private key file or the key folder;
         a file cut short is refused unless --allow-incomplete (then its verified part is written)
encrypt  brings an existing WAV or Ogg Opus recording under SASF, as a media server writes it`;

export async function sasfCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'sasf',
    args,
    { key: { type: 'string' }, 'allow-incomplete': { type: 'boolean' }, 'passphrase-env': { type: 'string' } },
    true,
  );
  const [action, ...files] = positionals;
  const out = (l: string) => process.stdout.write(`${l}\n`);
  const need = (n: number) => {
    if (files.length !== n) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan sasf ${action}: expected ${n === 1 ? 'FILE' : 'IN OUT'}`);
  };
  const key = () => {
    if (values.key === undefined) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan sasf ${action}: --key is required`);
    return values.key;
  };
  if (action === 'inspect') {
    need(1);
    const i = await inspectSasf(files[0]!);
    out(`recording   ${i.recordingId}`);
    out(`format      ${i.mimeType}, ${i.sampleRate} Hz, ${i.channels} channel${i.channels === 1 ? '' : 's'}`);
    out(`created     ${i.createdAt.toISOString()}`);
    out(`key id      ${i.keyId}`);
    out(`cipher      ${i.aead}, key wrap ${i.keyWrap}, chunks of ${i.chunkSize} bytes`);
    out(`chunks      ${i.chunkCount}`);
    out(`complete    ${i.complete ? 'yes' : `no (${i.problem})`}`);
    out('(not verified: inspect reads without a key; decrypt verifies every chunk)');
    return i.complete ? 0 : 1;
  }
  if (action === 'decrypt') {
    need(2);
    const location = key();
    const envName = values['passphrase-env'];
    const passphrase = envName === undefined ? undefined : process.env[envName];
    const privateKey = statSync(location, { throwIfNoEntry: false })?.isDirectory()
      ? privateKeyResolver(location, passphrase === undefined ? {} : { passphrase })
      : await loadPrivateKey(location, undefined, passphrase);
    const r = await decryptSasfFile(files[0]!, files[1]!, { privateKey, allowIncomplete: values['allow-incomplete'] ?? false });
    out(`${r.path}: ${r.bodyLength} bytes of ${r.header.mimeType} from ${r.chunkCount} verified chunks${r.complete ? '' : ' — INCOMPLETE: the file was cut short; this is its verified part'}`);
    return 0;
  }
  if (action === 'encrypt') {
    need(2);
    const r = await encryptSasfFile(files[0]!, files[1]!, { publicKey: await loadPublicKey(key()) });
    out(`${files[1]}: encrypted to key ${r.header.keyId}, ${r.chunkCount} chunks`);
    return 0;
  }
  throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan sasf: say inspect, decrypt or encrypt');
}
