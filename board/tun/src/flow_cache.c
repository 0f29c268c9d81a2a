/* The flow cache of the native data plane (flow_cache.h). */
#include "flow_cache.h"

#include <stdlib.h>
#include <string.h>

#define TCP 6
#define UDP 17
#define ICMPV6 58
#define SCTP 132
#define UDPLITE 136
#define TCP_SYN 0x02

/* Protocols whose first four bytes are the ports (ip-packet.ts PORTS). */
static int has_ports(uint8_t proto) { return proto == TCP || proto == UDP || proto == SCTP || proto == UDPLITE; }

int flow_key_of(const uint8_t *p, size_t len, flow_key_t *k) {
  memset(k, 0, sizeof *k);
  if (len < 1) return 0;
  size_t l4;
  if (p[0] >> 4 == 4) {
    if (len < 20) return 0;
    l4 = (size_t)(p[0] & 0x0f) * 4;
    if (l4 < 20 || len < l4) return 0;
    if ((p[6] & 0x3f) != 0 || p[7] != 0) return 0; /* a fragment (MF or an offset) */
    k->version = 4;
    k->protocol = p[9];
    memcpy(k->src, p + 12, 4);
    memcpy(k->dst, p + 16, 4);
  } else if (p[0] >> 4 == 6) {
    if (len < 40) return 0;
    l4 = 40;
    k->version = 6;
    k->protocol = p[6];
    /* Extension headers are not walked here nor by the MSS clamp: leave such packets to JS. */
    if (!has_ports(k->protocol) && k->protocol != ICMPV6) return 0;
    memcpy(k->src, p + 8, 16);
    memcpy(k->dst, p + 24, 16);
  } else {
    return 0;
  }
  if (has_ports(k->protocol) && len >= l4 + 4) {
    k->src_port = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
    k->dst_port = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
  }
  /* A SYN or SYN-ACK may have its MSS clamped; a TCP packet too short to tell is left to JS too. */
  if (k->protocol == TCP && (len < l4 + 14 || (p[l4 + 13] & TCP_SYN))) return 0;
  return 1;
}

static uint32_t slot_for(const flow_key_t *k, uint32_t tag) {
  /* FNV-1a over the key's bytes and the tag. */
  const uint8_t *b = (const uint8_t *)k;
  uint32_t h = 2166136261u ^ tag;
  for (size_t i = 0; i < sizeof *k; i++) h = (h ^ b[i]) * 16777619u;
  return (h ^ (h >> 15)) & (FLOW_CACHE_ENTRIES - 1);
}

uint32_t flow_cache_get(const flow_cache_t *c, const flow_key_t *k, uint32_t tag) {
  if (c->entries == NULL) return 0;
  const flow_entry_t *e = &c->entries[slot_for(k, tag)];
  if (e->gen != c->gen || e->tag != tag || memcmp(&e->key, k, sizeof *k) != 0) return 0;
  return e->value;
}

void flow_cache_put(flow_cache_t *c, const flow_key_t *k, uint32_t tag, uint32_t value) {
  if (value == 0) return;
  if (c->entries == NULL) {
    c->entries = calloc(FLOW_CACHE_ENTRIES, sizeof *c->entries);
    if (c->entries == NULL) return;
    c->gen = 1; /* calloc'd entries have generation 0: never current */
  }
  flow_entry_t *e = &c->entries[slot_for(k, tag)];
  e->key = *k;
  e->tag = tag;
  e->value = value;
  e->gen = c->gen;
}

void flow_cache_flush(flow_cache_t *c) {
  if (c->entries == NULL) return;
  if (++c->gen == 0) { /* wrapped: entries of generation 0 could look current again */
    memset(c->entries, 0, FLOW_CACHE_ENTRIES * sizeof *c->entries);
    c->gen = 1;
  }
}

void flow_cache_free(flow_cache_t *c) {
  free(c->entries);
  c->entries = NULL;
}
