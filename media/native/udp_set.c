/*
 * capstan_udp: a set of UDP sockets watched by one epoll fd, read with recvmmsg and written with
 * sendmmsg, so a media server crosses from native code to JavaScript once per wake-up instead of
 * once per datagram (docs/native-udp.md).
 *
 * Receive: Node's loop watches the epoll fd with a single uv_poll_t. When it is readable, every
 * ready socket is read once with recvmmsg (one call per ready socket per wake-up: level-triggered
 * epoll reports a socket with more queued at the next wake-up, so a flooded socket cannot starve
 * the others). Datagrams land in a scratch area big enough for any datagram, then are packed into
 * a shared ArrayBuffer whose entries are described in a shared Int32Array (layout below); the
 * JavaScript callback gets the entry count. The next batch overwrites both.
 *
 * Send: JavaScript writes entries (socket id, destination, offset, length) into the send table
 * and the bytes into the send buffer, then calls flush(count): consecutive entries of one socket
 * go out in one sendmmsg; each entry's outcome (0 or errno) is written back into its STATUS field.
 *
 * Relay: a socket may be told to relay (setRelay): every datagram it receives that is a valid RTP
 * packet — the same length and field checks as the media path's RtpPacket.parse, RTCP excluded —
 * is sent on out of another socket of the set to a fixed destination, here, before JavaScript
 * sees the batch. A media server forwards each leg's audio to the other party this way without
 * a send per packet from JavaScript. Each relayed entry carries the sending socket's id and the
 * outcome (RELAY_VIA, RELAY_STATUS) so JavaScript counts it as it counts its own sends.
 *
 * Nothing here throws per datagram: failures are errno values in the tables. Socket ids carry a
 * generation, so an id closed and reused never receives another socket's datagrams.
 *
 * Linux only (epoll, recvmmsg, sendmmsg): elsewhere this file does not build and the media server
 * uses node:dgram.
 */
#ifndef __linux__
#error "capstan_udp needs Linux (epoll, recvmmsg, sendmmsg)"
#endif
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "udp_set.h"


/* ---- helpers ------------------------------------------------------------------------------- */

napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

napi_value int_value(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

udp_slot *lookup(udp_set *s, int32_t id) {
  if (id < 0) return NULL;
  uint32_t index = (uint32_t)id & SLOT_MASK;
  if (index >= s->slot_count) return NULL;
  udp_slot *slot = &s->slots[index];
  return slot->fd >= 0 && slot->id == id ? slot : NULL;
}

/* Parses a numeric IPv4 or IPv6 address (with an optional %scope) into `out`; never resolves names. */
static int parse_address(const char *text, int port, struct sockaddr_storage *out, socklen_t *len) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_DGRAM;
  if (getaddrinfo(text, NULL, &hints, &res) != 0 || res == NULL) return -1;
  memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  if (out->ss_family == AF_INET) ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
  else if (out->ss_family == AF_INET6) ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
  else return -1;
  return 0;
}

/* Writes family, port, scope and address of `addr` into a table entry. */
static void put_address(int32_t *entry, const struct sockaddr_storage *addr) {
  memset(&entry[F_ADDR], 0, 16);
  if (addr->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
    entry[F_FAMILY] = 4;
    entry[F_PORT] = ntohs(a->sin_port);
    entry[F_SCOPE] = 0;
    memcpy(&entry[F_ADDR], &a->sin_addr, 4);
  } else if (addr->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
    entry[F_FAMILY] = 6;
    entry[F_PORT] = ntohs(a->sin6_port);
    entry[F_SCOPE] = (int32_t)a->sin6_scope_id;
    memcpy(&entry[F_ADDR], &a->sin6_addr, 16);
  } else {
    entry[F_FAMILY] = 0;
    entry[F_PORT] = 0;
    entry[F_SCOPE] = 0;
  }
}

