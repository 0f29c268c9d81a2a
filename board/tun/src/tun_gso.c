/* TUN offloads in user space (see tun_gso.h). The rules follow the kernel's own TCP segmentation
 * (tcp_gso_segment) and merging (tcp_gro_receive), simplified to what a tunnel sees. */
#include "tun_gso.h"

#include <string.h>

static inline uint16_t get16(const uint8_t *b) { return (uint16_t)((b[0] << 8) | b[1]); }
static inline uint32_t get32(const uint8_t *b) {
  return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}
static inline void put16(uint8_t *b, uint16_t v) {
  b[0] = (uint8_t)(v >> 8);
  b[1] = (uint8_t)v;
}
static inline void put32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)(v >> 24);
  b[1] = (uint8_t)(v >> 16);
  b[2] = (uint8_t)(v >> 8);
  b[3] = (uint8_t)v;
}

void vnet_hdr_read(const uint8_t *b, vnet_hdr_t *h) {
  h->flags = b[0];
  h->gso_type = b[1];
  memcpy(&h->hdr_len, b + 2, 2);
  memcpy(&h->gso_size, b + 4, 2);
  memcpy(&h->csum_start, b + 6, 2);
  memcpy(&h->csum_offset, b + 8, 2);
}

void vnet_hdr_write(uint8_t *b, const vnet_hdr_t *h) {
  b[0] = h->flags;
  b[1] = h->gso_type;
  memcpy(b + 2, &h->hdr_len, 2);
  memcpy(b + 4, &h->gso_size, 2);
  memcpy(b + 6, &h->csum_start, 2);
  memcpy(b + 8, &h->csum_offset, 2);
}

/* ---- checksums --------------------------------------------------------------------------- */

/* Sums 32-bit native words (one's complement sums are byte-order independent up to a final swap),
 * then returns the sum as if of big-endian 16-bit words. */
uint64_t inet_sum(const uint8_t *b, size_t len, uint64_t sum) {
  uint64_t s = 0;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint32_t a, c;
    memcpy(&a, b + i, 4);
    memcpy(&c, b + i + 4, 4);
    s += (uint64_t)a + c;
  }
  for (; i + 2 <= len; i += 2) {
    uint16_t a;
    memcpy(&a, b + i, 2);
    s += a;
  }
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  uint16_t r = (uint16_t)s;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  r = (uint16_t)((r >> 8) | (r << 8));
#endif
  if (i < len) sum += (uint32_t)b[i] << 8; /* an odd last byte is the high half of a word */
  return sum + r;
}

uint16_t inet_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

/* The TCP pseudo-header sum (addresses, protocol, length) of an IPv4 or IPv6 packet. */
static uint64_t pseudo_sum(const uint8_t *ip, int version, size_t tcp_len) {
  uint64_t s = version == 4 ? inet_sum(ip + 12, 8, 0) : inet_sum(ip + 8, 32, 0);
  return s + 6 + tcp_len;
}

static void ipv4_header_checksum(uint8_t *ip, size_t ihl) {
  ip[10] = ip[11] = 0;
  put16(ip + 10, (uint16_t)~inet_fold(inet_sum(ip, ihl, 0)));
}

/* ---- reading: splitting ------------------------------------------------------------------ */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

/* IP and TCP header lengths of a TCP packet of `version`, or 0 when it is not one we can cut. */
static size_t tcp_headers(const uint8_t *p, size_t len, int version, size_t *iphl) {
  if (len < 1 || p[0] >> 4 != version) return 0;
  if (version == 4) {
    if (len < 20) return 0;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20 || p[9] != 6 || (get16(p + 6) & 0x3fff) != 0) return 0; /* TCP, not a fragment */
    *iphl = ihl;
  } else {
    if (len < 40 || p[6] != 6) return 0; /* TCP right after the fixed header */
    *iphl = 40;
  }
  if (len < *iphl + 20) return 0;
  size_t thl = (size_t)(p[*iphl + 12] >> 4) * 4;
  if (thl < 20 || *iphl + thl > len) return 0;
  return *iphl + thl;
}

