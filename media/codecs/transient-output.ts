/**
 * The one buffer the built-in encoders' `pushTransient` write into (media/codecs/codec.ts says
 * what that promises): every output is copied by its caller before the next call, so a process
 * needs one, however many recordings it writes. Grown by doubling, never shrunk.
 */
let output = new Uint8Array(0);

/** A view of `bytes` bytes of the shared buffer, valid until the next call. */
export function transientBytes(bytes: number): Uint8Array {
  if (output.length < bytes) output = new Uint8Array(Math.max(bytes, 2 * output.length));
  return output.subarray(0, bytes);
}