/* The destination of a send entry as a sockaddr; its length, or 0 when the family is not 4 or 6. */
static socklen_t get_address(const int32_t *entry, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (entry[F_FAMILY] == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)entry[F_PORT]);
    memcpy(&a->sin_addr, &entry[F_ADDR], 4);
    return sizeof *a;
  }
  if (entry[F_FAMILY] == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)entry[F_PORT]);
    a->sin6_scope_id = (uint32_t)entry[F_SCOPE];
    memcpy(&a->sin6_addr, &entry[F_ADDR], 16);
    return sizeof *a;
  }
  return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void close_socket_slot(udp_set *s, udp_slot *slot) {
  release_recording(slot);
  epoll_ctl(s->epfd, EPOLL_CTL_DEL, slot->fd, NULL);
  close(slot->fd);
  slot->fd = -1;
  slot->id = -1;
  slot->generation = (slot->generation + 1) & GENERATION_MASK;
  s->free_slots[s->free_count++] = (uint32_t)(slot - s->slots);
  s->open_count--;
  /* No socket left: the set stops keeping the loop alive, as closed dgram sockets do. */
  if (s->open_count == 0 && s->poll_started) {
    uv_poll_stop(&s->poll);
    s->poll_started = 0;
  }
}

static void maybe_free(udp_set *s) {
  if (!s->finalized || (s->poll_initialized && !s->poll_closed)) return;
  free_timelines(s);
  free(s->slots);
  free(s->free_slots);
  free(s->scratch);
  free(s->pcm);
  free(s);
}

static void on_poll_closed(uv_handle_t *handle) {
  udp_set *s = (udp_set *)handle->data;
  s->poll_closed = 1;
  maybe_free(s);
}

/* Closes every socket, the epoll fd and the poll handle. Idempotent; makes no Node-API calls. */
static void close_all(udp_set *s) {
  if (s->closed) return;
  s->closed = 1;
  for (uint32_t i = 0; i < s->slot_count; i++) {
    if (s->slots[i].fd >= 0) close_socket_slot(s, &s->slots[i]);
  }
  if (s->poll_initialized) uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  if (s->epfd >= 0) close(s->epfd);
  s->epfd = -1;
}

/* Drops the references to the JavaScript callback and buffers. Only from JavaScript's thread, outside a delivery. */
static void release_js(udp_set *s) {
  napi_env env = s->env;
  if (s->callback) napi_delete_reference(env, s->callback);
  s->callback = NULL;
  for (int i = 0; i < 4; i++) {
    if (s->buffers[i]) napi_delete_reference(env, s->buffers[i]);
    s->buffers[i] = NULL;
  }
  if (s->async_context) napi_async_destroy(env, s->async_context);
  s->async_context = NULL;
  s->recv_table = NULL;
  s->recv_data = NULL;
  s->send_table = NULL;
  s->send_data = NULL;
}

/* The environment is going away (process exit, worker end): release the fds. */
static void on_env_cleanup(void *data) {
  close_all((udp_set *)data);
}

static void on_handle_finalized(napi_env env, void *data, void *hint) {
  (void)hint;
  udp_set *s = (udp_set *)data;
  napi_remove_env_cleanup_hook(env, on_env_cleanup, s);
  close_all(s);
  s->finalized = 1;
  maybe_free(s);
}

/* ---- relay --------------------------------------------------------------------------------- */

/*
 * Whether a datagram is one the media path would relay and record: RTP, not RTCP, every length
 * consistent; where its payload lies. Mirrors RtpPacket.parse and the RTCP test of LegSocket
 * (media/rtp/): a packet one relays the other must too, or the transports would forward
 * different traffic.
 */
int rtp_payload(const uint8_t *p, uint32_t length, uint32_t *payload_offset, uint32_t *payload_length) {
  if (length >= 2 && p[1] >= 200 && p[1] <= 204) return 0; /* RTCP multiplexed on the port */
  if (length < 12 || (p[0] >> 6) != 2) return 0;
  uint32_t offset = 12 + 4u * (p[0] & 0x0f);
  if (offset > length) return 0;
  if (p[0] & 0x10) {
    if (offset + 4 > length) return 0;
    uint32_t words = ((uint32_t)p[offset + 2] << 8) | p[offset + 3];
    offset += 4 + 4 * words;
    if (offset > length) return 0;
  }
  uint32_t padding = 0;
  if (p[0] & 0x20) {
    padding = p[length - 1];
    if (padding == 0 || offset + padding > length) return 0;
  }
  *payload_offset = offset;
  *payload_length = length - offset - padding;
  return 1;
}

