#ifndef OUTPOST_TUN_LEAD_H
#define OUTPOST_TUN_LEAD_H
/* A C-level hand-off between the two addons: the TUN device offers each batch it read to the ESP
 * engine's flow cache before calling JavaScript (esp_addon.c sealCached, addon.c setLead), so that
 * packets of known flows leave without entering V8 at all.
 *
 * The ESP addon makes one (EspEngine.tunLeadHook(), a JS External) and the TUN device copies it
 * (setLead) and holds a reference on the engine through retain/release: the engine's memory stays
 * valid for as long as a device may call take(); a closed engine takes nothing. */
#include <stddef.h>
#include <stdint.h>

#define TUN_LEAD_MAGIC 0x4f50544cu /* "OPTL": refuse an External of another kind or version */

typedef struct {
  uint32_t magic;
  /* Handles packets from..count-1 of a batch (packet i is slab[ends[i-1] .. ends[i]), the first
   * from 0) as far as it can, in order, and returns the index of the first one it left; sets
   * *news non-zero when JavaScript must look at the engine (esp.ts News bits). */
  uint32_t (*take)(void *ctx, const uint8_t *slab, size_t slab_len, const uint32_t *ends, uint32_t from, uint32_t count,
                   int *news);
  void (*retain)(void *ctx);
  void (*release)(void *ctx);
  void *ctx;
} tun_lead_t;

#endif
