/* The data plane's I/O thread (io_thread.h). */
#define _GNU_SOURCE
#include "io_thread.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void on_async(uv_async_t *a) {
  io_thread_t *t = a->data;
  pthread_mutex_lock(&t->mu);
  int handed = t->handed;
  unsigned seq = t->hand_seq;
  io_slot_t slot = t->pending;
  pthread_mutex_unlock(&t->mu);
  if (!handed) return; /* coalesced, or cancelled meanwhile */
  /* deliver may stop and restart the thread (a restarted run waits until the hand-off is
   * cleared), cancel this hand-off and let a new run hand over another, or close us. */
  slot.deliver(slot.ctx);
  if (t->closed) return;
  pthread_mutex_lock(&t->mu);
  if (t->handed && t->hand_seq == seq) {
    t->handed = 0;
    pthread_cond_signal(&t->cv);
  }
  pthread_mutex_unlock(&t->mu);
}

int io_thread_init(io_thread_t *t, uv_loop_t *loop, const char *name) {
  memset(t, 0, sizeof *t);
  t->name = name;
  t->ep = -1;
  t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (t->wake_fd < 0) return -errno;
  int r = uv_async_init(loop, &t->async, on_async);
  if (r < 0) {
    (void)close(t->wake_fd);
    return r;
  }
  t->async.data = t;
  uv_unref((uv_handle_t *)&t->async);
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->cv, NULL);
  return 0;
}

static int stopping(io_thread_t *t) { return __atomic_load_n(&t->stopping, __ATOMIC_ACQUIRE); }

/* Waits while a hand-off is with the main thread; 0 when stopping. */
static int wait_handed(io_thread_t *t) {
  pthread_mutex_lock(&t->mu);
  while (t->handed && !t->stopping) pthread_cond_wait(&t->cv, &t->mu);
  int go = !t->stopping;
  pthread_mutex_unlock(&t->mu);
  return go;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Busy polling (io_thread.h): after work, polls for up to spin_ns while the budget allows, giving
 * the CPU to anything else runnable between polls; then blocks. Returns epoll_wait's result. */
static int wait_events(io_thread_t *t, struct epoll_event *ev, int did_work) {
  int n = 0;
  if (did_work && t->spin_ns > 0) {
    int64_t now = now_ns();
    t->budget_ns += (now - t->budget_at) / IO_THREAD_SPIN_SHARE;
    if (t->budget_ns > IO_THREAD_SPIN_BURST_NS) t->budget_ns = IO_THREAD_SPIN_BURST_NS;
    t->budget_at = now;
    if (t->budget_ns >= t->spin_ns) {
      int64_t end = now + t->spin_ns, at = now;
      while ((n = epoll_wait(t->ep, ev, IO_THREAD_SLOTS + 1, 0)) == 0 && (at = now_ns()) < end) sched_yield();
      t->budget_ns -= at - now;
      if (n != 0) return n;
    }
  }
  return epoll_wait(t->ep, ev, IO_THREAD_SLOTS + 1, -1);
}

static void *run(void *arg) {
  io_thread_t *t = arg;
  struct epoll_event ev[IO_THREAD_SLOTS + 1];
  if (!wait_handed(t)) return NULL; /* one from before a restart */
  t->budget_ns = IO_THREAD_SPIN_BURST_NS;
  t->budget_at = now_ns();
  int did_work = 0;
  for (;;) {
    int n = wait_events(t, ev, did_work);
    if (n < 0 && errno != EINTR) break; /* EBADF, EINVAL: a bug, not load */
    did_work = 0;
    for (int k = 0; k < n && !stopping(t); k++) {
      int i = (int)ev[k].data.u32;
      if (i == IO_THREAD_SLOTS) continue; /* the wake fd: stopping is checked below */
      did_work = 1;
      if (!t->slots[i].work(t->slots[i].ctx)) continue;
      pthread_mutex_lock(&t->mu);
      t->handed = 1;
      t->hand_seq++;
      t->pending = t->slots[i];
      pthread_mutex_unlock(&t->mu);
      uv_async_send(&t->async);
      if (!wait_handed(t)) break;
    }
    if (stopping(t)) break;
  }
  return NULL;
}

int io_thread_start(io_thread_t *t, const io_slot_t *slots, int nslots, unsigned spin_us) {
  if (t->started) return EBUSY;
  if (nslots < 1 || nslots > IO_THREAD_SLOTS) return EINVAL;
  t->spin_ns = (int64_t)spin_us * 1000;
  memcpy(t->slots, slots, (size_t)nslots * sizeof *slots);
  t->nslots = nslots;
  /* Level-triggered, like libuv's: what a work call leaves unread wakes the thread again. */
  t->ep = epoll_create1(EPOLL_CLOEXEC);
  if (t->ep < 0) return errno;
  for (int i = 0; i <= nslots; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i == nslots ? IO_THREAD_SLOTS : (uint32_t)i};
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, i == nslots ? t->wake_fd : slots[i].fd, &ev) < 0) {
      int err = errno;
      (void)close(t->ep);
      t->ep = -1;
      return err;
    }
  }
  pthread_mutex_lock(&t->mu);
  t->stopping = 0;
  pthread_mutex_unlock(&t->mu);
  uint64_t junk;
  while (read(t->wake_fd, &junk, sizeof junk) > 0) {
  }
  /* Signals stay with Node's main thread: the new thread starts with all of them blocked. A
   * small stack: the work runs on the engines' own buffers. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&t->tid, &attr, run, t);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (err) {
    (void)close(t->ep);
    t->ep = -1;
    return err;
  }
  (void)pthread_setname_np(t->tid, t->name);
  t->started = 1;
  uv_ref((uv_handle_t *)&t->async);
  return 0;
}

void io_thread_stop(io_thread_t *t) {
  if (!t->started) return;
  pthread_mutex_lock(&t->mu);
  __atomic_store_n(&t->stopping, 1, __ATOMIC_RELEASE);
  pthread_cond_signal(&t->cv);
  pthread_mutex_unlock(&t->mu);
  uint64_t one = 1;
  while (write(t->wake_fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
  (void)pthread_join(t->tid, NULL);
  (void)close(t->ep);
  t->ep = -1;
  t->started = 0;
  uv_unref((uv_handle_t *)&t->async);
}

void io_thread_cancel(io_thread_t *t, void *ctx) {
  pthread_mutex_lock(&t->mu);
  if (t->handed && (ctx == NULL || t->pending.ctx == ctx)) t->handed = 0;
  pthread_mutex_unlock(&t->mu);
}

void io_thread_close(io_thread_t *t, uv_close_cb cb) {
  t->closed = 1; /* a delivery running now (it closed us) must not touch mu afterwards */
  (void)close(t->wake_fd);
  t->wake_fd = -1;
  pthread_mutex_destroy(&t->mu);
  pthread_cond_destroy(&t->cv);
  uv_close((uv_handle_t *)&t->async, cb);
}
