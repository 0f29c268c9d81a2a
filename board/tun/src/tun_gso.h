/* TUN offloads in user space: with IFF_VNET_HDR every TUN read and write carries a virtio-net
 * header, and with TUNSETOFFLOAD(CSUM, TSO4, TSO6) the kernel forwards TCP in large GSO packets
 * (up to 64 KiB, one read) with checksums left to finish, and accepts them from us the same way.
 *
 *   reading:  tun_gso_split() turns one read (header + packet) into ordinary IP packets: a GSO
 *             packet is cut into MSS-sized TCP segments with their own lengths, IDs, sequence
 *             numbers, flags and checksums (what the kernel's TSO would have sent); a packet with
 *             a checksum left to finish gets it finished.
 *   writing:  tun_gro_* merges consecutive in-order full-sized segments of one TCP flow (all
 *             headers equal but length, ID, sequence number and checksums; checksums verified)
 *             into one GSO packet, as the kernel's GRO would, so forwarding and the receiving
 *             TCP handle one large packet instead of dozens.
 * Everything else passes through unchanged. No N-API, no I/O: pure functions over bytes. */
#ifndef OUTPOST_TUN_GSO_H
#define OUTPOST_TUN_GSO_H

#include <stddef.h>
#include <stdint.h>

/* struct virtio_net_hdr (legacy, host-endian fields): what TUNSETVNETHDRSZ 10 gives. */
#define VNET_HDR_LEN 10
#define VNET_F_NEEDS_CSUM 1
#define VNET_GSO_NONE 0
#define VNET_GSO_TCPV4 1
#define VNET_GSO_TCPV6 4
#define VNET_GSO_ECN 0x80

typedef struct {
  uint8_t flags, gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
} vnet_hdr_t;

void vnet_hdr_read(const uint8_t *b, vnet_hdr_t *h);
void vnet_hdr_write(uint8_t *b, const vnet_hdr_t *h);

/* At most this many segments come out of one GSO packet; a packet that would give more (an MSS
 * below about 500 bytes) is refused. */
#define TUN_GSO_MAX_SEGS 128
/* Room tun_gso_split needs for the largest input: the data plus a copy of the headers per segment. */
#define TUN_GSO_SPLIT_ROOM (65535 + TUN_GSO_MAX_SEGS * 120)

/* Splits one read (pkt[0..len) after its header h) into packets appended to out (room out_cap)
 * with their end offsets (relative to out) in ends (room max_pkts). Returns the number of
 * packets, 0 for a packet to drop (malformed or not splittable), -1 when out or ends lack room
 * (nothing written). *used gets the bytes written. */
int tun_gso_split(const vnet_hdr_t *h, const uint8_t *pkt, size_t len, uint8_t *out, size_t out_cap, uint32_t *ends,
                  size_t max_pkts, size_t *used);

/* The Internet checksum's 16-bit one's complement sum of b[0..len), added to sum (not folded). */
uint64_t inet_sum(const uint8_t *b, size_t len, uint64_t sum);
uint16_t inet_fold(uint64_t sum);

/* ---- merging for writes ------------------------------------------------------------------ */

/* Merges packets given in order; calls emit for each packet to write (a merged one carries a GSO
 * header, a lone one an all-zero header). The packets given to tun_gro_add must stay valid and
 * unchanged until the next flush; the first VNET_HDR_LEN bytes before each may be overwritten
 * (the caller leaves that room) so a lone packet is written without a copy. */
typedef void (*tun_gro_emit_fn)(void *ctx, const uint8_t *hdr_and_packet, size_t len, void *tag);

#define TUN_GRO_MAX_SEGS 64

typedef struct {
  tun_gro_emit_fn emit;
  void *ctx;
  /* the group being built: its segments, by pointer */
  const uint8_t *seg[TUN_GRO_MAX_SEGS];
  uint16_t seg_len[TUN_GRO_MAX_SEGS];
  void *tag; /* the first segment's (what the caller counts a write against) */
  int n;
  int version;
  size_t hlen, iphl, mss, total_payload;
  uint32_t next_seq;
  uint8_t *buf; /* VNET_HDR_LEN + 65535: where merged packets are built */
  uint64_t merged_packets, merged_segments; /* statistics */
} tun_gro_t;

/* buf: at least VNET_HDR_LEN + 65535 bytes, owned by the caller. */
void tun_gro_init(tun_gro_t *g, uint8_t *buf, tun_gro_emit_fn emit, void *ctx);
/* One packet (p[-VNET_HDR_LEN..-1] writable, see above). */
void tun_gro_add(tun_gro_t *g, uint8_t *p, size_t len, void *tag);
/* Writes out what is pending. Call at the end of each batch. */
void tun_gro_flush(tun_gro_t *g);

#endif
