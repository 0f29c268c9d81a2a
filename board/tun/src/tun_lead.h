#ifndef OUTPOST_TUN_LEAD_H
#define OUTPOST_TUN_LEAD_H
/* A C-level hand-off between the two addons: the TUN device offers each batch it read to the ESP
 * engine's flow cache before calling JavaScript (esp_addon.c sealCached, addon.c setLead), so that
 * packets of known flows leave without entering V8 at all.
 *
 * The ESP addon makes one (EspEngine.tunLeadHook(), a JS External) and the TUN device copies it
 * (setLead) and holds a reference on the engine through retain/release: the engine's memory stays
 * valid for as long as a device may call take(); a closed engine takes nothing. While both poll,
 * the device is read on the engine's I/O thread (join/leave), which also serves the sockets. */
#include <stddef.h>
#include <stdint.h>

#define TUN_LEAD_MAGIC 0x4f505432u /* "OPT2": refuse an External of another kind or version */

/* How the device is read on the engine's I/O thread (io_thread.h): work and deliver as there;
 * orphaned runs on the main thread when the engine stops reading, and the device then reads
 * from the event loop again. */
typedef struct {
  int fd;
  void *ctx;
  int (*work)(void *ctx);
  void (*deliver)(void *ctx);
  void (*orphaned)(void *ctx);
} tun_reader_t;

typedef struct {
  uint32_t magic;
  /* Handles packets from..count-1 of a batch (packet i is slab[ends[i-1] .. ends[i]), the first
   * from 0) as far as it can, in order, and returns the index of the first one it left; sets
   * *news non-zero when JavaScript must look at the engine (esp.ts News bits). */
  uint32_t (*take)(void *ctx, const uint8_t *slab, size_t slab_len, const uint32_t *ends, uint32_t from, uint32_t count,
                   int *news);
  /* The engine's I/O thread reads the device from now on (0), or cannot (an errno: the engine is
   * not receiving, or reads another device); leave undoes join (main thread, both). */
  int (*join)(void *ctx, const tun_reader_t *reader);
  void (*leave)(void *ctx, void *reader_ctx);
  void (*retain)(void *ctx);
  void (*release)(void *ctx);
  void *ctx;
} tun_lead_t;

#endif
