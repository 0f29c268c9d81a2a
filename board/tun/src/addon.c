/* N-API binding for a Linux TUN device, integrated with Node's event loop.
 *
 * JavaScript sees one class:
 *   new Tun(name, mtu, up, offload)  open /dev/net/tun as `name` ("" = kernel's choice); mtu 0 = leave
 *                            as is; offload: virtio-net headers, TCP segmentation (tun_gso.h)
 *   .offload / .vnet         whether the kernel took the offloads / the device carries headers
 *   .name                    the interface name the kernel used
 *   .start(cb) / .stop()     poll for packets; cb(err, count) once per wake-up (see on_readable)
 *   .slab() / .ends()        the ArrayBuffer packets are read into and the Uint32Array of their end
 *                            offsets, both made at the first start() and reused for every batch
 *   .write(u8) -> bool       one packet, never blocks; false when the kernel has no room (a drop)
 *   .writeBatch(arr) -> n    packets written before the first refused one
 *   .getMtu() / .setMtu(n) / .setUp(bool)
 *   .getFd()                 the fd (-1 once closed), for the ESP fast path's TUN writes
 *   .dropped()               reads that could not be split into packets (malformed GSO)
 * Module functions gsoSplit(headerAndPacket) and groMerge(packets) run tun_gso.c on buffers (tests).
 *   .close()                 stop polling, close the fd; idempotent
 * Errors are Error objects with .code ("EPERM"), .errno (positive, as in errno(3)) and .op (the step
 * that failed); board/tun/index.ts turns them into sentences for a technician.
 *
 * Reading: the non-blocking fd is watched either by a uv_poll_t on Node's loop or, with a lead
 * (setLead) whose engine is receiving, by the ESP engine's I/O thread (tun_lead.h join,
 * io_thread.h): one thread then serves the tunnel's sockets and the device, and known flows never
 * wake the main thread. At each wake-up the packets that are ready, at most BATCH_MAX, are read
 * into one slab (a JS ArrayBuffer made once) with their end offsets in a Uint32Array (also made
 * once), and JS is told how many there are: no allocation per batch (on the thread's way, the
 * thread waits until the JS call has returned). board/tun/index.ts copies or slices them. Both
 * ways are level-triggered, so packets left over after BATCH_MAX wake us again at once, after
 * other I/O has had its turn.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "mem_trim.h"
#include "tun_dev.h"
#include "tun_lead.h"
#include "tun_gso.h"

typedef struct {
  size_t count;   /* packets read */
  uint32_t first; /* how many of them the lead took */
  int news;       /* what the lead wants JavaScript to look at */
  int err;        /* reading failed (errno), after count packets */
  const char *op;
} tun_batch_t;

/* Reading stops once a batch holds BATCH_MAX packets; with offload the last read may be a GSO
 * packet split into up to TUN_GSO_MAX_SEGS segments, so a batch holds at most ENDS_MAX. */
#define BATCH_MAX 256
#define ENDS_MAX (BATCH_MAX + TUN_GSO_MAX_SEGS - 1)
/* Room for BATCH_MAX packets of up to 2048 bytes, plus the largest read split into segments: the
 * read loops stop before a read that might not fit, so packets are never cut. */
#define SLAB_CAP ((size_t)BATCH_MAX * 2048 + TUN_GSO_SPLIT_ROOM)

typedef struct {
  napi_env env;
  int fd; /* -1 once closed */
  char name[IFNAMSIZ];
  int vnet;          /* reads and writes carry a virtio-net header */
  int offload;       /* the kernel accepted TSO and checksum offload */
  uint8_t *scratch;  /* with vnet: where each read lands before it is split */
  uint64_t dropped;  /* reads that could not be split */
  /* Freed when both owners let go: the JS object (finalizer) and the uv handle (close callback). */
  int refs;
  int poll_inited; /* uv_poll_init done and uv_close not yet requested */
  int polling;
  int in_callback;
  uv_poll_t poll;
  /* Set only while polling: strong refs keep the object and callback alive meanwhile. */
  napi_ref self;
  napi_ref cb;
  napi_async_context actx;
  /* Backing stores of JS objects made at the first start(), held by slab_ref and ends_ref. */
  uint8_t *slab;
  uint32_t *ends;
  napi_ref slab_ref, ends_ref;
  /* Who sees each batch before JavaScript (setLead, tun_lead.h); take == NULL: nobody. */
  tun_lead_t lead;
  /* With a lead the device is read on the engine's I/O thread (tun_lead.h join), else by `poll`
   * on the loop. */
  uv_loop_t *loop;
  int joined;          /* the engine's thread, not `poll`, is reading */
  tun_batch_t pending; /* what that thread hands to the main thread */
} tun_t;

