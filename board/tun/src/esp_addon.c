/* N-API binding for Outpost's native ESP fast path: a table of ESP SAs (esp_sa.c) and, once bound,
 * the RFC 3948 UDP socket that carries them, integrated with Node's event loop.
 *
 * JavaScript sees one class, EspEngine (board/tun/esp.ts wraps it):
 *   addSa(outbound, spi, alg, key, esn, window, maxPacket, softHi, softLo, nextHi, nextLo) -> id
 *   removeSa(id) / setRemote(id, address, port) / saStats(id, Float64Array) -> bool
 *   seal(id, inner, nh) -> Buffer | code     one packet (tests, and anything off the fast path)
 *   open(id, esp, Int32Array[2]) -> Buffer | null
 *   bind(address, port, rcvbuf, sndbuf) -> port
 *   rxBuffer() / rxMeta()                     the receive arena and its per-datagram records
 *   start(cb, busyPollUs) / stop()            cb(count, news) once per batch JavaScript must see (rx_work);
 *                                             busyPollUs: the I/O thread's busy polling (io_thread.h)
 *   sendTo(data, address, port) -> 0 | errno  one datagram (IKE, keepalives)
 *   sealSend(packets, plan, n) -> sent        seal a batch and send it with sendmmsg
 *   attachTun(fd)                             decrypted packets the callback accepts are written here
 *   setFlows(on, mtu) / sealCached(slab, ends, count) -> first + 65536 * news
 *   tunLeadHook() -> External                 the flow cache (below), for a TUN device (tun_lead.h)
 *   stats(Float64Array) / bufferSizes() / close()
 *
 * Policy stays in JavaScript: which SA a packet leaves by (the plan given to sealSend) and whether
 * a decrypted packet may enter the LAN (the verdict the callback writes into the record). C does
 * what costs per packet: the AEAD with a cipher context made once per SA, the replay window,
 * recvmmsg/sendmmsg, and the TUN writes.
 *
 * Receiving: the engine's I/O thread (io_thread.h, started by start()) waits on the sockets and,
 * once a TUN device joined it (tun_lead.h), on the device too: one thread, like a C relay, so a
 * packet written to the TUN whose answer comes straight back is read by a thread already awake,
 * and known flows never wake Node's main thread. At each wake-up up to RX_ROUNDS batches of
 * RX_BATCH datagrams are read with recvmmsg into the arena (one 64 KiB slot each, so nothing is
 * ever truncated), classified (ESP, IKE behind the non-ESP marker, keepalive, junk), ESP opened in
 * place; a batch JavaScript must see goes to the main thread in one call (the thread waits for it),
 * and accepted inner packets are then written to the TUN device. The methods and the thread's
 * work hold the engine's lock; JavaScript is never called with it held. Packets the kernel dropped because the socket buffer was full are counted
 * (the sockets' drop counters, SO_MEMINFO). Memory is fixed at bind time: nothing here grows with traffic.
 *
 * The flow cache (flow_cache.h): with setFlows(true, mtu), the decisions JavaScript makes per flow
 * are remembered (the SA a flow leaves by, given in sealSend's plan; a decrypted packet's flow
 * accepted for its SA), and the next plain packets of those flows are handled here without a call
 * into JavaScript: sealCached() seals the leading packets of a TUN batch whose flows are known and
 * leaves the rest to JavaScript in order; received packets of known flows are written to the TUN
 * without JavaScript seeing the batch. Adding or removing an SA forgets everything, so a rekey moves
 * traffic to the new SA at once. JavaScript still sees every new flow, TCP SYN, fragment and
 * oversized packet, and is told (the news bits) when an SA needs a rekey.
 *
 * IKE gets its own receive queue: two sockets share the port (SO_REUSEPORT) and a classic BPF
 * program steers datagrams that start with the non-ESP marker (four zero bytes: IKE) to the
 * second one. A flood of ESP that overflows the first socket's buffer then cannot drop DPD or
 * rekey messages. Where that cannot be set up, one socket carries everything. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/sock_diag.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include <openssl/crypto.h>
#include <pthread.h>

#include "esp_sa.h"
#include "flow_cache.h"
#include "io_thread.h"
#include "tun_lead.h"
#include "tun_dev.h"
#include "tun_gso.h"

#define MAX_SAS 1024
#define BUSY_POLL_MAX_US 1000
#define BUSY_POLL_MAX_TEXT "1000"
#define RX_BATCH 32
#define RX_ROUNDS 4
#define RX_SLOT 65536
#define TX_BATCH 256
/* The send arena holds at least TX_BATCH full-MTU packets; a bigger one flushes early. */
#define TX_ARENA ((size_t)TX_BATCH * 2048 + 65536 + ESP_OVERHEAD_MAX)

/* Datagrams the kernel coalesced (UDP GRO) or a peer sent as one (UDP GSO) arrive as one slot:
 * up to this many records come out of it; more would be junk and are counted as malformed. */
#define RX_SEGS_MAX 128
#define RX_RECORDS (RX_BATCH * RX_SEGS_MAX)
/* Same-size ESP packets to one peer leave in one UDP GSO send of at most this many. */
#define TX_GSO_SEGS 64

/* Per-datagram record in rxMeta(): META_INTS int32 each. */
#define META_INTS 12
enum { M_KIND, M_SA, M_OFF, M_LEN, M_VERDICT, M_INFO, M_FAMILY, M_PORT, M_ADDR };
enum {
  K_NONE = 0,     /* handled here (keepalive, junk, a drop the SA counted) */
  K_INNER = 1,    /* a decrypted inner packet: M_INFO = next header; JS sets M_VERDICT to 1 to write it */
  K_DUMMY = 2,    /* an authentic dummy packet (next header 59) */
  K_DROP = 3,     /* dropped by the SA: M_INFO = esp_open_result_t */
  K_IKE = 4,      /* an IKE message (marker stripped) */
  K_ESP_RAW = 5,  /* ESP for an SPI not in the table: left to JavaScript */
};

/* Engine counters, in the order stats() writes them (board/tun/esp.ts names them). */
enum {
  S_ESP_IN, S_IKE_IN, S_KEEPALIVES_IN, S_MALFORMED_IN, S_ESP_OUT, S_IKE_OUT, S_KEEPALIVES_OUT,
  S_SEND_ERRORS, S_SEND_QUEUE_FULL, S_SOCKET_ERRORS, S_RX_OVERFLOW, S_RX_BATCHES, S_TX_BATCHES,
  S_REKEY_EVENTS, S_LAST_SEND_ERRNO, S_LAST_TUN_ERRNO, S_IKE_SOCKET, S_TUN_MERGED, S_TUN_MERGED_SEGMENTS,
  S_UDP_GSO, S_UDP_GRO, S_RX_COALESCED, S_FLOW_HITS_OUT, S_FLOW_HITS_IN, S_COUNT
};

/* Per-SA stats, in the order saStats() writes them. */
enum {
  A_PACKETS_IN, A_BYTES_IN, A_PACKETS_OUT, A_BYTES_OUT, A_DUMMY_IN, A_DUMMY_OUT, A_REPLAY, A_AUTH_FAILED,
  A_MALFORMED, A_BAD_PADDING, A_TOO_BIG, A_SEQ_EXHAUSTED, A_SEND_DROPPED, A_TUN_FULL, A_TUN_DOWN, A_TUN_ERROR,
  A_REKEY_NEEDED, A_EXHAUSTED, A_LAST_SEQ_HI, A_LAST_SEQ_LO, A_UNKNOWN_SPI, A_REKEY_NOTED, A_IDLE_MS, A_COUNT
};

typedef struct {
  int used;
  int rekey_noted; /* the engine counted this SA's rekey event: 1 soft limit, 2 out of numbers */
  uint32_t gen; /* bumped on removal: a stale id never finds the slot's next tenant */
  esp_sa_t sa;
  struct sockaddr_storage remote;
  socklen_t remote_len;
  uint64_t send_dropped, tun_full, tun_down, tun_error;
  uint64_t last_in_ms; /* monotonic time of the last authentic inbound packet, 0: none yet */
} sa_slot_t;

