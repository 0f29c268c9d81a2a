#ifndef OUTPOST_FLOW_CACHE_H
#define OUTPOST_FLOW_CACHE_H
/* Decisions JavaScript made about a flow, remembered so that its next packets need no JavaScript.
 *
 * A flow is what firmware/gateway/ip-packet.ts parseFlow() extracts: IP version, addresses,
 * protocol and, for TCP/UDP/SCTP/UDP-Lite, the ports. The data plane's policy is a function of
 * that alone (the first CHILD_SA whose selectors match, newest first; the RFC 4301 5.2 check of a
 * decrypted packet against its SA's selectors), except for what the MTU guard does to single
 * packets: MSS clamping of TCP SYNs and answering packets bigger than the tunnel MTU. So a packet
 * may use a remembered decision only when flow_key_of() says it is plain: parsed, not a fragment,
 * not a TCP SYN, IPv6 with its transport header right after the fixed one; the caller adds the
 * size limit. Everything else still goes to JavaScript, which is also what fills the cache.
 *
 * The table is direct-mapped and fixed in size: a collision replaces the older entry, a flush
 * (whenever an SA is added or removed) is a generation bump. */
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t version, protocol;
  uint16_t src_port, dst_port;
  uint8_t src[16], dst[16]; /* IPv4 in the first four bytes, the rest zero */
} flow_key_t;

typedef struct {
  flow_key_t key;
  uint32_t tag; /* inbound: the SA the packet came through; outbound: 0 */
  uint32_t value;
  uint32_t gen;
} flow_entry_t;

typedef struct {
  flow_entry_t *entries; /* FLOW_CACHE_ENTRIES, allocated at the first put */
  uint32_t gen;
} flow_cache_t;

#define FLOW_CACHE_ENTRIES 2048

/* 1 and the key when the packet may use a remembered decision (see above), else 0. */
int flow_key_of(const uint8_t *p, size_t len, flow_key_t *key);

/* The remembered value, or 0 (nothing remembered: values are never 0). */
uint32_t flow_cache_get(const flow_cache_t *c, const flow_key_t *key, uint32_t tag);

/* Remembers value (non-zero) for key and tag; silently does nothing when out of memory. */
void flow_cache_put(flow_cache_t *c, const flow_key_t *key, uint32_t tag, uint32_t value);

void flow_cache_flush(flow_cache_t *c);
void flow_cache_free(flow_cache_t *c);

#endif
