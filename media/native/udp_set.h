/*
 * The native socket set's shared definitions: its tables' layout, its state, and the helpers the
 * files of the addon share (udp_set.c: sockets, receive, relay, send; recording_targets.c: the
 * leg timelines the set places recorded audio on).
 */
#ifndef CAPSTAN_UDP_SET_H
#define CAPSTAN_UDP_SET_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <node_api.h>
#include <uv.h>

/* Fields of one entry of the receive and send tables, int32 each. */
enum {
  F_ID,      /* socket id */
  F_OFFSET,  /* byte offset of the datagram in the data buffer */
  F_LENGTH,  /* its length */
  F_FAMILY,  /* 4 or 6 */
  F_PORT,    /* source (receive) or destination (send) port */
  F_SCOPE,   /* IPv6 scope id */
  F_ADDR,    /* 4 words: the address's 4 or 16 bytes in network order */
  F_STATUS = F_ADDR + 4, /* 0, or an errno: receive error on that socket / send failure */
  F_RELAY_VIA,           /* receive, the set's own: the socket that relays the datagram, or -1 (outcomes: socketCounters) */
  F_FIELDS
};

#define RECV_ENTRIES 1024             /* datagrams per JavaScript callback at most */
#define RECV_VLEN 64                  /* datagrams per recvmmsg */
#define SLOT_BYTES 65536              /* scratch per datagram: the largest UDP payload fits */
#define RECV_DATA_BYTES (1 << 20)     /* packed datagrams of one callback */
#define SEND_ENTRIES 1024
#define SEND_DATA_BYTES (2 << 20)
#define SEND_VLEN 64
#define MAX_EVENTS 1024
#define SLOT_BITS 20                  /* id = generation << SLOT_BITS | slot */
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define GENERATION_MASK 0x7ff         /* ids stay positive int32 */

typedef struct {
  int fd; /* -1 when free */
  int32_t id;
  int family;
  uint32_t generation;
  /* Relay of what this socket receives: out of socket relay_via (-1: none) to relay_addr. */
  int32_t relay_via;
  socklen_t relay_addr_len;
  struct sockaddr_storage relay_addr;
  /*
   * Recording (recording_targets.c): RTP of payload type record_pt (-1: none) decoded with
   * record_table (G.711) or as L16 (record_table NULL), placed on each target timeline at
   * (arrival − target_t0) × 8 samples.
   */
  int32_t record_pt;
  int16_t *record_table;
  uint32_t target_count;
  int32_t *target_ids;
  double *target_t0;
  /*
   * What the set did for this socket without JavaScript (socketCounters): datagrams it received
   * and recorded, and relays it sent (or failed to send) for other sockets.
   */
  double recorded;
  double relayed;
  double relay_failed;
} udp_slot;

typedef struct leg_timeline leg_timeline;

typedef struct {
  leg_timeline *timeline; /* NULL when free */
  int32_t id;
  uint32_t generation;
} timeline_slot;

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int epfd;
  int poll_started;
  int poll_initialized;
  int poll_closed;
  int finalized;
  int closed;
  int delivering;
  int release_pending;

  udp_slot *slots;
  uint32_t slot_count;
  uint32_t slot_capacity;
  uint32_t *free_slots;
  uint32_t free_count;
  uint32_t open_count;

  napi_ref callback;
  napi_ref buffers[4];
  napi_async_context async_context;

  int32_t *recv_table;
  uint8_t *recv_data;
  int32_t *send_table;
  uint8_t *send_data;

  uint8_t *scratch;
  struct mmsghdr recv_msgs[RECV_VLEN];
  struct iovec recv_iovs[RECV_VLEN];
  struct sockaddr_storage recv_addrs[RECV_VLEN];
  int recv_used; /* headers the last recvmmsg filled (their name lengths to reset) */
  /* Relays queued during a receive pass, sent before the batch goes to JavaScript. */
  uint32_t relay_count;
  int32_t relay_entries[RECV_ENTRIES]; /* receive-table index of each */
  struct mmsghdr relay_msgs[RECV_ENTRIES];
  struct iovec relay_iovs[RECV_ENTRIES];
  struct mmsghdr send_msgs[SEND_VLEN];
  struct iovec send_iovs[SEND_VLEN];
  struct sockaddr_storage send_addrs[SEND_VLEN];
  struct epoll_event events[MAX_EVENTS];

  /* The batch's arrival: uv_hrtime in ms minus clock_offset, i.e. JavaScript's performance.now(). */
  double clock_offset;
  double batch_ms;
  /* Leg timelines (recording_targets.c), ids as sockets' (generation << SLOT_BITS | index). */
  timeline_slot *timelines;
  uint32_t timeline_count;
  uint32_t timeline_capacity;
  uint32_t *free_timelines;
  uint32_t free_timeline_count;
  int16_t *pcm; /* one datagram's decoded samples */
  double recorded_total; /* over every socket, closed ones too */
} udp_set;

#define CHECK(call)                                  \
  do {                                               \
    if ((call) != napi_ok) return NULL;              \
  } while (0)

napi_value throw_type(napi_env env, const char *message);
napi_value int_value(napi_env env, int32_t v);
udp_slot *lookup(udp_set *s, int32_t id);
udp_set *get_set(napi_env env, napi_value value);
/*
 * The arguments of a call that starts (handle, id, ...): fills `argv` (up to *argc) and `id`,
 * and answers the set; NULL with an exception pending when the handle or id is not usable.
 */
udp_set *set_and_id(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, int32_t *id);
/* The payload of a datagram the relay and the media path accept as RTP: 1 with offset and length, or 0. */
int rtp_payload(const uint8_t *p, uint32_t length, uint32_t *payload_offset, uint32_t *payload_length);

/* recording_targets.c */
uint32_t record_batch(udp_set *s, uint32_t count);
void release_recording(udp_slot *slot);
void free_timelines(udp_set *s);
napi_value js_timeline_create(napi_env env, napi_callback_info info);
napi_value js_timeline_push(napi_env env, napi_callback_info info);
napi_value js_timeline_read(napi_env env, napi_callback_info info);
napi_value js_timeline_position_of(napi_env env, napi_callback_info info);
napi_value js_timeline_state(napi_env env, napi_callback_info info);
napi_value js_timeline_close(napi_env env, napi_callback_info info);
napi_value js_set_recording(napi_env env, napi_callback_info info);

#endif