int tun_gso_split(const vnet_hdr_t *h, const uint8_t *pkt, size_t len, uint8_t *out, size_t out_cap, uint32_t *ends,
                  size_t max_pkts, size_t *used) {
  *used = 0;
  uint8_t gt = h->gso_type & (uint8_t)~VNET_GSO_ECN;
  if (gt == VNET_GSO_NONE) {
    if (max_pkts < 1 || out_cap < len) return -1;
    memcpy(out, pkt, len);
    if (h->flags & VNET_F_NEEDS_CSUM) {
      /* The field holds the pseudo-header sum; the sum from csum_start on completes it. */
      size_t cs = h->csum_start, co = h->csum_offset;
      if (cs + co + 2 > len) return 0;
      uint16_t c = (uint16_t)~inet_fold(inet_sum(out + cs, len - cs, 0));
      if (c == 0 && co == 6) c = 0xffff; /* UDP: zero would mean "no checksum" */
      put16(out + cs + co, c);
    }
    ends[0] = (uint32_t)len;
    *used = len;
    return 1;
  }
  int version = gt == VNET_GSO_TCPV4 ? 4 : gt == VNET_GSO_TCPV6 ? 6 : 0;
  size_t iphl = 0, hlen = version ? tcp_headers(pkt, len, version, &iphl) : 0;
  size_t mss = h->gso_size;
  if (hlen == 0 || mss == 0) return 0;
  size_t payload = len - hlen;
  size_t nsegs = payload == 0 ? 1 : (payload + mss - 1) / mss;
  if (nsegs > TUN_GSO_MAX_SEGS) return 0;
  if (nsegs > max_pkts || nsegs * hlen + payload > out_cap) return -1;

  const uint8_t *tcp = pkt + iphl;
  uint32_t seq = get32(tcp + 4);
  uint8_t flags = tcp[13];
  uint16_t id = version == 4 ? get16(pkt + 4) : 0;
  size_t o = 0;
  for (size_t k = 0; k < nsegs; k++) {
    size_t plen = payload - k * mss < mss ? payload - k * mss : mss;
    uint8_t *s = out + o;
    memcpy(s, pkt, hlen);
    memcpy(s + hlen, pkt + hlen + k * mss, plen);
    size_t seglen = hlen + plen;
    if (version == 4) {
      put16(s + 2, (uint16_t)seglen);
      put16(s + 4, (uint16_t)(id + k));
      ipv4_header_checksum(s, iphl);
    } else {
      put16(s + 4, (uint16_t)(seglen - 40));
    }
    uint8_t *t = s + iphl;
    put32(t + 4, seq + (uint32_t)(k * mss));
    uint8_t f = flags;
    if (k > 0) f &= (uint8_t)~TCP_CWR;
    if (k + 1 < nsegs) f &= (uint8_t)~(TCP_FIN | TCP_PSH);
    t[13] = f;
    t[16] = t[17] = 0;
    size_t tcp_len = seglen - iphl;
    put16(t + 16, (uint16_t)~inet_fold(inet_sum(t, tcp_len, pseudo_sum(s, version, tcp_len))));
    o += seglen;
    ends[k] = (uint32_t)o;
  }
  *used = o;
  return (int)nsegs;
}

/* ---- writing: merging -------------------------------------------------------------------- */

void tun_gro_init(tun_gro_t *g, uint8_t *buf, tun_gro_emit_fn emit, void *ctx) {
  memset(g, 0, sizeof *g);
  g->buf = buf;
  g->emit = emit;
  g->ctx = ctx;
}

static void emit_single(tun_gro_t *g, const uint8_t *p, size_t len, void *tag) {
  uint8_t *hdr = (uint8_t *)p - VNET_HDR_LEN;
  memset(hdr, 0, VNET_HDR_LEN);
  g->emit(g->ctx, hdr, len + VNET_HDR_LEN, tag);
}

