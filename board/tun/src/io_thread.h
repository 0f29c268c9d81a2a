#ifndef OUTPOST_IO_THREAD_H
#define OUTPOST_IO_THREAD_H
/* A thread that waits (epoll) for the data plane's fds to become readable and handles them off
 * Node's event loop.
 *
 * Why: at idle, a packet that wakes Node's main thread pays for libuv's loop turn (its timers,
 * check and idle handles, a second epoll for loop metrics) before and after the work, and on a
 * small machine that time sits on the packet's path. One thread parked in epoll_wait on all the
 * tunnel's fds (the ESP sockets and the TUN device) pays only for the work, like a C relay would:
 * a packet written to the TUN whose answer comes straight back is read by the same thread, awake.
 *
 * Each slot is an fd with its handlers. work(ctx) runs on the thread when the fd is readable (or
 * in error) and returns 0 when it handled everything itself, or 1 to hand over to the main
 * thread: deliver(ctx) then runs there (from a uv_async), and the thread waits until deliver has
 * returned before it polls again. So buffers the thread filled are read by JavaScript in place,
 * and packets keep their order. A hand-off survives a stop: a restarted thread first waits for
 * it (cancel drops it, for a slot that goes away).
 *
 * Busy polling: after doing work the thread keeps polling for up to spin_us (start's argument; 0:
 * never), giving the CPU to anything else runnable between polls, before it blocks. An answer
 * that comes right back (a LAN host's reply to what was just written to the TUN, a TCP ACK) then
 * finds the thread awake instead of paying a wake-up. What it may cost is bounded: polling is
 * charged to a budget that fills at 1/IO_THREAD_SPIN_SHARE of the time (at most 5 % of a core)
 * and holds IO_THREAD_SPIN_BURST_NS at most; an empty budget means blocking at once. Idle, the
 * thread does not poll at all.
 *
 * Everything but work runs on the main thread: init once; set the slots and start, stop (which
 * joins the thread: never with a lock that a work function takes), as often as needed; close once
 * after the last stop. While stopped the uv handle does not keep the loop alive. */
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

#define IO_THREAD_SLOTS 3
#define IO_THREAD_SPIN_SHARE 20
#define IO_THREAD_SPIN_BURST_NS 5000000

typedef struct {
  int fd;
  void *ctx;
  int (*work)(void *ctx);
  void (*deliver)(void *ctx);
} io_slot_t;

typedef struct {
  const char *name; /* the thread's name in ps/top (at most 15 characters) */
  io_slot_t slots[IO_THREAD_SLOTS];
  int nslots;
  int wake_fd; /* an eventfd: written by stop */
  int ep;      /* the epoll set of a run: the slots' fds and wake_fd */
  pthread_t tid;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int handed;       /* a hand-off waits for the main thread (under mu) ... */
  io_slot_t pending; /* ... from this slot; it outlives a restart: the next run waits for it */
  unsigned hand_seq; /* counts hand-offs: a delivery clears only its own (under mu) */
  int closed;        /* io_thread_close was called (main thread) */
  int stopping;     /* under mu; read by the thread without it (atomic) */
  int64_t spin_ns, budget_ns, budget_at; /* busy polling (the thread's own) */
  uv_async_t async;
} io_thread_t;

/* 0 or a negative errno. */
int io_thread_init(io_thread_t *t, uv_loop_t *loop, const char *name);
/* Starts with these slots (copied), polling up to spin_us after work. 0 or a positive errno. */
int io_thread_start(io_thread_t *t, const io_slot_t *slots, int nslots, unsigned spin_us);
void io_thread_stop(io_thread_t *t);
/* Drops a hand-off not yet delivered, of the slot with this ctx (NULL: any). */
void io_thread_cancel(io_thread_t *t, void *ctx);
/* After the last stop; cb runs once the handle is closed, with h->data == t. */
void io_thread_close(io_thread_t *t, uv_close_cb cb);

#endif