/* Queues receive entry `index` (its bytes already in recv_data) for the relay of `from`, when it has one. */
static void queue_relay(udp_set *s, udp_slot *from, uint32_t index) {
  int32_t *entry = &s->recv_table[index * F_FIELDS];
  entry[F_RELAY_VIA] = -1;
  if (from->relay_via < 0) return;
  const uint8_t *data = s->recv_data + entry[F_OFFSET];
  uint32_t payload_offset, payload_length;
  if (!rtp_payload(data, (uint32_t)entry[F_LENGTH], &payload_offset, &payload_length)) return;
  uint32_t n = s->relay_count++;
  s->relay_entries[n] = (int32_t)index;
  s->relay_iovs[n].iov_base = (void *)data;
  s->relay_iovs[n].iov_len = (size_t)entry[F_LENGTH];
  memset(&s->relay_msgs[n].msg_hdr, 0, sizeof(struct msghdr));
  s->relay_msgs[n].msg_hdr.msg_iov = &s->relay_iovs[n];
  s->relay_msgs[n].msg_hdr.msg_iovlen = 1;
  /* Safe to point into the slot: nothing can grow the slot array before flush_relays runs. */
  s->relay_msgs[n].msg_hdr.msg_name = &from->relay_addr;
  s->relay_msgs[n].msg_hdr.msg_namelen = from->relay_addr_len;
  entry[F_RELAY_VIA] = from->relay_via;
}

/* Sends the queued relays: consecutive ones through the same socket in one sendmmsg. */
static void flush_relays(udp_set *s) {
  uint32_t i = 0;
  while (i < s->relay_count) {
    int32_t via_id = s->recv_table[s->relay_entries[i] * F_FIELDS + F_RELAY_VIA];
    uint32_t end = i + 1;
    while (end < s->relay_count && s->recv_table[s->relay_entries[end] * F_FIELDS + F_RELAY_VIA] == via_id) end++;
    /* A socket since closed sends nothing and counts nothing, as a send on a closed socket. */
    udp_slot *via = lookup(s, via_id);
    while (i < end) {
      int sent = via == NULL ? -1 : sendmmsg(via->fd, s->relay_msgs + i, end - i, MSG_DONTWAIT);
      if (sent < 0 && via != NULL && errno == EINTR) continue;
      if (sent <= 0) {
        /* The first not sent failed (counted on the sending socket); the rest are tried after it. */
        if (via != NULL) via->relay_failed++;
        i++;
        continue;
      }
      via->relayed += sent;
      i += (uint32_t)sent;
    }
  }
  s->relay_count = 0;
}

/* ---- receive ------------------------------------------------------------------------------- */