typedef struct {
  napi_env env;
  sa_slot_t *slots; /* MAX_SAS, allocated at the first addSa */
  /* The inbound SAs by SPI, compact (usually one to four): a lookup, including a miss for a
   * flood of made-up SPIs, touches these few words rather than the whole table. */
  uint32_t in_spi[MAX_SAS];
  uint16_t in_slot[MAX_SAS];
  uint32_t n_in;
  int fd;           /* UDP socket, -1 until bound and after close */
  int ike_fd;       /* the same port's IKE-only socket, -1 when there is none */
  int family;
  int tun_fd;       /* our dup of the TUN fd, -1 when none */
  int tun_vnet;     /* it carries virtio-net headers: writes go through the merger */
  uint8_t *gro_buf; /* VNET_HDR_LEN + 65535, with tun_vnet */
  tun_gro_t gro;
  int closed;
  int refs;
  /* Everything here is shared by two threads: the main thread (the methods, the JS callbacks, a
   * TUN device read from the loop calling lead_take) and the I/O thread (io below: the sockets and
   * a joined TUN device). The methods and the thread's work hold mu; JavaScript is never called
   * with it held. */
  pthread_mutex_t mu;
  int polling, in_callback;
  io_thread_t io; /* receives on fd and ike_fd, and reads the joined TUN device */
  int io_inited;
  tun_reader_t reader; /* the TUN device read on io (tun_lead.h join) ... */
  int has_reader;      /* ... if any */
  unsigned busy_poll_us; /* how long io polls after work before it blocks (io_thread.h) */
  unsigned rx_records; /* a batch handed to the main thread: its records ... */
  int rx_need_js;      /* ... and whether JavaScript decides any of them */
  napi_ref self, cb, rx_ab, meta_ta;
  napi_async_context actx;
  uint8_t *rx;   /* RX_BATCH * RX_SLOT, the backing store of rx_ab (owned by V8) */
  int32_t *meta; /* RX_RECORDS * META_INTS, backing store of meta_ta */
  struct mmsghdr rx_msgs[RX_BATCH];
  struct iovec rx_iov[RX_BATCH];
  struct sockaddr_storage rx_names[RX_BATCH];
  char rx_ctrl[RX_BATCH][CMSG_SPACE(sizeof(int))];
  int udp_gso; /* the kernel takes UDP_SEGMENT sends (turned off at the first refusal) */
  uint8_t *tx; /* TX_ARENA */
  size_t tx_used;
  unsigned tx_n;     /* packets queued (one iovec each) */
  unsigned tx_msgs_n; /* messages: a packet, or a run of same-size packets to one peer (UDP GSO) */
  struct mmsghdr tx_msgs[TX_BATCH];
  struct iovec tx_iov[TX_BATCH];
  uint32_t tx_sa[TX_BATCH];
  unsigned tx_first[TX_BATCH]; /* per message: its first packet */
  char tx_ctrl[TX_BATCH][CMSG_SPACE(sizeof(uint16_t))];
  double stats[S_COUNT];
  /* What JavaScript should look at, reported with the next sealSend result or receive callback:
   * NEWS_REKEY an SA needs a rekey, NEWS_SEND_ERROR a send failed (see stats). */
  int news;
  int flows;         /* the flow cache is on (setFlows) */
  uint32_t flow_mtu; /* outbound packets above this go to JavaScript (its MTU guard); 0: no limit */
  flow_cache_t out_flows, in_flows;
} engine_t;
#define NEWS_REKEY 1
#define NEWS_SEND_ERROR 2

/* ---- errors (same shape as the TUN addon's) ------------------------------------------------ */

static napi_value make_error(napi_env env, int err, const char *op) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", op, strerror(err));
  napi_value code, text, error, num, opv;
  if (napi_create_string_utf8(env, tun_errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok || napi_create_int32(env, err, &num) != napi_ok ||
      napi_set_named_property(env, error, "errno", num) != napi_ok ||
      napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &opv) != napi_ok ||
      napi_set_named_property(env, error, "op", opv) != napi_ok)
    return NULL;
  return error;
}

static void throw_errno(napi_env env, int err, const char *op) {
  napi_value error = make_error(env, err, op);
  if (error != NULL) napi_throw(env, error);
}

static void throw_napi(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  char msg[200];
  snprintf(msg, sizeof msg, "outpost_esp: %s failed: %s", what,
           napi_get_last_error_info(env, &info) == napi_ok && info && info->error_message ? info->error_message
                                                                                          : "unknown N-API error");
  napi_throw_error(env, "ERR_OUTPOST_ESP_NAPI", msg);
}

#define CHECK(call)                                                                            \
  do {                                                                                         \
    if ((call) != napi_ok) {                                                                   \
      throw_napi(env, #call);                                                                  \
      return NULL;                                                                             \
    }                                                                                          \
  } while (0)

/* ---- SA table ---------------------------------------------------------------------------- */

/* Ids are slot + 1 in the low 10 bits and the slot's generation above: never 0. */
static inline uint32_t make_id(uint32_t slot, uint32_t gen) { return ((gen & 0x1fffff) << 10) | (slot + 1); }

static sa_slot_t *slot_of(engine_t *e, uint32_t id) {
  uint32_t s = (id & 0x3ff);
  if (e->slots == NULL || s == 0 || s > MAX_SAS) return NULL;
  sa_slot_t *sl = &e->slots[s - 1];
  if (!sl->used || make_id(s - 1, sl->gen) != id) return NULL;
  return sl;
}

/* The newest inbound SA with this SPI (installing one with a live SPI replaces it for lookups). */
static sa_slot_t *inbound_by_spi(engine_t *e, uint32_t spi) {
  for (uint32_t i = e->n_in; i-- > 0;)
    if (e->in_spi[i] == spi) return &e->slots[e->in_slot[i]];
  return NULL;
}

static void index_inbound(engine_t *e, uint32_t slot) {
  e->in_spi[e->n_in] = e->slots[slot].sa.spi;
  e->in_slot[e->n_in] = (uint16_t)slot;
  e->n_in++;
}

static void unindex_inbound(engine_t *e, uint32_t slot) {
  for (uint32_t i = 0; i < e->n_in; i++) {
    if (e->in_slot[i] != slot) continue;
    memmove(&e->in_spi[i], &e->in_spi[i + 1], (e->n_in - i - 1) * sizeof e->in_spi[0]);
    memmove(&e->in_slot[i], &e->in_slot[i + 1], (e->n_in - i - 1) * sizeof e->in_slot[0]);
    e->n_in--;
    return;
  }
}

/* After a packet went through an SA: the first time it needs a rekey (soft limit reached, or
 * installed past it, or out of sequence numbers) the engine's event count goes up, which tells
 * JavaScript to look. */
static inline void note_rekey(engine_t *e, sa_slot_t *sl) {
  if (sl->sa.rekey_needed && !sl->rekey_noted) {
    sl->rekey_noted = sl->sa.exhausted ? 2 : 1;
    e->stats[S_REKEY_EVENTS]++;
    e->news |= NEWS_REKEY;
  }
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Another SA set: every remembered decision may be wrong now (a new SA takes a flow over). */
static void forget_flows(engine_t *e) {
  flow_cache_flush(&e->out_flows);
  flow_cache_flush(&e->in_flows);
}

static void free_slot(engine_t *e, sa_slot_t *sl) {
  if (!sl->used) return;
  forget_flows(e);
  if (!sl->sa.outbound) unindex_inbound(e, (uint32_t)(sl - e->slots));
  esp_sa_free(&sl->sa);
  sl->used = 0;
  sl->gen++;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

static void release(engine_t *e) {
  if (--e->refs > 0) return;
  free(e->tx);
  free(e->gro_buf);
  free(e->slots);
  flow_cache_free(&e->out_flows);
  flow_cache_free(&e->in_flows);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

static void on_io_closed(uv_handle_t *h) { release((engine_t *)((char *)h->data - offsetof(engine_t, io))); }

/* Joins the I/O thread: never called with mu held (the thread may be waiting for it). */
static void stop_polling(napi_env env, engine_t *e) {
  if (!e->polling) return;
  pthread_mutex_lock(&e->mu);
  e->polling = 0;
  pthread_mutex_unlock(&e->mu);
  io_thread_stop(&e->io);
  io_thread_cancel(&e->io, NULL); /* the callback is going: nobody to deliver to */
  if (e->has_reader) { /* nobody reads the TUN device now: it goes back to its own polling */
    e->has_reader = 0;
    e->reader.orphaned(e->reader.ctx);
  }
  (void)napi_delete_reference(env, e->cb);
  (void)napi_delete_reference(env, e->self);
  e->cb = e->self = NULL;
  if (!e->in_callback) (void)napi_async_destroy(env, e->actx);
  e->actx = NULL;
}

static void cleanup_hook(void *arg);

static void close_impl(napi_env env, engine_t *e, int from_hook) {
  if (e->closed) return;
  e->closed = 1;
  stop_polling(env, e);
  if (e->io_inited) {
    e->io_inited = 0;
    io_thread_close(&e->io, on_io_closed);
  }
  pthread_mutex_lock(&e->mu); /* a TUN device read from the loop may still call lead_take */
  if (e->fd >= 0) (void)close(e->fd);
  if (e->ike_fd >= 0) (void)close(e->ike_fd);
  if (e->tun_fd >= 0) (void)close(e->tun_fd);
  e->fd = e->ike_fd = e->tun_fd = -1;
  if (e->slots)
    for (uint32_t i = 0; i < MAX_SAS; i++) free_slot(e, &e->slots[i]);
  /* The arena and records belong to V8; drop our hold on them (not from the teardown hook,
   * where the environment may no longer take calls). */
  if (!from_hook) {
    if (e->rx_ab) (void)napi_delete_reference(env, e->rx_ab);
    if (e->meta_ta) (void)napi_delete_reference(env, e->meta_ta);
    (void)napi_remove_env_cleanup_hook(env, cleanup_hook, e);
  }
  e->rx_ab = e->meta_ta = NULL;
  e->rx = NULL;
  e->meta = NULL;
  pthread_mutex_unlock(&e->mu);
}

static void cleanup_hook(void *arg) {
  engine_t *e = arg;
  close_impl(e->env, e, 1);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  engine_t *e = data;
  close_impl(env, e, 0);
  release(e);
}

/* ---- addresses --------------------------------------------------------------------------- */

/* Parses "a.b.c.d" or an IPv6 address for a socket of `family` (IPv4 on an IPv6 socket becomes
 * ::ffff:a.b.c.d). 0 or EINVAL. */
static int parse_addr(int family, const char *s, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (port < 0 || port > 65535) return EINVAL;
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, s, &a->sin_addr) != 1) return EINVAL;
    *len = sizeof *a;
    return 0;
  }
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  if (inet_pton(AF_INET6, s, &a->sin6_addr) != 1) {
    struct in_addr v4;
    if (inet_pton(AF_INET, s, &v4) != 1) return EINVAL;
    a->sin6_addr.s6_addr[10] = a->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&a->sin6_addr.s6_addr[12], &v4, 4);
  }
  *len = sizeof *a;
  return 0;
}

