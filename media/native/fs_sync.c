/*
 * capstan_fs: syncfs(2) as a promise, run on libuv's thread pool. A media server makes every
 * recording in progress durable once a second; one syncfs for the recordings' filesystem does
 * for all of them what one fdatasync per file did, with one journal commit instead of hundreds
 * (docs/recording-durability.md).
 *
 * Linux only (syncfs); elsewhere it does not build and recordings use fdatasync per file.
 */
#ifndef __linux__
#error "capstan_fs needs Linux (syncfs)"
#endif
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <node_api.h>

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int error;
} sync_job;

static void execute(napi_env env, void *data) {
  (void)env;
  sync_job *job = (sync_job *)data;
  job->error = syncfs(job->fd) == 0 ? 0 : errno;
}

static void complete(napi_env env, napi_status status, void *data) {
  sync_job *job = (sync_job *)data;
  int error = status == napi_ok ? job->error : ECANCELED;
  if (error == 0) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, job->deferred, undefined);
  } else {
    napi_value message, code, err, errno_value;
    napi_create_string_utf8(env, strerror(error), NAPI_AUTO_LENGTH, &message);
    napi_create_string_utf8(env, "ESYNCFS", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, message, &err);
    napi_create_int32(env, -error, &errno_value);
    napi_set_named_property(env, err, "errno", errno_value);
    napi_reject_deferred(env, job->deferred, err);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

/* syncfs(fd) → Promise<void>: the filesystem holding `fd` is written out; rejects with errno. */
static napi_value js_syncfs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  int32_t fd;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "syncfs(fd): fd must be an open file descriptor");
    return NULL;
  }
  sync_job *job = calloc(1, sizeof(sync_job));
  if (job == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  job->fd = fd;
  napi_value promise, name;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "CapstanSyncfs", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "syncfs: cannot queue the work");
    return NULL;
  }
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"syncfs", NULL, js_syncfs, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, 1, props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
