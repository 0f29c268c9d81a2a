/* Linux TUN device operations, free of N-API so they stay small and readable.
 * Every function returns 0 on success or a positive errno; on failure *op names the step that
 * failed ("open", "TUNSETIFF", ...) so the JavaScript side can explain it to a technician. */
#ifndef OUTPOST_TUN_DEV_H
#define OUTPOST_TUN_DEV_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

/* Opens /dev/net/tun (non-blocking, close-on-exec) and attaches it to the layer-3 interface
 * `name` (IFF_TUN | IFF_NO_PI); an empty name lets the kernel choose ("tun%d"). The name the
 * kernel actually used is written to out_name. With `offload`, reads and writes carry a
 * virtio-net header (IFF_VNET_HDR) and the device takes TCP segmentation and checksums
 * (tun_gso.h); *out_offload says whether the kernel agreed (0: plain packets, as without). */
int tun_dev_open(const char *name, int offload, char out_name[IFNAMSIZ], int *out_fd, int *out_offload,
                 const char **op);

int tun_dev_get_mtu(const char *name, int *mtu, const char **op);
int tun_dev_set_mtu(const char *name, int mtu, const char **op);
/* Sets or clears IFF_UP, leaving the other interface flags as they are. */
int tun_dev_set_up(const char *name, int up, const char **op);

/* Reads the packets that are ready, up to max_pkts, packed one after another into slab.
 * ends[i] is the offset just past packet i. Stops at EAGAIN, at max_pkts, or when the space left
 * in the slab could not hold a largest possible packet (so a packet is never truncated).
 * Returns 0 with the packets read so far even when it stopped on EAGAIN; on another read error
 * returns that errno, and *count still says how many packets were read before it. */
int tun_dev_read_batch(int fd, uint8_t *slab, size_t slab_cap, uint32_t *ends, size_t max_pkts,
                       size_t *count, const char **op);

/* The same for a device opened with offload: each read goes to `scratch` (room for a virtio-net
 * header and TUN_MAX_PACKET) and is split into ordinary packets in the slab (tun_gso_split).
 * Reads stop once `enough` packets are in, or when the slab or ends (max_pkts) could not take
 * the largest split. Packets that cannot be split (malformed headers) are dropped and counted in
 * *dropped. */
int tun_dev_read_batch_vnet(int fd, uint8_t *scratch, uint8_t *slab, size_t slab_cap, uint32_t *ends,
                            size_t max_pkts, size_t enough, size_t *count, uint64_t *dropped, const char **op);

/* Writes one packet with an all-zero virtio-net header in front when `vnet`. Returns 0, or the
 * errno (EAGAIN/ENOBUFS when there is no room). */
int tun_dev_write(int fd, int vnet, const uint8_t *pkt, size_t len);

/* A TUN read never returns more than this: the largest MTU the tun driver accepts. */
#define TUN_MAX_PACKET 65535u

/* "EPERM" for EPERM, ...; "UNKNOWN" for a code not in the table. */
const char *tun_errno_name(int err);

#endif