/* ---- errors ------------------------------------------------------------------------------- */

/* An Error with .code, .errno and .op. Returns NULL if even that failed (an exception is pending). */
static napi_value make_error(napi_env env, int err, const char *op) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", op, strerror(err));
  napi_value code, text, error, num, opv;
  if (napi_create_string_utf8(env, tun_errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok ||
      napi_create_int32(env, err, &num) != napi_ok ||
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

/* For a failed N-API call: keep the exception it left, or raise one naming the call. */
static void throw_napi(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  char msg[200];
  snprintf(msg, sizeof msg, "outpost_tun: %s failed: %s", what,
           napi_get_last_error_info(env, &info) == napi_ok && info && info->error_message
               ? info->error_message : "unknown N-API error");
  napi_throw_error(env, "ERR_OUTPOST_TUN_NAPI", msg);
}

#define CHECK(call)                                                                            \
  do {                                                                                         \
    if ((call) != napi_ok) {                                                                   \
      throw_napi(env, #call);                                                                  \
      return NULL;                                                                             \
    }                                                                                          \
  } while (0)

/* ---- lifetime ----------------------------------------------------------------------------- */

static void release(tun_t *t) {
  if (--t->refs > 0) return;
  free(t->scratch);
  free(t);
}

static void on_poll_closed(uv_handle_t *h) { release((tun_t *)h->data); }
static void on_readable(uv_poll_t *h, int status, int events);
static int io_work(void *ctx);
static void io_deliver(void *ctx);
static void io_orphaned(void *ctx);

/* Starts reading: on the engine's thread when the lead can, else from the loop. 0 or a positive
 * errno. */
static int resume_io(tun_t *t) {
  if (t->lead.take != NULL) {
    tun_reader_t r = {.fd = t->fd, .ctx = t, .work = io_work, .deliver = io_deliver, .orphaned = io_orphaned};
    t->joined = t->lead.join(t->lead.ctx, &r) == 0;
    if (t->joined) return 0;
  }
  if (!t->poll_inited) {
    int r = uv_poll_init(t->loop, &t->poll, t->fd);
    if (r < 0) return -r;
    t->poll.data = t;
    t->poll_inited = 1;
    t->refs++; /* released by on_poll_closed */
  }
  return -uv_poll_start(&t->poll, UV_READABLE, on_readable);
}

/* Stops reading, either way (the engine joins its thread before it lets go). */
static void pause_io(tun_t *t) {
  if (t->joined) t->lead.leave(t->lead.ctx, t);
  else if (t->poll_inited) (void)uv_poll_stop(&t->poll); /* always 0 for an initialized handle */
  t->joined = 0;
}

/* Teardown paths have nobody to report a failed N-API call to, so their statuses are dropped. */
static void stop_polling(napi_env env, tun_t *t) {
  if (!t->polling) return;
  t->polling = 0;
  pause_io(t);
  (void)napi_delete_reference(env, t->cb);
  (void)napi_delete_reference(env, t->self);
  t->cb = t->self = NULL;
  /* Inside the callback the context is still in use: on_readable destroys it afterwards. */
  if (!t->in_callback) (void)napi_async_destroy(env, t->actx);
  t->actx = NULL;
}

static void drop_lead(tun_t *t) {
  if (t->lead.take == NULL) return;
  tun_lead_t l = t->lead;
  t->lead.take = NULL;
  l.release(l.ctx);
}

static void cleanup_hook(void *arg);

static void close_impl(napi_env env, tun_t *t, int from_hook) {
  if (t->fd < 0) return;
  stop_polling(env, t);
  drop_lead(t);
  if (t->poll_inited) {
    t->poll_inited = 0;
    uv_close((uv_handle_t *)&t->poll, on_poll_closed);
  }
  /* Linux releases the fd even when close(2) reports an error; there is nothing to retry. */
  (void)close(t->fd);
  t->fd = -1;
  if (!from_hook) {
    if (t->slab_ref) (void)napi_delete_reference(env, t->slab_ref);
    if (t->ends_ref) (void)napi_delete_reference(env, t->ends_ref);
    (void)napi_remove_env_cleanup_hook(env, cleanup_hook, t);
  }
  t->slab_ref = t->ends_ref = NULL;
  t->slab = NULL;
  t->ends = NULL;
}

/* Environment teardown (process.exit, worker end): give the fd and handle back. */
static void cleanup_hook(void *arg) {
  tun_t *t = arg;
  close_impl(t->env, t, 1);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  tun_t *t = data;
  close_impl(env, t, 0);
  release(t);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Reads more of a batch: into the slab after the n packets already there, until `enough` more or
 * the device is drained; *more: how many. */
static int read_more(tun_t *t, size_t n, size_t enough, size_t *more, const char **op) {
  size_t used = n ? t->ends[n - 1] : 0;
  int err = t->vnet
      ? tun_dev_read_batch_vnet(t->fd, t->scratch, t->slab + used, SLAB_CAP - used, t->ends + n, ENDS_MAX - n,
                                enough, more, &t->dropped, op)
      : tun_dev_read_batch(t->fd, t->slab + used, SLAB_CAP - used, t->ends + n, enough < BATCH_MAX - n ? enough : BATCH_MAX - n,
                           more, op);
  for (size_t i = n; i < n + *more; i++) t->ends[i] += (uint32_t)used;
  return err;
}

/* One wake-up: read what is ready into the slab and offer it to the lead (setLead). Returns 1 when
 * JavaScript must see the batch: unless the lead took every packet and has no news. b->err is set
 * when reading failed (polling then stops, since a level-triggered error would spin); b->count
 * packets were read before it either way, the first b->first of them taken by the lead. With a
 * lead, the first read's packets go out before the rest of the batch is read: a lone packet (the
 * idle case) leaves without waiting for the read that finds the device empty. */
static int read_batch(tun_t *t, tun_batch_t *b) {
  int more_news = 0;
  if (t->lead.take == NULL) {
    b->err = read_more(t, 0, BATCH_MAX, &b->count, &b->op);
  } else {
    b->err = read_more(t, 0, 1, &b->count, &b->op); /* one read: a packet, or one offloaded run of segments */
    if (b->count > 0) b->first = t->lead.take(t->lead.ctx, t->slab, SLAB_CAP, t->ends, 0, (uint32_t)b->count, &b->news);
    if (b->err == 0 && b->count > 0) {
      size_t more = 0;
      b->err = read_more(t, b->count, BATCH_MAX > b->count ? BATCH_MAX - b->count : 0, &more, &b->op);
      if (more > 0 && b->first == b->count) /* all taken so far: the lead goes on (a lone packet: nothing more) */
        b->first = t->lead.take(t->lead.ctx, t->slab, SLAB_CAP, t->ends, b->first, (uint32_t)(b->count + more), &more_news);
      b->count += more;
      b->news |= more_news;
    }
  }
  if (b->count == 0 && b->err == 0) return 0; /* spurious wake-up */
  return !(b->first == b->count && b->news == 0 && b->err == 0);
}

/* One JS call cb(err, count, first, news) for a batch; err is null unless reading failed. */
static void deliver_batch(tun_t *t, const tun_batch_t *b) {
  napi_env env = t->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  /* From here stop_polling (ours or the callback's) leaves actx to us: we destroy it below. */
  t->in_callback = 1;
  napi_async_context actx = t->actx;
  napi_value argv[4], cb, recv; /* napi_make_callback wants an object as `this` */
  int ok = napi_get_null(env, &argv[0]) == napi_ok && napi_create_uint32(env, (uint32_t)b->count, &argv[1]) == napi_ok &&
           napi_create_uint32(env, b->first, &argv[2]) == napi_ok && napi_create_int32(env, b->news, &argv[3]) == napi_ok &&
           napi_get_global(env, &recv) == napi_ok && napi_get_reference_value(env, t->cb, &cb) == napi_ok;
  if (ok && b->err) ok = (argv[0] = make_error(env, b->err, b->op)) != NULL;
  if (b->err || !ok) stop_polling(env, t); /* a level-triggered error would wake us forever */

  napi_status s = napi_pending_exception;
  if (ok) s = napi_make_callback(env, actx, recv, cb, 4, argv, NULL);
  else throw_napi(env, "delivering packets");
  t->in_callback = 0;
  if (t->actx != actx) (void)napi_async_destroy(env, actx); /* polling stopped meanwhile */
  /* No JS frame is below us: an exception from the callback goes to 'uncaughtException' rather
   * than vanish. */
  if (s == napi_pending_exception) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) (void)napi_fatal_exception(env, exc);
  }
  (void)napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  tun_t *t = h->data;
  if (!t->polling) return;
  tun_batch_t b = {.op = "poll"};
  if (status < 0) b.err = -status; /* libuv's codes are negated errnos on Linux */
  else if (!read_batch(t, &b)) return;
  deliver_batch(t, &b);
}

/* On the engine's thread (tun_lead.h): the same reading, the JS call handed to the main thread. */
static int io_work(void *ctx) {
  tun_t *t = ctx;
  t->pending = (tun_batch_t){.op = "poll"};
  return read_batch(t, &t->pending);
}

static void io_deliver(void *ctx) {
  tun_t *t = ctx;
  if (t->polling) deliver_batch(t, &t->pending);
}

/* The engine stopped reading for us: back to the loop. */
static void io_orphaned(void *ctx) {
  tun_t *t = ctx;
  t->joined = 0;
  if (!t->polling) return;
  int err = resume_io(t);
  if (err) { /* nothing would read the device: say so the way a read error does */
    t->pending = (tun_batch_t){.err = err, .op = "poll"};
    deliver_batch(t, &t->pending);
  }
}

/* ---- methods ------------------------------------------------------------------------------ */

/* Unwraps `this` and fetches up to *argc arguments; NULL (exception pending) on failure. */
static tun_t *this_tun(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, napi_value *self) {
  napi_value me;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &me, NULL) != napi_ok ||
      napi_unwrap(env, me, &data) != napi_ok) {
    throw_napi(env, "unwrap");
    return NULL;
  }
  if (self) *self = me;
  return data;
}

