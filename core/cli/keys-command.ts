import { generateKey, listKeys, rotateKey, type RecorderKeyInfo } from '../keys/index.ts';
import { CapstanError } from '../errors.ts';
import { parseFlags } from './parse-args.ts';

export const KEYS_USAGE = `capstan keys generate | list | rotate [--dir DIR] [--passphrase-env VAR]

The Recorder's X25519 keys that SASF recordings are encrypted to (docs/sasf.md).
  generate  make a key (the active one when the folder has none yet)
  list      the keys: id, created, active or retired, passphrase-protected
  rotate    make a new active key; recordings made with older keys still decrypt
--dir defaults to var/keys (the host's default recorder.encryption.keysDir). Private keys are
written 0600; with --passphrase-env VAR they are encrypted with the passphrase in $VAR.`;

function describe(k: RecorderKeyInfo): string {
  const state = k.active ? 'active' : k.retiredAt ? `retired ${k.retiredAt.toISOString()}` : 'inactive';
  return `${k.keyId}  created ${k.createdAt.toISOString()}  ${state}${k.encrypted ? '  passphrase' : ''}${k.hasPrivateKey ? '' : '  PRIVATE KEY MISSING'}`;
}

export async function keysCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('keys', args, { dir: { type: 'string' }, 'passphrase-env': { type: 'string' } }, true);
  const [action, ...extra] = positionals;
  if (action === undefined || extra.length > 0 || !['generate', 'list', 'rotate'].includes(action)) {
    throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', 'capstan keys: say generate, list or rotate');
  }
  const dir = values.dir ?? 'var/keys';
  const envName = values['passphrase-env'];
  const passphrase = envName === undefined ? undefined : process.env[envName];
  if (envName !== undefined && !passphrase) throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan keys: $${envName} is empty`);
  const opts = passphrase === undefined ? {} : { passphrase };
  const out = (l: string) => process.stdout.write(`${l}\n`);
  if (action === 'generate') {
    const key = await generateKey(dir, opts);
    out(`generated ${describe(key)}`);
    out(`public key for media servers: ${key.publicKeyPath}`);
  } else if (action === 'rotate') {
    const { previous, current } = await rotateKey(dir, opts);
    out(`active ${describe(current)}`);
    if (previous) out(`retired ${previous.keyId} (its recordings still decrypt)`);
  } else {
    const keys = await listKeys(dir);
    if (keys.length === 0) out(`no keys in ${dir}: capstan keys generate --dir ${dir}`);
    for (const k of keys) out(describe(k));
  }
  return 0;
}