/* The sender of a datagram into its record: family 4 or 6, port, address as big-endian words. */
static void put_from(int32_t *m, const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    m[M_FAMILY] = 4;
    m[M_PORT] = ntohs(a->sin_port);
    m[M_ADDR] = (int32_t)ntohl(a->sin_addr.s_addr);
    return;
  }
  const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
  m[M_FAMILY] = 6;
  m[M_PORT] = ntohs(a->sin6_port);
  for (int i = 0; i < 4; i++) {
    uint32_t w;
    memcpy(&w, &a->sin6_addr.s6_addr[4 * i], 4);
    m[M_ADDR + i] = (int32_t)ntohl(w);
  }
}

/* ---- sending ------------------------------------------------------------------------------ */

static inline int send_would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

/* Sends one message's packets one by one (after the kernel refused it as a UDP GSO send). */
static void tx_send_singly(engine_t *e, unsigned m) {
  struct msghdr *mh = &e->tx_msgs[m].msg_hdr;
  unsigned first = e->tx_first[m];
  for (size_t k = 0; k < mh->msg_iovlen; k++) {
    ssize_t r;
    do r = sendto(e->fd, e->tx_iov[first + k].iov_base, e->tx_iov[first + k].iov_len, MSG_DONTWAIT, mh->msg_name, mh->msg_namelen);
    while (r < 0 && errno == EINTR);
    if (r >= 0) e->stats[S_ESP_OUT]++;
    else if (send_would_block(errno)) {
      sa_slot_t *sl = slot_of(e, e->tx_sa[first + k]);
      if (sl) sl->send_dropped++;
      e->stats[S_SEND_QUEUE_FULL]++;
    } else {
      e->stats[S_SEND_ERRORS]++;
      e->stats[S_LAST_SEND_ERRNO] = errno;
      e->news |= NEWS_SEND_ERROR;
    }
  }
}

/* Sends what sealSend queued. A refusal of one message (unreachable, too big) is counted per
 * packet and skipped; a full socket buffer drops the rest of the batch, counted per SA: never a
 * wait. A UDP GSO message the kernel refuses (EIO, EINVAL: the route's device cannot) turns GSO
 * off and goes out packet by packet. */
static void tx_flush(engine_t *e) {
  unsigned start = 0, n = e->tx_msgs_n;
  if (n > 0) e->stats[S_TX_BATCHES]++;
  while (start < n) {
    int r = sendmmsg(e->fd, e->tx_msgs + start, n - start, MSG_DONTWAIT);
    if (r > 0) {
      for (unsigned m = start; m < start + (unsigned)r; m++) e->stats[S_ESP_OUT] += (double)e->tx_msgs[m].msg_hdr.msg_iovlen;
      start += (unsigned)r;
      continue;
    }
    int err = r < 0 ? errno : EAGAIN;
    if (err == EINTR) continue;
    if (send_would_block(err)) {
      for (unsigned i = e->tx_first[start]; i < e->tx_n; i++) {
        sa_slot_t *sl = slot_of(e, e->tx_sa[i]);
        if (sl) sl->send_dropped++;
      }
      e->stats[S_SEND_QUEUE_FULL] += e->tx_n - e->tx_first[start];
      break;
    }
    if (e->tx_msgs[start].msg_hdr.msg_controllen > 0 && (err == EIO || err == EINVAL)) {
      e->udp_gso = 0;
      e->stats[S_UDP_GSO] = 0;
      tx_send_singly(e, start);
    } else {
      e->stats[S_SEND_ERRORS] += (double)e->tx_msgs[start].msg_hdr.msg_iovlen;
      e->stats[S_LAST_SEND_ERRNO] = err;
      e->news |= NEWS_SEND_ERROR;
    }
    start++;
  }
  e->tx_n = 0;
  e->tx_msgs_n = 0;
  e->tx_used = 0;
}

/* Queues one sealed packet: it joins the last message when that is a run of full-size packets to
 * the same SA's peer it can extend (UDP GSO: the kernel cuts the run every gso_size bytes), else
 * it starts a message of its own. */
static void tx_queue(engine_t *e, uint32_t id, sa_slot_t *sl, uint8_t *out, size_t len) {
  unsigned k = e->tx_n++;
  e->tx_iov[k].iov_base = out;
  e->tx_iov[k].iov_len = len;
  e->tx_sa[k] = id;
  if (e->udp_gso && e->tx_msgs_n > 0) {
    unsigned m = e->tx_msgs_n - 1;
    struct msghdr *mh = &e->tx_msgs[m].msg_hdr;
    unsigned first = e->tx_first[m];
    size_t gso = e->tx_iov[first].iov_len, lastlen = e->tx_iov[k - 1].iov_len;
    if (e->tx_sa[first] == id && mh->msg_iovlen < TX_GSO_SEGS && lastlen == gso && len <= gso &&
        (mh->msg_iovlen + 1) * gso <= 65000) {
      if (mh->msg_iovlen == 1) {
        mh->msg_control = e->tx_ctrl[m];
        mh->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
        struct cmsghdr *c = CMSG_FIRSTHDR(mh);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t g = (uint16_t)gso;
        memcpy(CMSG_DATA(c), &g, sizeof g);
      }
      mh->msg_iovlen++;
      return;
    }
  }
  unsigned m = e->tx_msgs_n++;
  struct msghdr *mh = &e->tx_msgs[m].msg_hdr;
  memset(mh, 0, sizeof *mh);
  mh->msg_iov = &e->tx_iov[k];
  mh->msg_iovlen = 1;
  mh->msg_name = &sl->remote;
  mh->msg_namelen = sl->remote_len;
  e->tx_first[m] = k;
}

/* ---- receiving ---------------------------------------------------------------------------- */

static void tun_write(engine_t *e, sa_slot_t *sl, const uint8_t *p, size_t len) {
  for (;;) {
    if (write(e->tun_fd, p, len) >= 0) return;
    int err = errno;
    if (err == EINTR) continue;
    if (sl == NULL) return;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) sl->tun_full++;
    else if (err == EIO) sl->tun_down++;
    else {
      sl->tun_error++;
      e->stats[S_LAST_TUN_ERRNO] = err;
    }
    return;
  }
}

/* The merger's output (tun_gso.h): header and packet, counted against the first segment's SA. */
static void tun_emit(void *ctx, const uint8_t *data, size_t len, void *tag) {
  engine_t *e = ctx;
  tun_write(e, slot_of(e, (uint32_t)(uintptr_t)tag), data, len);
}

/* Classifies and opens one received datagram (RFC 3948 2.2) at arena offset `off`, from slot i's
 * sender, filling record r. Returns 1 when JavaScript needs to see it. */