static tun_t *open_tun(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, napi_value *self) {
  tun_t *t = this_tun(env, info, argc, argv, self);
  if (t != NULL && t->fd < 0) {
    throw_errno(env, EBADF, "closed");
    return NULL;
  }
  return t;
}

static napi_value js_new(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], me;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &me, NULL));
  char name[IFNAMSIZ + 1];
  size_t len = 0;
  int32_t mtu = 0;
  bool up = false;
  CHECK(napi_get_value_string_utf8(env, argv[0], NULL, 0, &len));
  if (len >= IFNAMSIZ) {
    throw_errno(env, EINVAL, "name");
    return NULL;
  }
  CHECK(napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len));
  if (strlen(name) != len) { /* an embedded NUL would make the kernel see another name */
    throw_errno(env, EINVAL, "name");
    return NULL;
  }
  CHECK(napi_get_value_int32(env, argv[1], &mtu));
  CHECK(napi_get_value_bool(env, argv[2], &up));
  bool offload = false;
  if (argc >= 4) CHECK(napi_get_value_bool(env, argv[3], &offload));

  tun_t *t = calloc(1, sizeof *t);
  if (t == NULL) {
    throw_errno(env, ENOMEM, "calloc");
    return NULL;
  }
  t->env = env;
  t->fd = -1;
  const char *op = "";
  if (offload && (t->scratch = malloc(VNET_HDR_LEN + TUN_MAX_PACKET)) == NULL) {
    free(t);
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  t->vnet = offload;
  int err = tun_dev_open(name, offload, t->name, &t->fd, &t->offload, &op);
  if (!err && mtu > 0) err = tun_dev_set_mtu(t->name, mtu, &op);
  if (!err && up) err = tun_dev_set_up(t->name, 1, &op);
  if (err) {
    if (t->fd >= 0) (void)close(t->fd);
    free(t->scratch);
    free(t);
    throw_errno(env, err, op);
    return NULL;
  }
  t->refs = 1;
  if (napi_wrap(env, me, t, finalize, NULL, NULL) != napi_ok) {
    (void)close(t->fd);
    free(t);
    throw_napi(env, "napi_wrap");
    return NULL;
  }
  /* From here the finalizer owns t, and closes the fd if JS never does. */
  CHECK(napi_add_env_cleanup_hook(env, cleanup_hook, t));
  napi_value namev, offv, vnetv;
  CHECK(napi_create_string_utf8(env, t->name, NAPI_AUTO_LENGTH, &namev));
  CHECK(napi_get_boolean(env, t->offload, &offv));
  CHECK(napi_get_boolean(env, t->vnet, &vnetv));
  napi_property_descriptor props[] = {
      {"name", NULL, NULL, NULL, NULL, namev, napi_enumerable, NULL},
      {"offload", NULL, NULL, NULL, NULL, offv, napi_enumerable, NULL},
      {"vnet", NULL, NULL, NULL, NULL, vnetv, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, me, 3, props));
  return me;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], me;
  tun_t *t = open_tun(env, info, &argc, argv, &me);
  if (t == NULL) return NULL;
  napi_valuetype type;
  CHECK(napi_typeof(env, argv[0], &type));
  if (argc < 1 || type != napi_function) {
    napi_throw_type_error(env, NULL, "start(cb): cb must be a function");
    return NULL;
  }
  if (t->polling) { /* just swap the callback */
    napi_ref cb;
    CHECK(napi_create_reference(env, argv[0], 1, &cb));
    (void)napi_delete_reference(env, t->cb);
    t->cb = cb;
    return NULL;
  }
  if (t->slab_ref == NULL) {
    napi_value ab, eab, ends;
    void *slab = NULL, *ends_data = NULL;
    CHECK(napi_create_arraybuffer(env, SLAB_CAP, &slab, &ab));
    CHECK(napi_create_arraybuffer(env, ENDS_MAX * sizeof(uint32_t), &ends_data, &eab));
    CHECK(napi_create_typedarray(env, napi_uint32_array, ENDS_MAX, eab, 0, &ends));
    CHECK(napi_create_reference(env, ab, 1, &t->slab_ref));
    if (napi_create_reference(env, ends, 1, &t->ends_ref) != napi_ok) {
      (void)napi_delete_reference(env, t->slab_ref);
      t->slab_ref = NULL;
      throw_napi(env, "napi_create_reference");
      return NULL;
    }
    t->slab = slab;
    t->ends = ends_data;
  }
  CHECK(napi_get_uv_event_loop(env, &t->loop));
  napi_value resource, rname;
  napi_ref cb = NULL, self = NULL;
  napi_async_context actx = NULL;
  int r = 0;
  int refs_ok = napi_create_object(env, &resource) == napi_ok &&
                napi_create_string_utf8(env, "OutpostTun", NAPI_AUTO_LENGTH, &rname) == napi_ok &&
                napi_async_init(env, resource, rname, &actx) == napi_ok &&
                napi_create_reference(env, argv[0], 1, &cb) == napi_ok &&
                napi_create_reference(env, me, 1, &self) == napi_ok;
  if (refs_ok && (r = resume_io(t)) == 0) {
    t->cb = cb;
    t->self = self;
    t->actx = actx;
    t->polling = 1;
    return NULL;
  }
  if (self) (void)napi_delete_reference(env, self);
  if (cb) (void)napi_delete_reference(env, cb);
  if (actx) (void)napi_async_destroy(env, actx);
  if (refs_ok) throw_errno(env, r, "start");
  else throw_napi(env, "start");
  return NULL;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tun_t *t = this_tun(env, info, &argc, NULL, NULL);
  if (t != NULL) stop_polling(env, t);
  return NULL;
}

