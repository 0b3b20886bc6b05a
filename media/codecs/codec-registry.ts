/**
 * The codec registry: MIME type → Codec. The built-ins (L16, PCMU, PCMA, GSM, TrueSpeech, Opus)
 * are ordinary entries registered by `createCodecRegistry()`; a codec plugin registers more the
 * same way (docs/formats.md), either in code (`codecRegistry.register(codec)`) or as a module a
 * media server loads at start (`loadCodecModules`, the `--codec-module` flag and the
 * `mediaServers.codecModules` setting) whose default export is a Codec or an array of them.
 *
 * Lookups are case-insensitive (MIME types are), so `audio/gsm` finds `audio/GSM`.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CapstanError } from '../../core/errors.ts';
import { CODEC_MIME_PATTERN, type Codec } from './codec.ts';
import { pcmuCodec, pcmaCodec } from './builtin/g711-codecs.ts';
import { gsmCodec } from './builtin/gsm-codec.ts';
import { opusCodec } from './builtin/opus-codec.ts';
import { pcmCodec } from './builtin/pcm-codec.ts';
import { trueSpeechCodec } from './builtin/truespeech-codec.ts';

function pluginError(message: string, details: Record<string, unknown>): CapstanError {
  return new CapstanError('CAPSTAN_ERR_PLUGIN', message, { details });
}

/** Checks the shape of a codec a plugin hands in; built-ins go through the same check. */
function validateCodec(codec: Codec): void {
  const c = codec as Partial<Codec> & Record<string, unknown>;
  const mime = typeof c.mime === 'string' ? c.mime : String(c.mime);
  if (!CODEC_MIME_PATTERN.test(mime)) throw pluginError(`Codec MIME type "${mime}" is not of the form audio/<subtype>`, { mime });
  if (c.container === 'wav') {
    if (c.fileExtension !== '.wav') throw pluginError(`Codec ${mime}: a WAV codec's file extension is .wav`, { mime });
    if (typeof (c as { wavFormat?: unknown }).wavFormat !== 'function') throw pluginError(`Codec ${mime}: a WAV codec needs wavFormat(channels)`, { mime });
  } else if (c.container === 'ogg') {
    if (c.fileExtension !== '.opus') throw pluginError(`Codec ${mime}: an Ogg codec's file extension is .opus`, { mime });
  } else {
    throw pluginError(`Codec ${mime}: container must be 'wav' or 'ogg'`, { mime, container: c.container });
  }
  if (!Number.isInteger(c.frameSamples) || (c.frameSamples as number) < 1) throw pluginError(`Codec ${mime}: frameSamples must be a positive integer`, { mime });
  if (!Array.isArray(c.supportsChannels) || c.supportsChannels.length === 0 || c.supportsChannels.some((n) => n !== 1 && n !== 2)) {
    throw pluginError(`Codec ${mime}: supportsChannels lists 1 and/or 2`, { mime });
  }
  if (c.sampleRate !== 8000) throw pluginError(`Codec ${mime}: Capstan records 8000 Hz audio`, { mime });
  if (typeof c.createEncoder !== 'function') throw pluginError(`Codec ${mime}: createEncoder(channels) is required`, { mime });
}

export class CodecRegistry {
  readonly #byMime = new Map<string, Codec>();

  /**
   * Adds a codec. A second codec for the same MIME type is refused unless `replace` is set (a
   * plugin can then swap a built-in encoder for its own).
   * @throws CapstanError CAPSTAN_ERR_PLUGIN when the codec is malformed or its MIME type is taken.
   */
  register(codec: Codec, options: { replace?: boolean } = {}): void {
    validateCodec(codec);
    const key = codec.mime.toLowerCase();
    if (this.#byMime.has(key) && !options.replace) {
      throw pluginError(`A codec for ${codec.mime} is already registered`, { mime: codec.mime });
    }
    this.#byMime.set(key, codec);
  }

  /** The codec for `mime`, or undefined. */
  get(mime: string): Codec | undefined {
    return this.#byMime.get(mime.toLowerCase());
  }

  /**
   * The codec for `mime`, checked to write `channels`.
   * @throws CapstanError CAPSTAN_ERR_UNSUPPORTED_FORMAT for an unknown MIME type or a channel
   *   count the codec cannot write.
   */
  require(mime: string, channels?: 1 | 2): Codec {
    const codec = this.get(mime);
    if (!codec) {
      throw new CapstanError('CAPSTAN_ERR_UNSUPPORTED_FORMAT', `Recording MIME type ${mime} is not supported; one of ${this.mimes().join(', ')}`, {
        details: { mime, supported: this.mimes() },
      });
    }
    if (channels !== undefined && !codec.supportsChannels.includes(channels)) {
      throw new CapstanError('CAPSTAN_ERR_UNSUPPORTED_FORMAT', `${codec.name} (${codec.mime}) records ${codec.supportsChannels.join(' or ')} channel(s), not ${channels}`, {
        details: { mime: codec.mime, channels, supportsChannels: codec.supportsChannels },
      });
    }
    return codec;
  }

  list(): Codec[] {
    return [...this.#byMime.values()];
  }

  mimes(): string[] {
    return this.list().map((c) => c.mime);
  }
}

export const BUILTIN_CODECS: readonly Codec[] = [pcmCodec, pcmuCodec, pcmaCodec, gsmCodec, trueSpeechCodec, opusCodec];

/** A registry holding the built-in codecs. */
export function createCodecRegistry(): CodecRegistry {
  const registry = new CodecRegistry();
  for (const codec of BUILTIN_CODECS) registry.register(codec);
  return registry;
}

/** The process's registry: what a media server and `capstan transcode` use unless given another. */
export const codecRegistry: CodecRegistry = createCodecRegistry();

/**
 * Imports codec plugin modules and registers their default export (a Codec or an array of
 * them). A relative path is taken from `baseDir` (default: the working folder).
 * @throws CapstanError CAPSTAN_ERR_PLUGIN when a module cannot be loaded or exports no codec.
 */
export async function loadCodecModules(registry: CodecRegistry, specifiers: readonly string[], baseDir = process.cwd()): Promise<Codec[]> {
  const loaded: Codec[] = [];
  for (const specifier of specifiers) {
    const url = specifier.startsWith('.') || isAbsolute(specifier) ? pathToFileURL(resolve(baseDir, specifier)).href : specifier;
    let mod: { default?: unknown };
    try {
      mod = (await import(url)) as { default?: unknown };
    } catch (e) {
      throw new CapstanError('CAPSTAN_ERR_PLUGIN', `Codec module ${specifier} cannot be loaded: ${(e as Error).message}`, { details: { module: specifier }, cause: e });
    }
    const exported = Array.isArray(mod.default) ? mod.default : [mod.default];
    if (exported.length === 0 || exported.some((c) => !c || typeof c !== 'object')) {
      throw pluginError(`Codec module ${specifier} must export a codec (or an array of codecs) as its default export`, { module: specifier });
    }
    for (const codec of exported as Codec[]) {
      registry.register(codec);
      loaded.push(codec);
    }
  }
  return loaded;
}