static void deliver(udp_set *s, uint32_t count) {
  /* Relays first: the other party should not wait for JavaScript (and the data is overwritten after). */
  flush_relays(s);
  /* Then the audio of recorded legs onto their timelines; JavaScript gets only the rest. */
  count = record_batch(s, count);
  if (count == 0) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, recv, argv[2];
  if (napi_get_reference_value(env, s->callback, &callback) == napi_ok && callback != NULL) {
    napi_get_global(env, &recv); /* make_callback wants an object as `this` */
    napi_create_uint32(env, count, &argv[0]);
    napi_create_double(env, s->batch_ms, &argv[1]);
    s->delivering = 1;
    /* make_callback: process.nextTick and promise jobs run afterwards, as after a dgram 'message'. */
    napi_status status = napi_make_callback(env, s->async_context, recv, callback, 2, argv, NULL);
    s->delivering = 0;
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (status != napi_ok && pending) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
  if (s->release_pending) {
    s->release_pending = 0;
    release_js(s);
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  udp_set *s = (udp_set *)handle->data;
  if (s->closed || status < 0) return;
  int ready = epoll_wait(s->epfd, s->events, MAX_EVENTS, 0);
  /* One arrival time per wake-up, on JavaScript's performance.now() clock (both are uv_hrtime). */
  s->batch_ms = (double)uv_hrtime() / 1e6 - s->clock_offset;
  uint32_t count = 0;
  size_t used = 0;
  for (int e = 0; e < ready && !s->closed; e++) {
    int32_t id = (int32_t)s->events[e].data.u32;
    udp_slot *slot = lookup(s, id);
    if (slot == NULL) continue;
    /* Room for a whole recvmmsg in the table (the data buffer is checked per datagram below). */
    if (count + RECV_VLEN > RECV_ENTRIES) {
      deliver(s, count);
      count = 0;
      used = 0;
      if (s->closed) return;
      slot = lookup(s, id); /* the callback may have closed it */
      if (slot == NULL) continue;
    }
    /* The headers are set up once (open); recvmmsg changes only the name lengths of those it filled. */
    for (int i = 0; i < s->recv_used; i++) s->recv_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    s->recv_used = 0;
    int got;
    do {
      got = recvmmsg(slot->fd, s->recv_msgs, RECV_VLEN, MSG_DONTWAIT, NULL);
    } while (got < 0 && errno == EINTR);
    if (got > 0) s->recv_used = got;
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
      int32_t *entry = &s->recv_table[count * F_FIELDS];
      memset(entry, 0, F_FIELDS * sizeof(int32_t));
      entry[F_ID] = id;
      entry[F_STATUS] = errno;
      entry[F_RELAY_VIA] = -1;
      count++;
      continue;
    }
    for (int i = 0; i < got; i++) {
      uint32_t length = s->recv_msgs[i].msg_len;
      /* Packed data is bounded by RECV_DATA_BYTES: a run of large datagrams goes out in another callback. */
      if (used + length > RECV_DATA_BYTES) {
        deliver(s, count);
        count = 0;
        used = 0;
        if (s->closed) return;
      }
      int32_t *entry = &s->recv_table[count * F_FIELDS];
      entry[F_ID] = id;
      entry[F_OFFSET] = (int32_t)used;
      entry[F_LENGTH] = (int32_t)length;
      entry[F_STATUS] = 0;
      put_address(entry, &s->recv_addrs[i]);
      memcpy(s->recv_data + used, s->recv_iovs[i].iov_base, length);
      used += (length + 7) & ~(size_t)7;
      queue_relay(s, slot, count);
      count++;
    }
  }
  if (count > 0 && !s->closed) deliver(s, count);
}

/* ---- JavaScript API ------------------------------------------------------------------------ */

udp_set *get_set(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "not a UDP set handle");
    return NULL;
  }
  return (udp_set *)data;
}

/* See udp_set.h. */
udp_set *set_and_id(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, int32_t *id) {
  size_t capacity = *argc;
  if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (*argc < 2 || capacity < 2) {
    napi_throw_type_error(env, NULL, "expected (handle, id, ...)");
    return NULL;
  }
  udp_set *s = get_set(env, argv[0]);
  if (s == NULL) return NULL;
  if (napi_get_value_int32(env, argv[1], id) != napi_ok) {
    napi_throw_type_error(env, NULL, "the socket id must be a number");
    return NULL;
  }
  return s;
}

static napi_value make_buffer(napi_env env, size_t bytes, void **data, napi_ref *ref) {
  napi_value buffer;
  /* Zero-filled by V8, lazily: pages a batch never reaches stay unmapped. */
  CHECK(napi_create_arraybuffer(env, bytes, data, &buffer));
  CHECK(napi_create_reference(env, buffer, 1, ref));
  return buffer;
}

