import { isCapstanError, toCapstanError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { CALL_USAGE, callCommand } from './call-command.ts';
import { DEMO_USAGE, demoCommand } from './demo-command.ts';
import { START_USAGE, startCommand } from './start-command.ts';
import { KEYS_USAGE, keysCommand } from './keys-command.ts';
import { SASF_USAGE, sasfCommand } from './sasf-command.ts';
import { HANDLERS_USAGE, handlersCommand } from './handlers-command.ts';
import { TRANSCODE_USAGE, transcodeCommand } from './transcode-command.ts';
import { RCS_USAGE, rcsCommand } from './rcs-command.ts';
import { CONSOLE_USER_USAGE, consoleUserCommand } from './console-user-command.ts';

const USAGE = `capstan ${VERSION} — call recording with a scriptable core

Usage: capstan <command> [options]

Commands:
  start          run the host, with two media servers as child processes
  demo           start and place a few simulated calls
  call           place a simulated call through a running host
  media-server   run one standalone media server that registers with a host
  rcs            run one Remote Content Service server that keeps recordings for a host
  console-user   hash a console user's password into a console.users entry
  keys           the Recorder's encryption keys: generate, list, rotate
  sasf           encrypted recordings: inspect, decrypt, encrypt
  handlers       run handlers' own tests in their sandbox: handlers test [PATH]
  transcode      encode a WAV into any recording format, as the media server does
  help           this text; "capstan <command> --help" for a command's options
  version        print the version`;

interface Command {
  usage: string;
  run: (args: string[]) => Promise<number>;
}

const commands: Record<string, Command> = {
  start: { usage: START_USAGE, run: startCommand },
  demo: { usage: DEMO_USAGE, run: demoCommand },
  call: { usage: CALL_USAGE, run: callCommand },
  keys: { usage: KEYS_USAGE, run: keysCommand },
  sasf: { usage: SASF_USAGE, run: sasfCommand },
  handlers: { usage: HANDLERS_USAGE, run: handlersCommand },
  transcode: { usage: TRANSCODE_USAGE, run: transcodeCommand },
  rcs: { usage: RCS_USAGE, run: rcsCommand },
  'console-user': { usage: CONSOLE_USER_USAGE, run: consoleUserCommand },
  'media-server': {
    // Loaded lazily: the media server's modules are not needed by the other commands.
    usage: '',
    run: async (args) => (await import('./media-server-command.ts')).mediaServerCommand(args),
  },
};

/** Runs one CLI invocation; returns the exit code. Errors are printed as `code: message`, never as stack traces. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === 'version' || name === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`capstan: CAPSTAN_ERR_CLI_USAGE: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    const usage = command.usage || (await import('./media-server-command.ts')).MEDIA_SERVER_USAGE;
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (e) {
    const error = toCapstanError(e);
    process.stderr.write(`capstan ${name}: ${error.code}: ${error.message}\n`);
    if (!isCapstanError(e) && process.env.CAPSTAN_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return error.code === 'CAPSTAN_ERR_CLI_USAGE' ? 2 : 1;
  }
}