/* setLead(External | null): the ESP engine's flow cache sees each batch first (tun_lead.h). */
static napi_value js_set_lead(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  tun_t *t = this_tun(env, info, &argc, argv, NULL);
  if (t == NULL) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc >= 1) CHECK(napi_typeof(env, argv[0], &type));
  tun_lead_t next = {0};
  if (type == napi_external) {
    void *data = NULL;
    CHECK(napi_get_value_external(env, argv[0], &data));
    const tun_lead_t *l = data;
    if (l == NULL || l->magic != TUN_LEAD_MAGIC || l->take == NULL) {
      napi_throw_type_error(env, NULL, "setLead: not a lead from this build's ESP addon");
      return NULL;
    }
    next = *l;
    next.retain(next.ctx);
  } else if (type != napi_null && type != napi_undefined) {
    napi_throw_type_error(env, NULL, "setLead(hook | null)");
    return NULL;
  }
  if (t->fd < 0) { /* closed: hold nothing */
    if (next.take != NULL) next.release(next.ctx);
    return NULL;
  }
  if (t->polling) pause_io(t); /* the reader may be inside the old lead: stop it first */
  drop_lead(t);
  t->lead = next;
  int err = t->polling ? resume_io(t) : 0; /* and read the new way (thread with a lead) */
  if (err) {
    stop_polling(env, t);
    throw_errno(env, err, "setLead");
  }
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  tun_t *t = this_tun(env, info, &argc, NULL, NULL);
  if (t != NULL) close_impl(env, t, 0);
  return NULL;
}