/*
 * open(onBatch, clockOffsetMs) → { handle, recvTable, recvData, sendTable, sendData, fields, recvEntries, sendEntries }.
 * onBatch(count, arrivalMs) gets arrivalMs = clockMs() − clockOffsetMs at the wake-up.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype type;
  if (argc < 2) return throw_type(env, "open(onBatch, clockOffsetMs)");
  CHECK(napi_typeof(env, argv[0], &type));
  if (type != napi_function) return throw_type(env, "open(onBatch, clockOffsetMs): onBatch must be a function");
  double clock_offset;
  if (napi_get_value_double(env, argv[1], &clock_offset) != napi_ok) return throw_type(env, "open(onBatch, clockOffsetMs): clockOffsetMs must be a number");

  udp_set *s = calloc(1, sizeof(udp_set));
  if (s == NULL) return throw_type(env, "out of memory");
  s->env = env;
  s->clock_offset = clock_offset;
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  s->scratch = malloc((size_t)RECV_VLEN * SLOT_BYTES);
  s->pcm = malloc(SLOT_BYTES * sizeof(int16_t));
  if (s->scratch != NULL) {
    for (int i = 0; i < RECV_VLEN; i++) {
      s->recv_iovs[i].iov_base = s->scratch + (size_t)i * SLOT_BYTES;
      s->recv_iovs[i].iov_len = SLOT_BYTES;
      s->recv_msgs[i].msg_hdr.msg_iov = &s->recv_iovs[i];
      s->recv_msgs[i].msg_hdr.msg_iovlen = 1;
      s->recv_msgs[i].msg_hdr.msg_name = &s->recv_addrs[i];
      s->recv_msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
  }
  s->slot_capacity = 64;
  s->slots = calloc(s->slot_capacity, sizeof(udp_slot));
  s->free_slots = calloc(s->slot_capacity, sizeof(uint32_t));
  if (s->epfd < 0 || s->scratch == NULL || s->pcm == NULL || s->slots == NULL || s->free_slots == NULL) {
    int error = errno;
    if (s->epfd >= 0) close(s->epfd);
    free(s->scratch);
    free(s->pcm);
    free(s->slots);
    free(s->free_slots);
    free(s);
    napi_throw_error(env, NULL, error ? strerror(error) : "out of memory");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (uv_poll_init(loop, &s->poll, s->epfd) == 0) {
    s->poll.data = s;
    s->poll_initialized = 1;
  }

  napi_value result, handle, name, resource;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_external(env, s, on_handle_finalized, NULL, &handle));
  CHECK(napi_add_env_cleanup_hook(env, on_env_cleanup, s));
  CHECK(napi_create_reference(env, argv[0], 1, &s->callback));
  CHECK(napi_create_object(env, &resource));
  CHECK(napi_create_string_utf8(env, "CapstanUdpSet", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, resource, name, &s->async_context));

  napi_value recv_table = make_buffer(env, RECV_ENTRIES * F_FIELDS * sizeof(int32_t), (void **)&s->recv_table, &s->buffers[0]);
  napi_value recv_data = make_buffer(env, RECV_DATA_BYTES, (void **)&s->recv_data, &s->buffers[1]);
  napi_value send_table = make_buffer(env, SEND_ENTRIES * F_FIELDS * sizeof(int32_t), (void **)&s->send_table, &s->buffers[2]);
  napi_value send_data = make_buffer(env, SEND_DATA_BYTES, (void **)&s->send_data, &s->buffers[3]);
  if (!recv_table || !recv_data || !send_table || !send_data) return NULL;
  if (!s->poll_initialized) {
    napi_throw_error(env, NULL, "uv_poll_init failed on the epoll fd");
    return NULL;
  }

  CHECK(napi_set_named_property(env, result, "handle", handle));
  CHECK(napi_set_named_property(env, result, "recvTable", recv_table));
  CHECK(napi_set_named_property(env, result, "recvData", recv_data));
  CHECK(napi_set_named_property(env, result, "sendTable", send_table));
  CHECK(napi_set_named_property(env, result, "sendData", send_data));
  CHECK(napi_set_named_property(env, result, "fields", int_value(env, F_FIELDS)));
  CHECK(napi_set_named_property(env, result, "recvEntries", int_value(env, RECV_ENTRIES)));
  CHECK(napi_set_named_property(env, result, "sendEntries", int_value(env, SEND_ENTRIES)));
  return result;
}

static int grow_slots(udp_set *s) {
  uint32_t capacity = s->slot_capacity * 2;
  if (capacity > SLOT_MASK + 1) return -1;
  udp_slot *slots = realloc(s->slots, capacity * sizeof(udp_slot));
  if (slots == NULL) return -1;
  s->slots = slots;
  uint32_t *free_slots = realloc(s->free_slots, capacity * sizeof(uint32_t));
  if (free_slots == NULL) return -1;
  s->free_slots = free_slots;
  s->slot_capacity = capacity;
  return 0;
}

/* bind(handle, address, port) → socket id (>= 0), or -errno (EADDRINUSE: the port is taken). */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "bind(handle, address, port)");
  udp_set *s = get_set(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->closed) return int_value(env, -EBADF);
  char address[INET6_ADDRSTRLEN + 32];
  size_t length;
  if (napi_get_value_string_utf8(env, argv[1], address, sizeof address, &length) != napi_ok) return throw_type(env, "address must be a string");
  int32_t port;
  if (napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 0 || port > 65535) return throw_type(env, "port must be 0..65535");

  struct sockaddr_storage addr;
  socklen_t addr_len;
  if (length >= sizeof address - 1 || parse_address(address, port, &addr, &addr_len) != 0) return int_value(env, -EINVAL);
  int fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return int_value(env, -errno);
  /* No SO_REUSEADDR, as node:dgram without reuseAddr: a port someone holds fails with EADDRINUSE. */
  if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0) {
    int error = errno;
    close(fd);
    return int_value(env, -error);
  }
  uint32_t index;
  if (s->free_count > 0) {
    index = s->free_slots[--s->free_count];
  } else {
    if (s->slot_count == s->slot_capacity && grow_slots(s) != 0) {
      close(fd);
      return int_value(env, -ENOMEM);
    }
    index = s->slot_count++;
    s->slots[index].generation = 0;
  }
  udp_slot *slot = &s->slots[index];
  slot->fd = fd;
  slot->family = addr.ss_family == AF_INET6 ? 6 : 4;
  slot->relay_via = -1;
  slot->record_pt = -1;
  slot->record_table = NULL;
  slot->target_count = 0;
  slot->target_ids = NULL;
  slot->target_t0 = NULL;
  slot->recorded = 0;
  slot->relayed = 0;
  slot->relay_failed = 0;
  slot->id = (int32_t)((slot->generation << SLOT_BITS) | index);
  struct epoll_event event;
  memset(&event, 0, sizeof event);
  event.events = EPOLLIN;
  event.data.u32 = (uint32_t)slot->id;
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &event) != 0) {
    int error = errno;
    s->open_count++;
    close_socket_slot(s, slot);
    return int_value(env, -error);
  }
  s->open_count++;
  if (!s->poll_started && s->poll_initialized) {
    if (uv_poll_start(&s->poll, UV_READABLE, on_readable) == 0) s->poll_started = 1;
  }
  return int_value(env, slot->id);
}

