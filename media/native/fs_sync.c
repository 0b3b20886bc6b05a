/*
 * capstan_fs: a media server's recording writes and syncs as jobs on libuv's thread pool that
 * many files share. Every recording in progress writes four times a second and syncs once; alone
 * that is a thread-pool job per write and an fdatasync (a journal commit) per sync. Here one job
 * makes the pwrites of every file that asked in one turn of the event loop, then, if any asked to
 * sync, one syncfs(2) of the recordings' filesystem (docs/recording-durability.md).
 *
 * Linux only (syncfs); elsewhere it does not build and recordings write and fdatasync per file.
 */
#ifndef __linux__
#error "capstan_fs needs Linux (syncfs)"
#endif
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <node_api.h>

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref table_ref;
  napi_ref data_ref;
  const double *table; /* per write: fd, offset in data, length, file position */
  const uint8_t *data;
  uint32_t count;
  int dir_fd; /* -1: no sync */
  int32_t *status; /* count + 1: each write's errno (0 ok), then the syncfs's */
} flush_job;

static void execute(napi_env env, void *data) {
  (void)env;
  flush_job *job = (flush_job *)data;
  for (uint32_t i = 0; i < job->count; i++) {
    const double *w = &job->table[i * 4];
    int fd = (int)w[0];
    size_t offset = (size_t)w[1], length = (size_t)w[2];
    off_t position = (off_t)w[3];
    size_t done = 0;
    job->status[i] = 0;
    while (done < length) {
      ssize_t n = pwrite(fd, job->data + offset + done, length - done, position + (off_t)done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        job->status[i] = n < 0 ? errno : EIO;
        break;
      }
      done += (size_t)n;
    }
  }
  job->status[job->count] = job->dir_fd < 0 ? 0 : syncfs(job->dir_fd) == 0 ? 0 : errno;
}

static void complete(napi_env env, napi_status status, void *data) {
  flush_job *job = (flush_job *)data;
  napi_value buffer, result;
  void *bytes = NULL;
  size_t size = ((size_t)job->count + 1) * sizeof(int32_t);
  if (status == napi_ok && napi_create_arraybuffer(env, size, &bytes, &buffer) == napi_ok &&
      napi_create_typedarray(env, napi_int32_array, job->count + 1, buffer, 0, &result) == napi_ok) {
    memcpy(bytes, job->status, size);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value message, err;
    napi_create_string_utf8(env, "the flush job was cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &err);
    napi_reject_deferred(env, job->deferred, err);
  }
  napi_delete_reference(env, job->table_ref);
  napi_delete_reference(env, job->data_ref);
  napi_delete_async_work(env, job->work);
  free(job->status);
  free(job);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

/*
 * writeAndSync(dirFd, table: Float64Array, data: Uint8Array, count) → Promise<Int32Array>: makes
 * `count` pwrites (table entry i = fd, offset in data, length, file position), then syncfs(dirFd)
 * unless dirFd < 0. Resolves with each write's errno (0: written whole) and then the syncfs's.
 */
static napi_value js_write_and_sync(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4) return fail(env, "writeAndSync(dirFd, table, data, count)");
  int32_t dir_fd, count;
  if (napi_get_value_int32(env, argv[0], &dir_fd) != napi_ok) return fail(env, "dirFd must be a number");
  if (napi_get_value_int32(env, argv[3], &count) != napi_ok || count < 0) return fail(env, "count must be >= 0");
  napi_typedarray_type type;
  size_t table_length, data_length;
  void *table, *bytes;
  if (napi_get_typedarray_info(env, argv[1], &type, &table_length, &table, NULL, NULL) != napi_ok || type != napi_float64_array || table_length < (size_t)count * 4) {
    return fail(env, "table must be a Float64Array of 4 numbers per write");
  }
  if (napi_get_typedarray_info(env, argv[2], &type, &data_length, &bytes, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    return fail(env, "data must be a Uint8Array");
  }
  const double *t = (const double *)table;
  for (int32_t i = 0; i < count; i++) {
    const double *w = &t[i * 4];
    if (!(w[0] >= 0 && w[1] >= 0 && w[2] >= 0 && w[3] >= 0) || w[1] + w[2] > (double)data_length) {
      return fail(env, "a write lies outside its data or has a negative field");
    }
  }
  flush_job *job = calloc(1, sizeof(flush_job));
  int32_t *status = calloc((size_t)count + 1, sizeof(int32_t));
  if (job == NULL || status == NULL) {
    free(job);
    free(status);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->table = t;
  job->data = (const uint8_t *)bytes;
  job->count = (uint32_t)count;
  job->dir_fd = dir_fd;
  job->status = status;
  napi_value promise, name;
  /* The arrays stay referenced (and their memory in place) until the job completes. */
  if (napi_create_reference(env, argv[1], 1, &job->table_ref) != napi_ok || napi_create_reference(env, argv[2], 1, &job->data_ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok || napi_create_string_utf8(env, "CapstanFlush", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, job, &job->work) != napi_ok || napi_queue_async_work(env, job->work) != napi_ok) {
    napi_throw_error(env, NULL, "writeAndSync: cannot queue the work");
    return NULL;
  }
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"writeAndSync", NULL, js_write_and_sync, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 1, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