static int rx_one(engine_t *e, unsigned i, unsigned r_idx, size_t off_in_arena, size_t n, int truncated) {
  uint8_t *p = e->rx + off_in_arena;
  int32_t *m = e->meta + (size_t)r_idx * META_INTS;
  memset(m, 0, META_INTS * sizeof *m);
  m[M_OFF] = (int32_t)off_in_arena;
  m[M_LEN] = (int32_t)n;
  if (truncated || n == 0 || (n == 1 && p[0] != 0xff) || (n > 1 && n < 4)) {
    e->stats[S_MALFORMED_IN]++;
    return 0;
  }
  if (n == 1) {
    e->stats[S_KEEPALIVES_IN]++;
    return 0;
  }
  if ((p[0] | p[1] | p[2] | p[3]) == 0) {
    if (n - 4 < 28) { /* shorter than an IKE header */
      e->stats[S_MALFORMED_IN]++;
      return 0;
    }
    e->stats[S_IKE_IN]++;
    m[M_KIND] = K_IKE;
    m[M_OFF] += 4;
    m[M_LEN] = (int32_t)(n - 4);
    put_from(m, &e->rx_names[i]);
    return 1;
  }
  if (n < ESP_HEADER_BYTES) {
    e->stats[S_MALFORMED_IN]++;
    return 0;
  }
  e->stats[S_ESP_IN]++;
  uint32_t spi = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
  sa_slot_t *sl = inbound_by_spi(e, spi);
  if (sl == NULL) {
    m[M_KIND] = K_ESP_RAW;
    put_from(m, &e->rx_names[i]);
    return 1;
  }
  m[M_SA] = (int32_t)make_id((uint32_t)(sl - e->slots), sl->gen);
  size_t off = 0, len = 0;
  int nh = 0;
  esp_open_result_t r = esp_sa_open(&sl->sa, p, n, &off, &len, &nh);
  note_rekey(e, sl);
  (void)i;
  if (r == ESP_OPEN_PACKET) {
    sl->last_in_ms = now_ms();
    m[M_KIND] = K_INNER;
    m[M_OFF] += (int32_t)off;
    m[M_LEN] = (int32_t)len;
    m[M_INFO] = nh;
    flow_key_t k;
    if (e->flows && e->tun_fd >= 0 && flow_key_of(p + off, len, &k) && flow_cache_get(&e->in_flows, &k, (uint32_t)m[M_SA])) {
      m[M_VERDICT] = 1; /* a flow JavaScript accepted for this SA before */
      e->stats[S_FLOW_HITS_IN]++;
      return 0;
    }
    return 1;
  }
  if (r == ESP_OPEN_DUMMY) {
    sl->last_in_ms = now_ms();
    m[M_KIND] = K_DUMMY;
    return 1;
  }
  m[M_KIND] = K_DROP;
  m[M_INFO] = (int32_t)r;
  return 0;
}

static int rx_batch(engine_t *e, int fd) {
  for (unsigned i = 0; i < RX_BATCH; i++) {
    e->rx_msgs[i].msg_hdr.msg_namelen = sizeof e->rx_names[i];
    e->rx_msgs[i].msg_hdr.msg_controllen = sizeof e->rx_ctrl[i];
    e->rx_msgs[i].msg_hdr.msg_flags = 0;
  }
  for (;;) {
    int n = recvmmsg(fd, e->rx_msgs, RX_BATCH, MSG_DONTWAIT, NULL);
    if (n >= 0 || errno != EINTR) return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : n;
  }
}

/* Calls cb(count, news) with the records of this batch; returns 0 when the engine was closed
 * meanwhile. */
static int call_js(engine_t *e, unsigned count) {
  napi_env env = e->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  e->in_callback = 1;
  napi_async_context actx = e->actx;
  napi_value argv[2], cb, recv;
  napi_status s = napi_pending_exception;
  pthread_mutex_lock(&e->mu);
  int news = e->news;
  e->news = 0;
  pthread_mutex_unlock(&e->mu);
  if (napi_get_global(env, &recv) == napi_ok && napi_get_reference_value(env, e->cb, &cb) == napi_ok &&
      napi_create_uint32(env, count, &argv[0]) == napi_ok && napi_create_int32(env, news, &argv[1]) == napi_ok)
    s = napi_make_callback(env, actx, recv, cb, 2, argv, NULL);
  else
    throw_napi(env, "delivering datagrams");
  e->in_callback = 0;
  if (e->actx != actx) (void)napi_async_destroy(env, actx); /* polling stopped meanwhile */
  if (s == napi_pending_exception) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) (void)napi_fatal_exception(env, exc);
  }
  (void)napi_close_handle_scope(env, scope);
  return e->polling && !e->closed;
}

/* Reads one batch from fd and classifies it into records (opening ESP in place); returns the
 * datagrams read (0: none, -1: a socket error, counted). *need_js: JavaScript must decide some. */
static int rx_read(engine_t *e, int fd, unsigned *records, int *need_js) {
  int n = rx_batch(e, fd);
  if (n < 0) {
    e->stats[S_SOCKET_ERRORS]++; /* ICMP errors queued on the socket and the like: not fatal */
    return -1;
  }
  if (n == 0) return 0;
  e->stats[S_RX_BATCHES]++;
  *records = 0;
  *need_js = 0;
  for (unsigned i = 0; i < (unsigned)n; i++) {
    struct msghdr *mh = &e->rx_msgs[i].msg_hdr;
    size_t len = e->rx_msgs[i].msg_len, base = (size_t)i * RX_SLOT;
    int trunc = (mh->msg_flags & MSG_TRUNC) != 0;
    /* Coalesced datagrams (UDP GRO): gso_size bytes each, the last one shorter or equal. */
    int gso = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c))
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) memcpy(&gso, CMSG_DATA(c), sizeof gso);
    if (gso <= 0 || (size_t)gso >= len) {
      *need_js |= rx_one(e, i, (*records)++, base, len, trunc);
      continue;
    }
    e->stats[S_RX_COALESCED]++;
    for (size_t o = 0, k = 0; o < len; o += (size_t)gso, k++) {
      size_t part = len - o < (size_t)gso ? len - o : (size_t)gso;
      if (k == RX_SEGS_MAX) { /* beyond any real sender's run: junk */
        e->stats[S_MALFORMED_IN] += (double)((len - o + (size_t)gso - 1) / (size_t)gso);
        break;
      }
      *need_js |= rx_one(e, i, (*records)++, base + o, part, trunc);
    }
  }
  return n;
}

/* After JavaScript's verdicts (need_js), or for a batch of known flows only: writes the accepted
 * inner packets to the TUN. With headers, consecutive segments of a TCP flow leave as one GSO
 * packet; an inner packet starts 16 bytes into its datagram, so the header of a lone one fits in
 * front of it. */
static void rx_finish(engine_t *e, unsigned records, int need_js) {
  if (e->tun_fd < 0) return;
  for (unsigned i = 0; i < records; i++) {
    int32_t *m = e->meta + (size_t)i * META_INTS;
    if (m[M_KIND] != K_INNER || m[M_VERDICT] != 1) continue;
    flow_key_t k; /* remember what JavaScript accepted (a batch of known flows only: nothing new) */
    if (need_js && e->flows && flow_key_of(e->rx + m[M_OFF], (size_t)m[M_LEN], &k))
      flow_cache_put(&e->in_flows, &k, (uint32_t)m[M_SA], 1);
    if (e->tun_vnet) tun_gro_add(&e->gro, e->rx + m[M_OFF], (size_t)m[M_LEN], (void *)(uintptr_t)(uint32_t)m[M_SA]);
    else tun_write(e, slot_of(e, (uint32_t)m[M_SA]), e->rx + m[M_OFF], (size_t)m[M_LEN]);
  }
  if (e->tun_vnet) tun_gro_flush(&e->gro);
}

/* On the I/O thread (io_thread.h), when a socket is readable: up to RX_ROUNDS batches. A batch
 * of known flows goes to the TUN from here; one with anything for JavaScript to decide or hear
 * (news: a rekey is due) is handed to the main thread, which calls cb(count, news) and then
 * writes what JavaScript accepted (io_deliver). */
static int rx_work(engine_t *e, int ike) {
  int hand = 0;
  pthread_mutex_lock(&e->mu);
  int fd = ike ? e->ike_fd : e->fd;
  for (int round = 0; round < RX_ROUNDS && e->polling && !e->closed; round++) {
    unsigned records = 0;
    int need_js = 0;
    int n = rx_read(e, fd, &records, &need_js);
    if (n <= 0) break;
    if (need_js || e->news) {
      e->rx_records = records;
      e->rx_need_js = need_js;
      hand = 1;
      break;
    }
    rx_finish(e, records, 0);
    if (n < RX_BATCH) break;
  }
  pthread_mutex_unlock(&e->mu);
  return hand;
}

static int io_work_esp(void *ctx) { return rx_work(ctx, 0); }
static int io_work_ike(void *ctx) { return rx_work(ctx, 1); }

static void io_deliver(void *ctx) {
  engine_t *e = ctx;
  if (!e->polling || e->closed || !call_js(e, e->rx_records)) return;
  pthread_mutex_lock(&e->mu);
  if (!e->closed) rx_finish(e, e->rx_records, e->rx_need_js);
  pthread_mutex_unlock(&e->mu);
}

/* Starts the thread on the sockets and the joined TUN device, if any (it must be stopped). */
static int io_start(engine_t *e) {
  io_slot_t s[IO_THREAD_SLOTS];
  int n = 0;
  s[n++] = (io_slot_t){.fd = e->fd, .ctx = e, .work = io_work_esp, .deliver = io_deliver};
  if (e->ike_fd >= 0) s[n++] = (io_slot_t){.fd = e->ike_fd, .ctx = e, .work = io_work_ike, .deliver = io_deliver};
  if (e->has_reader)
    s[n++] = (io_slot_t){.fd = e->reader.fd, .ctx = e->reader.ctx, .work = e->reader.work, .deliver = e->reader.deliver};
  return io_thread_start(&e->io, s, n, e->busy_poll_us);
}

/* ---- methods ------------------------------------------------------------------------------ */