/* One packet: 1 written, 0 refused for lack of room (a drop, never a wait), -1 error thrown. */
static int write_one(napi_env env, tun_t *t, napi_value pkt) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, pkt, &is_ta) != napi_ok ||
      (is_ta && napi_get_typedarray_info(env, pkt, &type, &len, &data, NULL, NULL) != napi_ok)) {
    throw_napi(env, "reading the packet");
    return -1;
  }
  if (!is_ta || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "a packet must be a Uint8Array or Buffer");
    return -1;
  }
  int err = tun_dev_write(t->fd, t->vnet, data, len);
  if (err == 0) return 1;
  if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return 0;
  throw_errno(env, err, "write");
  return -1;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL}, result;
  tun_t *t = open_tun(env, info, &argc, argv, NULL);
  if (t == NULL) return NULL;
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "write(packet): packet is missing");
    return NULL;
  }
  int r = write_one(env, t, argv[0]);
  if (r < 0) return NULL;
  CHECK(napi_get_boolean(env, r == 1, &result));
  return result;
}

static napi_value js_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL}, result;
  tun_t *t = open_tun(env, info, &argc, argv, NULL);
  if (t == NULL) return NULL;
  bool is_array = false;
  uint32_t n = 0, i;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "writeBatch(packets): packets must be an array");
    return NULL;
  }
  CHECK(napi_get_array_length(env, argv[0], &n));
  for (i = 0; i < n; i++) {
    napi_value pkt;
    CHECK(napi_get_element(env, argv[0], i, &pkt));
    int r = write_one(env, t, pkt);
    if (r < 0) return NULL;
    if (r == 0) break; /* the queue is full: the rest would be refused too */
  }
  CHECK(napi_create_uint32(env, i, &result));
  return result;
}