/* localPort(handle, id) → the bound port, or -errno. */
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t id;
  udp_set *s = set_and_id(env, info, &argc, argv, &id);
  if (s == NULL) return NULL;
  udp_slot *slot = lookup(s, id);
  if (slot == NULL) return int_value(env, -EBADF);
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (getsockname(slot->fd, (struct sockaddr *)&addr, &len) != 0) return int_value(env, -errno);
  if (addr.ss_family == AF_INET) return int_value(env, ntohs(((struct sockaddr_in *)&addr)->sin_port));
  return int_value(env, ntohs(((struct sockaddr_in6 *)&addr)->sin6_port));
}

/* closeSocket(handle, id) → true when it was open. Idempotent. */
static napi_value js_close_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t id;
  udp_set *s = set_and_id(env, info, &argc, argv, &id);
  if (s == NULL) return NULL;
  udp_slot *slot = lookup(s, id);
  if (slot != NULL) close_socket_slot(s, slot);
  napi_value out;
  CHECK(napi_get_boolean(env, slot != NULL, &out));
  return out;
}

/* flush(handle, count) → how many of the first `count` send entries failed (each entry's STATUS says why). */
static napi_value js_flush(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_set *s = get_set(env, argv[0]);
  if (s == NULL) return NULL;
  int32_t count;
  CHECK(napi_get_value_int32(env, argv[1], &count));
  if (count < 0 || count > SEND_ENTRIES) return throw_type(env, "flush: count out of range");
  int32_t failures = 0;
  if (s->closed) {
    /* The tables are gone with the set; JavaScript counts these itself. */
    return int_value(env, count);
  }
  int32_t *table = s->send_table;
  int32_t i = 0;
  while (i < count) {
    int32_t id = table[i * F_FIELDS + F_ID];
    udp_slot *slot = lookup(s, id);
    if (slot == NULL) {
      table[i * F_FIELDS + F_STATUS] = EBADF;
      failures++;
      i++;
      continue;
    }
    /* A run of entries for the same socket: one sendmmsg (relay batches are mostly one per leg). */
    int n = 0;
    int32_t first = i;
    while (i < count && n < SEND_VLEN && table[i * F_FIELDS + F_ID] == id) {
      int32_t *entry = &table[i * F_FIELDS];
      int64_t offset = entry[F_OFFSET], length = entry[F_LENGTH];
      socklen_t addr_len = get_address(entry, &s->send_addrs[n]);
      if (offset < 0 || length < 0 || offset + length > SEND_DATA_BYTES || addr_len == 0) {
        entry[F_STATUS] = EINVAL;
        failures++;
        /* A bad entry ends the run; the run so far goes out below. */
        i++;
        break;
      }
      entry[F_STATUS] = 0;
      memset(&s->send_msgs[n].msg_hdr, 0, sizeof(struct msghdr));
      s->send_iovs[n].iov_base = s->send_data + offset;
      s->send_iovs[n].iov_len = (size_t)length;
      s->send_msgs[n].msg_hdr.msg_iov = &s->send_iovs[n];
      s->send_msgs[n].msg_hdr.msg_iovlen = 1;
      s->send_msgs[n].msg_hdr.msg_name = &s->send_addrs[n];
      s->send_msgs[n].msg_hdr.msg_namelen = addr_len;
      n++;
      i++;
    }
    /* Map message k back to its entry: entries of the run with STATUS 0, in order. */
    int32_t entries[SEND_VLEN];
    int m = 0;
    for (int32_t j = first; j < i && m < n; j++) {
      if (table[j * F_FIELDS + F_STATUS] == 0 && table[j * F_FIELDS + F_ID] == id) entries[m++] = j;
    }
    int done = 0;
    while (done < n) {
      int sent = sendmmsg(slot->fd, s->send_msgs + done, (unsigned)(n - done), MSG_DONTWAIT);
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) {
        /* The first message not sent failed; the rest are tried again after it. */
        table[entries[done] * F_FIELDS + F_STATUS] = sent < 0 ? errno : EIO;
        failures++;
        done++;
        continue;
      }
      done += sent;
    }
  }
  return int_value(env, failures);
}

