/**
 * Keeps a long-running command (a media server, an RCS server) alive until SIGINT or SIGTERM, then
 * closes it; with `alsoOnStdinEnd`, also when standard input closes (an embedded child whose parent
 * died). Resolves once closed.
 */
export function untilStopped(close: () => Promise<void>, alsoOnStdinEnd = false): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (alsoOnStdinEnd) {
      process.stdin.on('end', stop);
      process.stdin.on('error', stop);
      process.stdin.resume();
    }
  });
}