/* The read slab and end offsets (after the first start(); undefined before). */
static napi_value js_slab(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  tun_t *t = this_tun(env, info, &argc, NULL, NULL);
  if (t == NULL) return NULL;
  if (t->slab_ref == NULL) CHECK(napi_get_undefined(env, &result));
  else CHECK(napi_get_reference_value(env, t->slab_ref, &result));
  return result;
}

static napi_value js_ends(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  tun_t *t = this_tun(env, info, &argc, NULL, NULL);
  if (t == NULL) return NULL;
  if (t->ends_ref == NULL) CHECK(napi_get_undefined(env, &result));
  else CHECK(napi_get_reference_value(env, t->ends_ref, &result));
  return result;
}

static napi_value js_dropped(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  tun_t *t = this_tun(env, info, &argc, NULL, NULL);
  if (t == NULL) return NULL;
  CHECK(napi_create_double(env, (double)t->dropped, &result));
  return result;
}

/* ---- tun_gso.c on buffers, for tests ------------------------------------------------------ */

static int buffer_arg(napi_env env, napi_value v, uint8_t **data, size_t *len) {
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

/* gsoSplit(header + packet) -> Buffer[] (empty: dropped). */
static napi_value js_gso_split(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, b;
  uint8_t *in;
  size_t len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !buffer_arg(env, argv[0], &in, &len)) return NULL;
  if (len < VNET_HDR_LEN || len > VNET_HDR_LEN + TUN_MAX_PACKET) {
    napi_throw_range_error(env, NULL, "gsoSplit: a virtio-net header and one packet");
    return NULL;
  }
  uint8_t *out = malloc(TUN_GSO_SPLIT_ROOM);
  uint32_t ends[TUN_GSO_MAX_SEGS];
  if (out == NULL) {
    throw_errno(env, ENOMEM, "malloc");
    return NULL;
  }
  vnet_hdr_t h;
  vnet_hdr_read(in, &h);
  size_t used = 0;
  int k = tun_gso_split(&h, in + VNET_HDR_LEN, len - VNET_HDR_LEN, out, TUN_GSO_SPLIT_ROOM, ends, TUN_GSO_MAX_SEGS, &used);
  int ok = napi_create_array(env, &result) == napi_ok;
  for (int i = 0, start = 0; ok && i < k; i++) {
    ok = napi_create_buffer_copy(env, ends[i] - (uint32_t)start, out + start, NULL, &b) == napi_ok &&
         napi_set_element(env, result, (uint32_t)i, b) == napi_ok;
    start = (int)ends[i];
  }
  free(out);
  if (!ok) {
    throw_napi(env, "gsoSplit");
    return NULL;
  }
  return result;
}

