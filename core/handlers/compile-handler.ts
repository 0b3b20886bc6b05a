import { createHash } from 'node:crypto';
import { transform } from 'esbuild';
import { CapstanError } from '../errors.ts';

export interface CompiledHandler {
  /** Plain JavaScript, one IIFE: no imports, no exports, no top-level await. */
  code: string;
  /** sha256 of the TypeScript source (first 12 hex digits): tells a real change from a touch. */
  hash: string;
}

export function hashSource(source: string): string {
  return createHash('sha256').update(source).digest('hex').slice(0, 12);
}

/**
 * TypeScript → JavaScript with esbuild (types stripped, nothing bundled). `iife` keeps handler
 * top-level names out of the isolate's global scope; an `import` becomes a `require()` the sandbox
 * answers with a clear error, and top-level await is refused here with a line number.
 */
export async function compileHandler(source: string, fileName: string): Promise<CompiledHandler> {
  try {
    const result = await transform(source, { loader: 'ts', format: 'iife', target: 'es2023', sourcefile: fileName, logLevel: 'silent' });
    return { code: result.code, hash: hashSource(source) };
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors ?? [];
    const first = errors[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}:${first.location.column + 1}` : fileName;
    throw new CapstanError('CAPSTAN_ERR_HANDLER_COMPILE', `${where}: ${first?.text ?? (e as Error).message}`, {
      details: { file: fileName, errors: errors.map((x) => ({ text: x.text, line: x.location?.line, column: x.location ? x.location.column + 1 : undefined })) },
    });
  }
}