static engine_t *this_engine(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, napi_value *self,
                             int need_open) {
  napi_value me;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &me, NULL) != napi_ok || napi_unwrap(env, me, &data) != napi_ok) {
    throw_napi(env, "unwrap");
    return NULL;
  }
  if (self) *self = me;
  engine_t *e = data;
  if (need_open && e->closed) {
    throw_errno(env, EBADF, "closed");
    return NULL;
  }
  return e;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *d = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &d, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "expected a Uint8Array or Buffer");
    return 0;
  }
  *data = d;
  return 1;
}

static napi_value js_new(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value me;
  CHECK(napi_get_cb_info(env, info, &argc, NULL, &me, NULL));
  engine_t *e = calloc(1, sizeof *e);
  if (e == NULL) {
    throw_errno(env, ENOMEM, "calloc");
    return NULL;
  }
  e->env = env;
  e->fd = e->ike_fd = e->tun_fd = -1;
  e->refs = 1;
  pthread_mutexattr_t ma; /* recursive: a method that meets another path holding it cannot deadlock itself */
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&e->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  if (napi_wrap(env, me, e, finalize, NULL, NULL) != napi_ok) {
    free(e);
    throw_napi(env, "napi_wrap");
    return NULL;
  }
  CHECK(napi_add_env_cleanup_hook(env, cleanup_hook, e));
  return me;
}

static napi_value js_add_sa(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11], result;
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 1);
  if (e == NULL) return NULL;
  if (argc < 11) {
    napi_throw_type_error(env, NULL, "addSa: 11 arguments");
    return NULL;
  }
  bool outbound, esn;
  uint32_t spi, alg, window, max_packet, soft_hi, soft_lo, next_hi, next_lo;
  uint8_t *key;
  size_t key_len;
  CHECK(napi_get_value_bool(env, argv[0], &outbound));
  CHECK(napi_get_value_uint32(env, argv[1], &spi));
  CHECK(napi_get_value_uint32(env, argv[2], &alg));
  if (!get_bytes(env, argv[3], &key, &key_len)) return NULL;
  CHECK(napi_get_value_bool(env, argv[4], &esn));
  CHECK(napi_get_value_uint32(env, argv[5], &window));
  CHECK(napi_get_value_uint32(env, argv[6], &max_packet));
  CHECK(napi_get_value_uint32(env, argv[7], &soft_hi));
  CHECK(napi_get_value_uint32(env, argv[8], &soft_lo));
  CHECK(napi_get_value_uint32(env, argv[9], &next_hi));
  CHECK(napi_get_value_uint32(env, argv[10], &next_lo));
  if (e->slots == NULL && (e->slots = calloc(MAX_SAS, sizeof *e->slots)) == NULL) {
    throw_errno(env, ENOMEM, "calloc");
    return NULL;
  }
  uint32_t s = 0;
  while (s < MAX_SAS && e->slots[s].used) s++;
  if (s == MAX_SAS) {
    throw_errno(env, ENOSPC, "addSa");
    return NULL;
  }
  esp_sa_params_t p = {
      .spi = spi, .outbound = outbound, .esn = esn, .alg = (esp_alg_t)alg, .key = key, .key_len = key_len,
      .replay_window = window, .max_packet = max_packet,
      .soft_limit = ((uint64_t)soft_hi << 32) | soft_lo, .next_seq = ((uint64_t)next_hi << 32) | next_lo,
  };
  sa_slot_t *sl = &e->slots[s];
  int err = esp_sa_init(&sl->sa, &p);
  if (err) {
    throw_errno(env, err, "addSa");
    return NULL;
  }
  sl->used = 1;
  if (!outbound) index_inbound(e, s);
  sl->rekey_noted = 0;
  sl->remote_len = 0;
  sl->send_dropped = sl->tun_full = sl->tun_down = sl->tun_error = 0;
  sl->last_in_ms = 0;
  forget_flows(e);
  CHECK(napi_create_uint32(env, make_id(s, sl->gen), &result));
  return result;
}

static napi_value js_remove_sa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 0);
  if (e == NULL) return NULL;
  uint32_t id = 0;
  CHECK(napi_get_value_uint32(env, argv[0], &id));
  sa_slot_t *sl = slot_of(e, id);
  if (sl) free_slot(e, sl);
  CHECK(napi_get_boolean(env, sl != NULL, &result));
  return result;
}

static napi_value js_set_remote(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 1);
  if (e == NULL) return NULL;
  uint32_t id = 0;
  int32_t port = 0;
  char addr[64];
  size_t len = 0;
  CHECK(napi_get_value_uint32(env, argv[0], &id));
  CHECK(napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &len));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  sa_slot_t *sl = slot_of(e, id);
  if (sl == NULL) {
    throw_errno(env, ENOENT, "setRemote");
    return NULL;
  }
  int err = parse_addr(e->family ? e->family : AF_INET, addr, port, &sl->remote, &sl->remote_len);
  if (err) {
    sl->remote_len = 0;
    throw_errno(env, err, "setRemote");
  }
  return NULL;
}

static napi_value js_sa_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 0);
  if (e == NULL) return NULL;
  uint32_t id = 0;
  CHECK(napi_get_value_uint32(env, argv[0], &id));
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL));
  sa_slot_t *sl = slot_of(e, id);
  if (sl && type == napi_float64_array && len >= A_COUNT) {
    double *o = data;
    const esp_sa_counters_t *c = &sl->sa.c;
    o[A_PACKETS_IN] = (double)c->packets_in;
    o[A_BYTES_IN] = (double)c->bytes_in;
    o[A_PACKETS_OUT] = (double)c->packets_out;
    o[A_BYTES_OUT] = (double)c->bytes_out;
    o[A_DUMMY_IN] = (double)c->dummy_in;
    o[A_DUMMY_OUT] = (double)c->dummy_out;
    o[A_REPLAY] = (double)c->replay;
    o[A_AUTH_FAILED] = (double)c->auth_failed;
    o[A_MALFORMED] = (double)c->malformed;
    o[A_BAD_PADDING] = (double)c->bad_padding;
    o[A_TOO_BIG] = (double)c->too_big;
    o[A_SEQ_EXHAUSTED] = (double)c->seq_exhausted;
    o[A_SEND_DROPPED] = (double)sl->send_dropped;
    o[A_TUN_FULL] = (double)sl->tun_full;
    o[A_TUN_DOWN] = (double)sl->tun_down;
    o[A_TUN_ERROR] = (double)sl->tun_error;
    o[A_REKEY_NEEDED] = sl->sa.rekey_needed;
    o[A_EXHAUSTED] = sl->sa.exhausted;
    uint64_t last = esp_sa_last_seq(&sl->sa);
    o[A_LAST_SEQ_HI] = (double)(last >> 32);
    o[A_LAST_SEQ_LO] = (double)(last & 0xffffffffu);
    o[A_UNKNOWN_SPI] = (double)c->unknown_spi;
    o[A_REKEY_NOTED] = sl->rekey_noted;
    o[A_IDLE_MS] = sl->last_in_ms ? (double)(now_ms() - sl->last_in_ms) : -1;
  }
  CHECK(napi_get_boolean(env, sl != NULL && type == napi_float64_array && len >= A_COUNT, &result));
  return result;
}

static napi_value js_seal(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 1);
  if (e == NULL) return NULL;
  uint32_t id = 0;
  int32_t nh = 0;
  uint8_t *inner;
  size_t len;
  CHECK(napi_get_value_uint32(env, argv[0], &id));
  if (!get_bytes(env, argv[1], &inner, &len)) return NULL;
  CHECK(napi_get_value_int32(env, argv[2], &nh));
  sa_slot_t *sl = slot_of(e, id);
  if (sl == NULL || !sl->sa.outbound) {
    throw_errno(env, ENOENT, "seal");
    return NULL;
  }
  /* A packet that will be refused (exhausted, too big) gets no buffer: esp_sa_seal refuses it
   * before looking at the output. */
  void *out = NULL;
  size_t cap = esp_packet_bytes(len), out_len = 0;
  if (sl->sa.exhausted || cap > sl->sa.max_packet) cap = 0;
  else CHECK(napi_create_buffer(env, cap, &out, &result));
  esp_seal_result_t r = esp_sa_seal(&sl->sa, inner, len, nh, out, cap, &out_len);
  note_rekey(e, sl);
  if (r != ESP_SEAL_OK) CHECK(napi_create_int32(env, (int32_t)r, &result));
  return result;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 1);
  if (e == NULL) return NULL;
  uint32_t id = 0;
  uint8_t *esp;
  size_t len;
  CHECK(napi_get_value_uint32(env, argv[0], &id));
  if (!get_bytes(env, argv[1], &esp, &len)) return NULL;
  napi_typedarray_type type;
  size_t olen = 0;
  void *odata = NULL;
  CHECK(napi_get_typedarray_info(env, argv[2], &type, &olen, &odata, NULL, NULL));
  if (type != napi_int32_array || olen < 2) {
    napi_throw_type_error(env, NULL, "open: out must be an Int32Array of 2");
    return NULL;
  }
  int32_t *o = odata;
  sa_slot_t *sl = slot_of(e, id);
  if (sl == NULL || sl->sa.outbound) {
    throw_errno(env, ENOENT, "open");
    return NULL;
  }
  /* Decrypts in place, so on a copy: the caller's packet stays as it was. */
  uint8_t *copy = malloc(len ? len : 1);
  if (copy == NULL) {
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  memcpy(copy, esp, len);
  size_t off = 0, ilen = 0;
  int nh = 0;
  esp_open_result_t r = esp_sa_open(&sl->sa, copy, len, &off, &ilen, &nh);
  note_rekey(e, sl);
  o[0] = (int32_t)r;
  o[1] = nh;
  napi_status s = r == ESP_OPEN_PACKET ? napi_create_buffer_copy(env, ilen, copy + off, NULL, &result) : napi_get_null(env, &result);
  OPENSSL_cleanse(copy, len);
  free(copy);
  CHECK(s);
  return result;
}