typedef struct { napi_env env; napi_value arr; uint32_t n; int ok; } merge_ctx_t;

static void merge_emit(void *ctx, const uint8_t *data, size_t len, void *tag) {
  (void)tag;
  merge_ctx_t *m = ctx;
  napi_value b;
  if (m->ok) m->ok = napi_create_buffer_copy(m->env, len, data, NULL, &b) == napi_ok &&
                     napi_set_element(m->env, m->arr, m->n++, b) == napi_ok;
}

/* groMerge(packets) -> Buffer[]: what would be written, each with its virtio-net header. */
static napi_value js_gro_merge(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  uint32_t n = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_array_length(env, argv[0], &n));
  /* Each packet gets VNET_HDR_LEN bytes of room in front, as the callers guarantee. */
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    uint8_t *d;
    size_t len;
    CHECK(napi_get_element(env, argv[0], i, &v));
    if (!buffer_arg(env, v, &d, &len)) return NULL;
    if (len > TUN_MAX_PACKET) {
      napi_throw_range_error(env, NULL, "groMerge: packet too large");
      return NULL;
    }
    total += VNET_HDR_LEN + len;
  }
  uint8_t *arena = malloc(total ? total : 1), *buf = malloc(VNET_HDR_LEN + 65535);
  merge_ctx_t m = {env, NULL, 0, 1};
  if (arena == NULL || buf == NULL || napi_create_array(env, &m.arr) != napi_ok) {
    free(arena);
    free(buf);
    throw_errno(env, ENOMEM, "groMerge");
    return NULL;
  }
  tun_gro_t g;
  tun_gro_init(&g, buf, merge_emit, &m);
  size_t o = 0;
  for (uint32_t i = 0; i < n && m.ok; i++) {
    napi_value v;
    uint8_t *d;
    size_t len;
    m.ok = napi_get_element(env, argv[0], i, &v) == napi_ok && buffer_arg(env, v, &d, &len);
    if (!m.ok) break;
    memcpy(arena + o + VNET_HDR_LEN, d, len);
    tun_gro_add(&g, arena + o + VNET_HDR_LEN, len, NULL);
    o += VNET_HDR_LEN + len;
  }
  if (m.ok) tun_gro_flush(&g);
  free(arena);
  free(buf);
  if (!m.ok) {
    throw_napi(env, "groMerge");
    return NULL;
  }
  result = m.arr;
  return result;
}