void tun_gro_flush(tun_gro_t *g) {
  if (g->n == 0) return;
  if (g->n == 1) {
    emit_single(g, g->seg[0], g->seg_len[0], g->tag);
    g->n = 0;
    return;
  }
  uint8_t *b = g->buf, *ip = b + VNET_HDR_LEN;
  const uint8_t *first = g->seg[0], *last = g->seg[g->n - 1];
  size_t hlen = g->hlen, iphl = g->iphl, total = hlen + g->total_payload;
  memcpy(ip, first, hlen);
  size_t o = hlen;
  for (int i = 0; i < g->n; i++) {
    size_t pl = g->seg_len[i] - hlen;
    memcpy(ip + o, g->seg[i] + hlen, pl);
    o += pl;
  }
  if (g->version == 4) {
    put16(ip + 2, (uint16_t)total);
    ipv4_header_checksum(ip, iphl);
  } else {
    put16(ip + 4, (uint16_t)(total - 40));
  }
  uint8_t *t = ip + iphl;
  t[13] = last[iphl + 13]; /* a PSH on the last segment carries over */
  /* Left for the kernel to finish (NEEDS_CSUM): the pseudo-header sum, not complemented. */
  put16(t + 16, inet_fold(pseudo_sum(ip, g->version, total - iphl)));
  vnet_hdr_t h = {
      .flags = VNET_F_NEEDS_CSUM, .gso_type = g->version == 4 ? VNET_GSO_TCPV4 : VNET_GSO_TCPV6,
      .hdr_len = (uint16_t)hlen, .gso_size = (uint16_t)g->mss, .csum_start = (uint16_t)iphl, .csum_offset = 16,
  };
  vnet_hdr_write(b, &h);
  g->merged_packets++;
  g->merged_segments += (uint64_t)g->n;
  g->emit(g->ctx, b, VNET_HDR_LEN + total, g->tag);
  g->n = 0;
}

/* A segment that may be merged: plain IPv4 (no options) or IPv6 without extension headers, TCP
 * with payload, only ACK (and PSH), lengths consistent, checksum good. Returns its header length. */
static size_t mergeable(const uint8_t *p, size_t len, int *version, size_t *iphl) {
  if (len < 1) return 0;
  int v = p[0] >> 4;
  size_t hlen = (v == 4 || v == 6) ? tcp_headers(p, len, v, iphl) : 0;
  if (hlen == 0 || hlen >= len) return 0;
  if (v == 4 ? (*iphl != 20 || get16(p + 2) != len) : (size_t)get16(p + 4) + 40 != len) return 0;
  uint8_t f = p[*iphl + 13];
  if ((f & ~TCP_PSH) != TCP_ACK) return 0;
  if (inet_fold(inet_sum(p + *iphl, len - *iphl, pseudo_sum(p, v, len - *iphl))) != 0xffff) return 0;
  *version = v;
  return hlen;
}

/* Headers equal except what differs between segments: IPv4 length, ID, checksum; IPv6 payload
 * length; TCP sequence number, PSH and checksum. */
static int same_flow(const uint8_t *a, const uint8_t *b, int version, size_t iphl, size_t hlen) {
  if (version == 4) {
    if (memcmp(a, b, 2) || memcmp(a + 6, b + 6, 4) || memcmp(a + 12, b + 12, 8)) return 0;
  } else {
    if (memcmp(a, b, 4) || memcmp(a + 6, b + 6, 34)) return 0;
  }
  const uint8_t *ta = a + iphl, *tb = b + iphl;
  return !memcmp(ta, tb, 4) && !memcmp(ta + 8, tb + 8, 5) && !memcmp(ta + 14, tb + 14, 2) &&
         !memcmp(ta + 18, tb + 18, hlen - iphl - 18);
}

void tun_gro_add(tun_gro_t *g, uint8_t *p, size_t len, void *tag) {
  int version = 0;
  size_t iphl = 0, hlen = mergeable(p, len, &version, &iphl);
  if (hlen == 0) {
    tun_gro_flush(g);
    emit_single(g, p, len, tag);
    return;
  }
  size_t pl = len - hlen;
  if (g->n > 0) {
    const uint8_t *prev = g->seg[g->n - 1];
    int fits = g->version == version && g->hlen == hlen && g->n < TUN_GRO_MAX_SEGS &&
               (size_t)(g->seg_len[g->n - 1] - hlen) == g->mss && /* every segment but the last is full */
               !(prev[iphl + 13] & TCP_PSH) && pl <= g->mss && get32(p + iphl + 4) == g->next_seq &&
               hlen + g->total_payload + pl <= 65535 && same_flow(g->seg[0], p, version, iphl, hlen);
    if (fits) {
      g->seg[g->n] = p;
      g->seg_len[g->n] = (uint16_t)len;
      g->n++;
      g->total_payload += pl;
      g->next_seq += (uint32_t)pl;
      return;
    }
    tun_gro_flush(g);
  }
  g->seg[0] = p;
  g->seg_len[0] = (uint16_t)len;
  g->n = 1;
  g->tag = tag;
  g->version = version;
  g->hlen = hlen;
  g->iphl = iphl;
  g->mss = pl;
  g->total_payload = pl;
  g->next_seq = get32(p + iphl + 4) + (uint32_t)pl;
}
