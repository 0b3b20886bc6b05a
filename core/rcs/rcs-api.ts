/**
 * The contract between the host and Remote Content Service (RCS) servers: registration and
 * heartbeat (RCS → host, shared secret) and the content API (host → RCS, shared secret).
 */
import { z } from 'zod';

export const RcsRegisterRequest = z.object({
  id: z.string().min(1),
  /** Locations whose recordings this server keeps. */
  locations: z.array(z.string().min(1)).min(1),
  /** Base URL of the server's content API, e.g. http://10.0.0.5:9200 */
  url: z.string().url(),
  version: z.string(),
  pid: z.number().int().optional(),
});
export type RcsRegisterRequest = z.infer<typeof RcsRegisterRequest>;

export const RcsLoadReport = z.object({
  freeDiskBytes: z.number().min(0),
  /** Files kept in the repository. */
  files: z.number().int().min(0),
});
export type RcsLoadReport = z.infer<typeof RcsLoadReport>;

/** The host asks an RCS server to take a finished recording from its media server. */
export const RcsFetchRequest = z.object({
  recordingId: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only'),
  /** The media server's signed file URI. */
  uri: z.string().url(),
  /** File extension, with the dot: `.wav`, `.opus`, `.sasf`. */
  ext: z.string().regex(/^\.[a-z0-9]{1,8}$/),
  /** When the recording started (ISO 8601): files are kept under `YYYY/MM/`. */
  startedAt: z.string().regex(/^\d{4}-\d{2}-/),
  sizeBytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type RcsFetchRequest = z.infer<typeof RcsFetchRequest>;

/** Answered once the file is in the repository, verified and renamed into place. */
export const RcsFetchResponse = z.object({
  mediaPath: z.string(),
  sizeBytes: z.number().int(),
  sha256: z.string(),
  /** True when the file was already there from an earlier request (a retry after a crash). */
  already: z.boolean(),
});
export type RcsFetchResponse = z.infer<typeof RcsFetchResponse>;