/* A non-blocking UDP socket in the port's reuseport group, buffers sized, bound to `ss`; -1 with
 * *err and *op set on failure. */
static int open_udp(int family, const struct sockaddr_storage *ss, socklen_t sl, int rcvbuf, int sndbuf, const char **op,
                    int *err) {
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *op = "socket";
    *err = errno;
    return -1;
  }
  int one = 1;
  *op = "setsockopt";
  *err = 0;
  if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) *err = errno;
  if (!*err && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) *err = errno;
  /* As root the buffers may exceed net.core.[rw]mem_max (FORCE); otherwise they are capped. */
  if (!*err && rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
    *err = errno;
  if (!*err && sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0)
    *err = errno;
  if (!*err && bind(fd, (const struct sockaddr *)ss, sl) < 0) {
    *err = errno;
    *op = "bind";
  }
  if (*err) {
    (void)close(fd);
    return -1;
  }
  return fd;
}

static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], me, result;
  engine_t *e = this_engine(env, info, &argc, argv, &me, 1);
  if (e == NULL) return NULL;
  if (e->fd >= 0) {
    throw_errno(env, EISCONN, "bind");
    return NULL;
  }
  char addr[64];
  size_t len = 0;
  int32_t port = 0, rcvbuf = 0, sndbuf = 0;
  CHECK(napi_get_value_string_utf8(env, argv[0], addr, sizeof addr, &len));
  CHECK(napi_get_value_int32(env, argv[1], &port));
  CHECK(napi_get_value_int32(env, argv[2], &rcvbuf));
  CHECK(napi_get_value_int32(env, argv[3], &sndbuf));
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
  if (parse_addr(family, addr, port, &ss, &sl)) {
    throw_errno(env, EINVAL, "address");
    return NULL;
  }
  /* The arena and records first: a bound socket is never left without them. */
  if (e->tx == NULL && (e->tx = malloc(TX_ARENA)) == NULL) {
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  napi_value ab, mab, mta;
  void *rx = NULL, *meta = NULL;
  CHECK(napi_create_arraybuffer(env, (size_t)RX_BATCH * RX_SLOT, &rx, &ab));
  CHECK(napi_create_arraybuffer(env, (size_t)RX_RECORDS * META_INTS * sizeof(int32_t), &meta, &mab));
  CHECK(napi_create_typedarray(env, napi_int32_array, (size_t)RX_RECORDS * META_INTS, mab, 0, &mta));

  /* The port must be free for a plain socket too: a reuseport socket of another Outpost would
   * otherwise share it silently instead of failing with EADDRINUSE. Port 0 takes the free port
   * the probe got. */
  int probe = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    throw_errno(env, errno, "socket");
    return NULL;
  }
  int one = 1;
  if (family == AF_INET6) (void)setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  if (bind(probe, (struct sockaddr *)&ss, sl) < 0 || getsockname(probe, (struct sockaddr *)&bound, &blen) < 0) {
    int err = errno;
    (void)close(probe);
    throw_errno(env, err, "bind");
    return NULL;
  }
  (void)close(probe);
  int bound_port = family == AF_INET ? ntohs(((struct sockaddr_in *)&bound)->sin_port)
                                     : ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
  if (family == AF_INET) ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)bound_port);
  else ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)bound_port);

  const char *op = "setsockopt";
  int err = 0;
  int fd = open_udp(family, &ss, sl, rcvbuf, sndbuf, &op, &err);
  if (fd < 0) {
    throw_errno(env, err, op);
    return NULL;
  }
  /* IKE's own queue (see the top of this file); without it everything shares fd. */
  const char *ike_op = "";
  int ike_err = 0;
  int ike_fd = open_udp(family, &ss, sl, 256 * 1024, 0, &ike_op, &ike_err);
  if (ike_fd >= 0) {
    /* The program sees the UDP payload. Only what can be IKE (the marker, then at least an IKE
     * header) goes to the IKE socket, so junk is counted where ESP is, in arrival order. */
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),        /* payload length */
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 4 + 28, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),        /* its first 4 bytes */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), /* the non-ESP marker: */
        BPF_STMT(BPF_RET | BPF_K, 1),                 /*   the IKE socket (second in the group) */
        BPF_STMT(BPF_RET | BPF_K, 0),                 /* else the first */
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) < 0) {
      (void)close(ike_fd);
      ike_fd = -1;
    }
  }
  if (napi_create_reference(env, ab, 1, &e->rx_ab) != napi_ok ||
      napi_create_reference(env, mta, 1, &e->meta_ta) != napi_ok) {
    (void)close(fd);
    if (ike_fd >= 0) (void)close(ike_fd);
    throw_napi(env, "bind");
    return NULL;
  }
  /* Coalesced receive and segmented send, where the kernel has them (Linux 4.18 / 5.0). */
  e->stats[S_UDP_GRO] = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
  int probe_gso = 0;
  socklen_t pl = sizeof probe_gso;
  e->udp_gso = getsockopt(fd, SOL_UDP, UDP_SEGMENT, &probe_gso, &pl) == 0;
  e->stats[S_UDP_GSO] = e->udp_gso;
  e->fd = fd;
  e->ike_fd = ike_fd;
  e->stats[S_IKE_SOCKET] = ike_fd >= 0;
  e->family = family;
  e->rx = rx;
  e->meta = meta;
  for (unsigned i = 0; i < RX_BATCH; i++) {
    e->rx_iov[i].iov_base = e->rx + (size_t)i * RX_SLOT;
    e->rx_iov[i].iov_len = RX_SLOT;
    struct msghdr *mh = &e->rx_msgs[i].msg_hdr;
    memset(mh, 0, sizeof *mh);
    mh->msg_iov = &e->rx_iov[i];
    mh->msg_iovlen = 1;
    mh->msg_name = &e->rx_names[i];
    mh->msg_control = e->rx_ctrl[i];
  }
  CHECK(napi_create_int32(env, bound_port, &result));
  return result;
}

static napi_value js_rx_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  engine_t *e = this_engine(env, info, &argc, NULL, NULL, 1);
  if (e == NULL) return NULL;
  if (e->rx_ab == NULL) {
    throw_errno(env, ENOTCONN, "rxBuffer");
    return NULL;
  }
  CHECK(napi_get_reference_value(env, e->rx_ab, &result));
  return result;
}

static napi_value js_rx_meta(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  engine_t *e = this_engine(env, info, &argc, NULL, NULL, 1);
  if (e == NULL) return NULL;
  if (e->meta_ta == NULL) {
    throw_errno(env, ENOTCONN, "rxMeta");
    return NULL;
  }
  CHECK(napi_get_reference_value(env, e->meta_ta, &result));
  return result;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], me;
  engine_t *e = this_engine(env, info, &argc, argv, &me, 1);
  if (e == NULL) return NULL;
  napi_valuetype type;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "start(cb, busyPollUs): cb must be a function");
    return NULL;
  }
  double spin = 0; /* a whole number of microseconds: not truncated, not wrapped */
  if (argc >= 2 && (napi_get_value_double(env, argv[1], &spin) != napi_ok || !(spin >= 0 && spin <= BUSY_POLL_MAX_US) ||
                    spin != (double)(uint32_t)spin)) {
    napi_throw_range_error(env, NULL, "start(cb, busyPollUs): busyPollUs must be 0.." BUSY_POLL_MAX_TEXT);
    return NULL;
  }
  if (e->fd < 0) {
    throw_errno(env, ENOTCONN, "start");
    return NULL;
  }
  if (e->polling) {
    napi_ref cb;
    CHECK(napi_create_reference(env, argv[0], 1, &cb));
    (void)napi_delete_reference(env, e->cb);
    e->cb = cb;
    return NULL;
  }
  int r = 0;
  if (!e->io_inited) {
    uv_loop_t *loop;
    CHECK(napi_get_uv_event_loop(env, &loop));
    r = io_thread_init(&e->io, loop, "outpost-io");
    if (r < 0) {
      throw_errno(env, -r, "start");
      return NULL;
    }
    e->io_inited = 1;
    e->refs++; /* released by on_io_closed */
  }
  napi_value resource, rname;
  napi_ref cb = NULL, self = NULL;
  napi_async_context actx = NULL;
  int refs_ok = napi_create_object(env, &resource) == napi_ok &&
                napi_create_string_utf8(env, "OutpostEsp", NAPI_AUTO_LENGTH, &rname) == napi_ok &&
                napi_async_init(env, resource, rname, &actx) == napi_ok &&
                napi_create_reference(env, argv[0], 1, &cb) == napi_ok &&
                napi_create_reference(env, me, 1, &self) == napi_ok;
  e->busy_poll_us = (unsigned)spin;
  if (refs_ok) e->polling = 1; /* before the thread looks */
  if (refs_ok && (r = io_start(e)) == 0) {
    e->cb = cb;
    e->self = self;
    e->actx = actx;
    e->polling = 1;
    return NULL;
  }
  e->polling = 0;
  if (self) (void)napi_delete_reference(env, self);
  if (cb) (void)napi_delete_reference(env, cb);
  if (actx) (void)napi_async_destroy(env, actx);
  if (refs_ok) throw_errno(env, r, "start");
  else throw_napi(env, "start");
  return NULL;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  engine_t *e = this_engine(env, info, &argc, NULL, NULL, 0);
  if (e != NULL) stop_polling(env, e);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  engine_t *e = this_engine(env, info, &argc, NULL, NULL, 0);
  if (e != NULL) close_impl(env, e, 0);
  return NULL;
}