/*
 * setRelay(handle, id, viaId, address: Int32Array of 6 as parseAddress writes it, port) → 0, or
 * -errno (EBADF: either socket is not open; EINVAL: a bad address). viaId < 0 stops the relay.
 */
static napi_value js_set_relay(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t id, via_id;
  udp_set *s = set_and_id(env, info, &argc, argv, &id);
  if (s == NULL) return NULL;
  if (argc < 3) return throw_type(env, "setRelay(handle, id, viaId, address, port)");
  CHECK(napi_get_value_int32(env, argv[2], &via_id));
  udp_slot *slot = lookup(s, id);
  if (slot == NULL) return int_value(env, -EBADF);
  if (via_id < 0) {
    slot->relay_via = -1;
    return int_value(env, 0);
  }
  if (argc < 5) return throw_type(env, "setRelay(handle, id, viaId, address, port)");
  if (lookup(s, via_id) == NULL) return int_value(env, -EBADF);
  napi_typedarray_type type;
  size_t elements;
  void *data;
  if (napi_get_typedarray_info(env, argv[3], &type, &elements, &data, NULL, NULL) != napi_ok || type != napi_int32_array || elements < 6) {
    return throw_type(env, "address must be an Int32Array of 6");
  }
  int32_t port;
  if (napi_get_value_int32(env, argv[4], &port) != napi_ok || port < 1 || port > 65535) return int_value(env, -EINVAL);
  const int32_t *words = (const int32_t *)data;
  int32_t entry[F_FIELDS];
  memset(entry, 0, sizeof entry);
  entry[F_FAMILY] = words[0];
  entry[F_SCOPE] = words[1];
  entry[F_PORT] = port;
  memcpy(&entry[F_ADDR], &words[2], 16);
  struct sockaddr_storage addr;
  socklen_t addr_len = get_address(entry, &addr);
  if (addr_len == 0) return int_value(env, -EINVAL);
  slot->relay_addr = addr;
  slot->relay_addr_len = addr_len;
  slot->relay_via = via_id;
  return int_value(env, 0);
}

