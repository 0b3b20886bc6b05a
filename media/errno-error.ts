/**
 * An errno from our native addons (media/native/) as the Error Node itself would throw for that
 * system call: `code` ('EBADF'...), negative `errno`, `syscall`.
 */
import { getSystemErrorName } from 'node:util';

export function errnoError(errno: number, syscall: string): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(-errno);
  } catch {
    code = `E${errno}`;
  }
  return Object.assign(new Error(`${syscall} ${code}`), { errno: -errno, code, syscall });
}