/* One datagram now: 0 sent, else the errno (EAGAIN and ENOBUFS: no room, a drop). */
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 1);
  if (e == NULL) return NULL;
  uint8_t *data;
  size_t len;
  char addr[64];
  size_t alen = 0;
  int32_t port = 0;
  if (!get_bytes(env, argv[0], &data, &len)) return NULL;
  CHECK(napi_get_value_string_utf8(env, argv[1], addr, sizeof addr, &alen));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  int err = 0;
  struct sockaddr_storage ss;
  socklen_t sl = 0;
  if (e->fd < 0) err = ENOTCONN;
  else if (parse_addr(e->family, addr, port, &ss, &sl)) err = EINVAL;
  else {
    while (sendto(e->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
  }
  CHECK(napi_create_int32(env, err, &result));
  return result;
}

/* sealSend(packets, plan, n): plan[2i] is the outbound SA id for packets[i] (0: skip it),
 * plan[2i+1] its next header. Seals into the send arena and sends with sendmmsg, flushing when
 * the arena or the batch is full. Refusals are counted per SA (too_big, seq_exhausted,
 * send_dropped) and in the engine's stats. Returns the news bits (NEWS_*): 0 unless a rekey or
 * a send error wants attention. */
/* Seals one inner packet by SA sl (id) into the send queue, flushing it first when full; what is
 * refused is counted (no peer address yet: send_dropped; the SA counts its own refusals). */
static void seal_queue(engine_t *e, uint32_t id, sa_slot_t *sl, const uint8_t *inner, size_t len, int nh) {
  size_t need = esp_packet_bytes(len);
  int will_seal = !sl->sa.exhausted && need <= sl->sa.max_packet; /* else refused and counted by the SA */
  if (will_seal && (e->tx_n == TX_BATCH || TX_ARENA - e->tx_used < need)) tx_flush(e);
  if (sl->remote_len == 0) { /* no peer address yet: nowhere to send */
    sl->send_dropped++;
    return;
  }
  uint8_t *out = e->tx + e->tx_used;
  size_t out_len = 0;
  esp_seal_result_t r = esp_sa_seal(&sl->sa, inner, len, nh, out, TX_ARENA - e->tx_used, &out_len);
  note_rekey(e, sl);
  if (r != ESP_SEAL_OK) return;
  tx_queue(e, id, sl, out, out_len);
  e->tx_used += (out_len + 15) & ~(size_t)15;
}

/* Packet i of a TUN batch is slab[ends[i-1] .. ends[i]) (from 0). Seals and sends packets from..n-1
 * as long as their flows are known and plain (see the header), stops at the first other one and
 * returns its index: JavaScript handles the rest, in order. */
static uint32_t seal_cached(engine_t *e, const uint8_t *slab, size_t slab_len, const uint32_t *ends, uint32_t from,
                            uint32_t n) {
  uint32_t i = from;
  if (!e->flows || e->fd < 0 || e->closed) return from;
  for (uint32_t start = from ? ends[from - 1] : 0; i < n; start = ends[i], i++) {
    uint32_t end = ends[i];
    if (end < start || end > slab_len) break; /* not a batch of ours: JavaScript will say so */
    const uint8_t *pkt = slab + start;
    size_t len = end - start;
    flow_key_t k;
    if ((e->flow_mtu && len > e->flow_mtu) || !flow_key_of(pkt, len, &k)) break;
    uint32_t id = flow_cache_get(&e->out_flows, &k, 0);
    sa_slot_t *sl = id ? slot_of(e, id) : NULL;
    if (sl == NULL || !sl->sa.outbound || sl->remote_len == 0 || sl->sa.exhausted ||
        esp_packet_bytes(len) > sl->sa.max_packet)
      break; /* unknown, or refused: JavaScript counts it */
    seal_queue(e, id, sl, pkt, len, k.version == 4 ? 4 : 41);
    e->stats[S_FLOW_HITS_OUT]++;
  }
  tx_flush(e);
  return i;
}

/* The TUN device's side of tun_lead.h. */
static uint32_t lead_take(void *ctx, const uint8_t *slab, size_t slab_len, const uint32_t *ends, uint32_t from,
                          uint32_t count, int *news) {
  engine_t *e = ctx;
  pthread_mutex_lock(&e->mu);
  uint32_t first = seal_cached(e, slab, slab_len, ends, from, count);
  *news = e->news;
  e->news = 0;
  pthread_mutex_unlock(&e->mu);
  return first;
}
/* The main thread never holds mu here (these come from the TUN device's methods), so joining the
 * thread to restart it with or without the device cannot wait for ourselves. */
static int lead_join(void *ctx, const tun_reader_t *reader) {
  engine_t *e = ctx;
  if (!e->polling || e->closed) return EAGAIN;
  if (e->has_reader) return EBUSY;
  io_thread_stop(&e->io);
  e->reader = *reader;
  e->has_reader = 1;
  int err = io_start(e);
  if (err) {
    e->has_reader = 0;
    (void)io_start(e); /* as before; if even that fails, receiving is over and stats will say */
  }
  return err;
}

static void lead_leave(void *ctx, void *reader_ctx) {
  engine_t *e = ctx;
  if (!e->has_reader || e->reader.ctx != reader_ctx) return;
  io_thread_stop(&e->io);
  io_thread_cancel(&e->io, reader_ctx);
  e->has_reader = 0;
  if (e->polling && !e->closed) (void)io_start(e);
}

static void lead_retain(void *ctx) { ((engine_t *)ctx)->refs++; }
static void lead_release(void *ctx) { release((engine_t *)ctx); }

static void free_lead(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  tun_lead_t *l = data;
  l->release(l->ctx);
  free(l);
}

/* tunLeadHook() -> External for TunDevice.setLead: holds a reference on the engine while it lives. */
static napi_value js_tun_lead_hook(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  engine_t *e = this_engine(env, info, &argc, NULL, NULL, 1);
  if (e == NULL) return NULL;
  tun_lead_t *l = malloc(sizeof *l);
  if (l == NULL) {
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  *l = (tun_lead_t){.magic = TUN_LEAD_MAGIC, .take = lead_take, .join = lead_join, .leave = lead_leave,
                    .retain = lead_retain, .release = lead_release, .ctx = e};
  lead_retain(e);
  if (napi_create_external(env, l, free_lead, NULL, &result) != napi_ok) {
    free_lead(env, l, NULL);
    throw_napi(env, "tunLeadHook");
    return NULL;
  }
  return result;
}

/* sealCached(slab, ends, count) -> first + 65536 * news: seal_cached() for JavaScript (tests). */
static napi_value js_seal_cached(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 1);
  if (e == NULL) return NULL;
  uint8_t *slab;
  size_t slab_len = 0, ends_len = 0;
  void *ends_data = NULL;
  napi_typedarray_type type;
  uint32_t n = 0;
  if (!get_bytes(env, argv[0], &slab, &slab_len)) return NULL;
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &ends_len, &ends_data, NULL, NULL));
  CHECK(napi_get_value_uint32(env, argv[2], &n));
  if (type != napi_uint32_array || ends_len < n) {
    napi_throw_range_error(env, NULL, "sealCached: ends must be a Uint32Array of at least count");
    return NULL;
  }
  uint32_t i = seal_cached(e, slab, slab_len, ends_data, 0, n);
  int news = e->news;
  e->news = 0;
  CHECK(napi_create_double(env, (double)i + 65536.0 * news, &result));
  return result;
}

/* setFlows(on, mtu): switches the flow cache; mtu is the MTU guard's (0: none). Forgets all. */
static napi_value js_set_flows(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 0);
  if (e == NULL) return NULL;
  bool on = false;
  uint32_t mtu = 0;
  CHECK(napi_get_value_bool(env, argv[0], &on));
  CHECK(napi_get_value_uint32(env, argv[1], &mtu));
  e->flows = on;
  e->flow_mtu = mtu;
  forget_flows(e);
  return NULL;
}