/* parseAddress(address, out: Int32Array of >= 6) → 4 or 6 with out = [family, scope, addr words...], or 0 when not a numeric address. */
static napi_value js_parse_address(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char address[INET6_ADDRSTRLEN + 32];
  size_t length;
  if (napi_get_value_string_utf8(env, argv[0], address, sizeof address, &length) != napi_ok) return throw_type(env, "address must be a string");
  napi_typedarray_type type;
  size_t elements;
  void *data;
  if (napi_get_typedarray_info(env, argv[1], &type, &elements, &data, NULL, NULL) != napi_ok || type != napi_int32_array || elements < 6) {
    return throw_type(env, "out must be an Int32Array of 6");
  }
  struct sockaddr_storage addr;
  socklen_t addr_len;
  if (length >= sizeof address - 1 || parse_address(address, 0, &addr, &addr_len) != 0) return int_value(env, 0);
  int32_t entry[F_FIELDS];
  put_address(entry, &addr);
  int32_t *out = (int32_t *)data;
  out[0] = entry[F_FAMILY];
  out[1] = entry[F_SCOPE];
  memcpy(&out[2], &entry[F_ADDR], 16);
  return int_value(env, entry[F_FAMILY]);
}

/* close(handle): closes every socket and stops watching. Idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_set *s = get_set(env, argv[0]);
  if (s == NULL) return NULL;
  if (!s->closed) {
    close_all(s);
    /* Inside a delivery the callback and the buffers are in use: released when it returns. */
    if (s->delivering) s->release_pending = 1;
    else release_js(s);
  }
  return NULL;
}

/*
 * socketCounters(handle, id, out: Float64Array of 3) → true with out = [recorded, relayed,
 * relayFailed] (what the set did for the socket without JavaScript), or false when it is not open.
 */
static napi_value js_socket_counters(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t id;
  udp_set *s = set_and_id(env, info, &argc, argv, &id);
  if (s == NULL) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (argc < 3 || napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float64_array || length < 3) {
    return throw_type(env, "out must be a Float64Array of 3");
  }
  udp_slot *slot = lookup(s, id);
  if (slot != NULL) {
    double *out = (double *)data;
    out[0] = slot->recorded;
    out[1] = slot->relayed;
    out[2] = slot->relay_failed;
  }
  napi_value result;
  CHECK(napi_get_boolean(env, slot != NULL, &result));
  return result;
}

/* recordedTotal(handle) → datagrams the set recorded without JavaScript, over all sockets. */
static napi_value js_recorded_total(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  udp_set *s = get_set(env, argv[0]);
  if (s == NULL) return NULL;
  napi_value out;
  CHECK(napi_create_double(env, s->recorded_total, &out));
  return out;
}

/* clockMs() → uv_hrtime in milliseconds (the clock behind performance.now()). */
static napi_value js_clock_ms(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK(napi_create_double(env, (double)uv_hrtime() / 1e6, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_default, NULL},
      {"localPort", NULL, js_local_port, NULL, NULL, NULL, napi_default, NULL},
      {"closeSocket", NULL, js_close_socket, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, js_flush, NULL, NULL, NULL, napi_default, NULL},
      {"setRelay", NULL, js_set_relay, NULL, NULL, NULL, napi_default, NULL},
      {"parseAddress", NULL, js_parse_address, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"clockMs", NULL, js_clock_ms, NULL, NULL, NULL, napi_default, NULL},
      {"socketCounters", NULL, js_socket_counters, NULL, NULL, NULL, napi_default, NULL},
      {"recordedTotal", NULL, js_recorded_total, NULL, NULL, NULL, napi_default, NULL},
      {"setRecording", NULL, js_set_recording, NULL, NULL, NULL, napi_default, NULL},
      {"timelineCreate", NULL, js_timeline_create, NULL, NULL, NULL, napi_default, NULL},
      {"timelinePush", NULL, js_timeline_push, NULL, NULL, NULL, napi_default, NULL},
      {"timelineRead", NULL, js_timeline_read, NULL, NULL, NULL, napi_default, NULL},
      {"timelinePositionOf", NULL, js_timeline_position_of, NULL, NULL, NULL, napi_default, NULL},
      {"timelineState", NULL, js_timeline_state, NULL, NULL, NULL, napi_default, NULL},
      {"timelineClose", NULL, js_timeline_close, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