/* The fd, for the ESP fast path to write decrypted packets (it takes its own dup); -1 when closed. */
static napi_value js_get_fd(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  tun_t *t = this_tun(env, info, &argc, NULL, NULL);
  if (t == NULL) return NULL;
  CHECK(napi_create_int32(env, t->fd, &result));
  return result;
}

static napi_value js_get_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  tun_t *t = open_tun(env, info, &argc, NULL, NULL);
  if (t == NULL) return NULL;
  int mtu = 0;
  const char *op = "";
  int err = tun_dev_get_mtu(t->name, &mtu, &op);
  if (err) {
    throw_errno(env, err, op);
    return NULL;
  }
  CHECK(napi_create_int32(env, mtu, &result));
  return result;
}

static napi_value js_set_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  tun_t *t = open_tun(env, info, &argc, argv, NULL);
  if (t == NULL) return NULL;
  int32_t mtu = 0;
  CHECK(napi_get_value_int32(env, argc ? argv[0] : NULL, &mtu));
  const char *op = "";
  int err = tun_dev_set_mtu(t->name, mtu, &op);
  if (err) throw_errno(env, err, op);
  return NULL;
}

static napi_value js_set_up(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1] = {NULL};
  tun_t *t = open_tun(env, info, &argc, argv, NULL);
  if (t == NULL) return NULL;
  bool up = false;
  CHECK(napi_get_value_bool(env, argc ? argv[0] : NULL, &up));
  const char *op = "";
  int err = tun_dev_set_up(t->name, up, &op);
  if (err) throw_errno(env, err, op);
  return NULL;
}

/* trimFilePages() -> { mappings, failed, bytes } (mem_trim.c). */
static napi_value js_trim_file_pages(napi_env env, napi_callback_info info) {
  (void)info;
  mem_trim_result_t r;
  int err = mem_trim_file_pages(&r);
  if (err) {
    throw_errno(env, err, "open /proc/self/smaps");
    return NULL;
  }
  napi_value out, v;
  CHECK(napi_create_object(env, &out));
  CHECK(napi_create_uint32(env, r.mappings, &v));
  CHECK(napi_set_named_property(env, out, "mappings", v));
  CHECK(napi_create_uint32(env, r.failed, &v));
  CHECK(napi_set_named_property(env, out, "failed", v));
  CHECK(napi_create_double(env, (double)r.bytes, &v));
  CHECK(napi_set_named_property(env, out, "bytes", v));
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, js_write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"getFd", NULL, js_get_fd, NULL, NULL, NULL, napi_default, NULL},
      {"slab", NULL, js_slab, NULL, NULL, NULL, napi_default, NULL},
      {"dropped", NULL, js_dropped, NULL, NULL, NULL, napi_default, NULL},
      {"ends", NULL, js_ends, NULL, NULL, NULL, napi_default, NULL},
      {"getMtu", NULL, js_get_mtu, NULL, NULL, NULL, napi_default, NULL},
      {"setMtu", NULL, js_set_mtu, NULL, NULL, NULL, napi_default, NULL},
      {"setUp", NULL, js_set_up, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"setLead", NULL, js_set_lead, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, batch_max;
  CHECK(napi_define_class(env, "Tun", NAPI_AUTO_LENGTH, js_new, NULL,
                          sizeof methods / sizeof methods[0], methods, &cls));
  CHECK(napi_set_named_property(env, exports, "Tun", cls));
  CHECK(napi_create_uint32(env, BATCH_MAX, &batch_max));
  CHECK(napi_set_named_property(env, exports, "BATCH_MAX", batch_max));
  napi_value fn;
  CHECK(napi_create_function(env, "gsoSplit", NAPI_AUTO_LENGTH, js_gso_split, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "gsoSplit", fn));
  CHECK(napi_create_function(env, "groMerge", NAPI_AUTO_LENGTH, js_gro_merge, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "groMerge", fn));
  CHECK(napi_create_function(env, "trimFilePages", NAPI_AUTO_LENGTH, js_trim_file_pages, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "trimFilePages", fn));
  return exports;
}