/* flowKeyOf(packet) -> Buffer | null: flow_key_of() for the tests (against ip-packet.ts). */
static napi_value js_flow_key_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *p;
  size_t len;
  if (argc < 1 || !get_bytes(env, argv[0], &p, &len)) return NULL;
  flow_key_t k;
  if (!flow_key_of(p, len, &k)) {
    CHECK(napi_get_null(env, &result));
    return result;
  }
  uint8_t out[38];
  out[0] = k.version;
  out[1] = k.protocol;
  out[2] = (uint8_t)(k.src_port >> 8), out[3] = (uint8_t)k.src_port;
  out[4] = (uint8_t)(k.dst_port >> 8), out[5] = (uint8_t)k.dst_port;
  memcpy(out + 6, k.src, 16);
  memcpy(out + 22, k.dst, 16);
  CHECK(napi_create_buffer_copy(env, sizeof out, out, NULL, &result));
  return result;
}

static napi_value js_seal_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 1);
  if (e == NULL) return NULL;
  if (e->fd < 0) {
    throw_errno(env, ENOTCONN, "sealSend");
    return NULL;
  }
  uint32_t n = 0, plen = 0;
  napi_typedarray_type type;
  size_t tlen = 0;
  void *pdata = NULL;
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &tlen, &pdata, NULL, NULL));
  CHECK(napi_get_value_uint32(env, argv[2], &n));
  CHECK(napi_get_array_length(env, argv[0], &plen));
  if (type != napi_int32_array || tlen < 2 * (size_t)n || plen < n) {
    napi_throw_range_error(env, NULL, "sealSend: plan must hold 2 ints per packet");
    return NULL;
  }
  const int32_t *plan = pdata;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t id = (uint32_t)plan[2 * i];
    if (id == 0) continue;
    sa_slot_t *sl = slot_of(e, id);
    if (sl == NULL || !sl->sa.outbound) continue;
    napi_value pv;
    uint8_t *inner;
    size_t len;
    CHECK(napi_get_element(env, argv[0], i, &pv));
    if (!get_bytes(env, pv, &inner, &len)) return NULL;
    flow_key_t k; /* JavaScript's decision for this flow, for its next packets (sealCached) */
    if (e->flows && (e->flow_mtu == 0 || len <= e->flow_mtu) && plan[2 * i + 1] == (inner[0] >> 4 == 4 ? 4 : 41) &&
        flow_key_of(inner, len, &k))
      flow_cache_put(&e->out_flows, &k, 0, id);
    seal_queue(e, id, sl, inner, len, plan[2 * i + 1]);
  }
  tx_flush(e);
  /* What happened that JavaScript should look at (NEWS_*), 0 in the common case. */
  int news = e->news;
  e->news = 0;
  CHECK(napi_create_int32(env, news, &result));
  return result;
}

static napi_value js_attach_tun(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 1);
  if (e == NULL) return NULL;
  int32_t fd = -1;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  /* Our own descriptor: the TUN device may close its fd first without us writing to a number
   * that another file got meanwhile. */
  int mine = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
  if (mine < 0) {
    throw_errno(env, fd < 0 ? EBADF : errno, "attachTun");
    return NULL;
  }
  /* Does it carry virtio-net headers (a TunDevice opened with offload)? */
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  int vnet = ioctl(mine, TUNGETIFF, &ifr) == 0 && (ifr.ifr_flags & IFF_VNET_HDR);
  if (vnet && e->gro_buf == NULL && (e->gro_buf = malloc(VNET_HDR_LEN + 65535)) == NULL) {
    (void)close(mine);
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  if (e->tun_fd >= 0) (void)close(e->tun_fd);
  e->tun_fd = mine;
  e->tun_vnet = vnet;
  if (vnet) tun_gro_init(&e->gro, e->gro_buf, tun_emit, e);
  return NULL;
}

/* stats(out, kernel): with `kernel`, rxOverflow is first refreshed from the sockets' drop counters
 * (two system calls: ask for it when showing status, not per batch). */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  engine_t *e = this_engine(env, info, &argc, argv, NULL, 0);
  if (e == NULL) return NULL;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &len, &data, NULL, NULL));
  if (type != napi_float64_array || len < S_COUNT) {
    napi_throw_range_error(env, NULL, "stats: a Float64Array of at least STATS_COUNT");
    return NULL;
  }
  bool kernel = false;
  if (argc >= 2) CHECK(napi_get_value_bool(env, argv[1], &kernel));
  /* What the kernel dropped for lack of buffer space, as of now (SO_MEMINFO's drop counter). */
  double drops = 0;
  for (int i = 0; kernel && i < 2; i++) {
    int fd = i == 0 ? e->fd : e->ike_fd;
    uint32_t mem[SK_MEMINFO_VARS];
    socklen_t ml = sizeof mem;
    if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &ml) == 0 && ml > SK_MEMINFO_DROPS * sizeof(uint32_t))
      drops += mem[SK_MEMINFO_DROPS];
  }
  if (drops > e->stats[S_RX_OVERFLOW]) e->stats[S_RX_OVERFLOW] = drops; /* kept after close */
  e->stats[S_TUN_MERGED] = (double)e->gro.merged_packets;
  e->stats[S_TUN_MERGED_SEGMENTS] = (double)e->gro.merged_segments;
  memcpy(data, e->stats, sizeof e->stats);
  return NULL;
}

static napi_value js_buffer_sizes(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result, v;
  engine_t *e = this_engine(env, info, &argc, NULL, NULL, 1);
  if (e == NULL) return NULL;
  int sizes[2] = {0, 0};
  socklen_t l = sizeof(int);
  if (e->fd >= 0) {
    (void)getsockopt(e->fd, SOL_SOCKET, SO_RCVBUF, &sizes[0], &l);
    l = sizeof(int);
    (void)getsockopt(e->fd, SOL_SOCKET, SO_SNDBUF, &sizes[1], &l);
  }
  CHECK(napi_create_array_with_length(env, 2, &result));
  for (uint32_t i = 0; i < 2; i++) {
    CHECK(napi_create_int32(env, sizes[i], &v));
    CHECK(napi_set_element(env, result, i, v));
  }
  return result;
}

/* Every method but start's counterparts stop and close (which join the I/O thread, so must
 * not hold the lock) runs with the engine's lock held: the data arrives as the method's `data`. */
typedef napi_value (*method_fn)(napi_env, napi_callback_info);
static napi_value locked(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value me;
  void *data = NULL, *native = NULL;
  if (napi_get_cb_info(env, info, &argc, NULL, &me, &data) != napi_ok) {
    throw_napi(env, "arguments");
    return NULL;
  }
  method_fn fn = (method_fn)data;
  if (napi_unwrap(env, me, &native) != napi_ok || native == NULL) return fn(env, info); /* it throws */
  engine_t *e = native;
  pthread_mutex_lock(&e->mu);
  napi_value r = fn(env, info);
  pthread_mutex_unlock(&e->mu);
  return r;
}
#define LOCKED(name, fn) {name, NULL, locked, NULL, NULL, NULL, napi_default, (void *)(fn)}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      LOCKED("addSa", js_add_sa),
      LOCKED("removeSa", js_remove_sa),
      LOCKED("setRemote", js_set_remote),
      LOCKED("saStats", js_sa_stats),
      LOCKED("seal", js_seal),
      LOCKED("open", js_open),
      LOCKED("bind", js_bind),
      LOCKED("rxBuffer", js_rx_buffer),
      LOCKED("rxMeta", js_rx_meta),
      LOCKED("start", js_start),
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
      LOCKED("sendTo", js_send_to),
      LOCKED("sealSend", js_seal_send),
      LOCKED("sealCached", js_seal_cached),
      LOCKED("setFlows", js_set_flows),
      LOCKED("tunLeadHook", js_tun_lead_hook),
      LOCKED("attachTun", js_attach_tun),
      LOCKED("stats", js_stats),
      LOCKED("bufferSizes", js_buffer_sizes),
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, v;
  CHECK(napi_define_class(env, "EspEngine", NAPI_AUTO_LENGTH, js_new, NULL, sizeof methods / sizeof methods[0],
                          methods, &cls));
  CHECK(napi_set_named_property(env, exports, "EspEngine", cls));
  const struct { const char *name; uint32_t value; } consts[] = {
      {"META_INTS", META_INTS}, {"RX_BATCH", RX_BATCH}, {"RX_SLOT", RX_SLOT}, {"TX_BATCH", TX_BATCH},
      {"STATS_COUNT", S_COUNT}, {"SA_STATS_COUNT", A_COUNT}, {"MAX_SAS", MAX_SAS}, {"RX_RECORDS", RX_RECORDS},
  };
  for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++) {
    CHECK(napi_create_uint32(env, consts[i].value, &v));
    CHECK(napi_set_named_property(env, exports, consts[i].name, v));
  }
  CHECK(napi_create_function(env, "flowKeyOf", NAPI_AUTO_LENGTH, js_flow_key_of, NULL, &v));
  CHECK(napi_set_named_property(env, exports, "flowKeyOf", v));
  return exports;
}
