/* Linux TUN device operations (see tun_dev.h). No N-API here. */
#define _GNU_SOURCE
#include "tun_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tun_gso.h"

int tun_dev_open(const char *name, int offload, char out_name[IFNAMSIZ], int *out_fd, int *out_offload,
                 const char **op) {
  *out_offload = 0;
  /* Refuse rather than truncate: the kernel would silently use a different name. */
  if (strlen(name) >= IFNAMSIZ) {
    *op = "name";
    return EINVAL;
  }
  /* O_CLOEXEC: children we spawn (ip, ping, charon) must not inherit the fd, or the
   * interface would outlive close(). O_NONBLOCK: reads are driven by the event loop. */
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *op = "open";
    return errno;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI; /* layer 3, raw IP packets without a 4-byte prefix */
  if (offload) ifr.ifr_flags |= IFF_VNET_HDR;
  memcpy(ifr.ifr_name, name, strlen(name)); /* fits: checked above, rest stays zero */
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    *op = "TUNSETIFF";
    return err;
  }
  memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
  out_name[IFNAMSIZ - 1] = '\0';
  if (offload) {
    /* The header size first, then the offloads; without them the header stays (all zero on
     * writes, never GSO on reads), which is still correct. */
    int hdr = VNET_HDR_LEN;
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
      int err = errno;
      close(fd);
      *op = "TUNSETVNETHDRSZ";
      return err;
    }
    *out_offload = ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) == 0 ? 1 : 0;
  }
  *out_fd = fd;
  return 0;
}

/* Interface ioctls (MTU, flags) go through any socket of the current network namespace. */
static int ifreq_ioctl(const char *name, unsigned long req, struct ifreq *ifr) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
  ifr->ifr_name[IFNAMSIZ - 1] = '\0';
  int err = ioctl(s, req, ifr) < 0 ? errno : 0;
  close(s);
  return err;
}

int tun_dev_get_mtu(const char *name, int *mtu, const char **op) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  int err = ifreq_ioctl(name, SIOCGIFMTU, &ifr);
  if (err) {
    *op = "SIOCGIFMTU";
    return err;
  }
  *mtu = ifr.ifr_mtu;
  return 0;
}

int tun_dev_set_mtu(const char *name, int mtu, const char **op) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_mtu = mtu;
  int err = ifreq_ioctl(name, SIOCSIFMTU, &ifr);
  if (err) *op = "SIOCSIFMTU";
  return err;
}

int tun_dev_set_up(const char *name, int up, const char **op) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  int err = ifreq_ioctl(name, SIOCGIFFLAGS, &ifr);
  if (err) {
    *op = "SIOCGIFFLAGS";
    return err;
  }
  if (up) ifr.ifr_flags |= IFF_UP;
  else ifr.ifr_flags &= ~IFF_UP;
  err = ifreq_ioctl(name, SIOCSIFFLAGS, &ifr);
  if (err) *op = "SIOCSIFFLAGS";
  return err;
}

int tun_dev_read_batch(int fd, uint8_t *slab, size_t slab_cap, uint32_t *ends, size_t max_pkts,
                       size_t *count, const char **op) {
  size_t n = 0, used = 0;
  /* Each read returns exactly one packet; keep room for the largest one so none is cut. */
  while (n < max_pkts && slab_cap - used >= TUN_MAX_PACKET) {
    ssize_t got = read(fd, slab + used, slab_cap - used);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break; /* drained: wait for the next wake-up */
      *count = n;
      *op = "read";
      return errno;
    }
    if (got == 0) break; /* not expected from a TUN; treat as drained rather than spin */
    used += (size_t)got;
    ends[n++] = (uint32_t)used;
  }
  *count = n;
  return 0;
}

const char *tun_errno_name(int err) {
  switch (err) {
#define NAME(e) case e: return #e;
    NAME(EPERM) NAME(ENOENT) NAME(EINTR) NAME(EIO) NAME(ENXIO) NAME(EBADF) NAME(EAGAIN)
    NAME(ENOMEM) NAME(EACCES) NAME(EFAULT) NAME(EBUSY) NAME(EEXIST) NAME(ENODEV) NAME(EINVAL)
    NAME(ENFILE) NAME(EMFILE) NAME(ENOTTY) NAME(ENOSPC) NAME(ERANGE) NAME(ENAMETOOLONG)
    NAME(EBADFD) NAME(EMSGSIZE) NAME(EOPNOTSUPP) NAME(EADDRNOTAVAIL) NAME(ENETDOWN)
    NAME(ENOBUFS) NAME(EAFNOSUPPORT) NAME(EPROTONOSUPPORT)
#undef NAME
    default: return "UNKNOWN";
  }
}

int tun_dev_read_batch_vnet(int fd, uint8_t *scratch, uint8_t *slab, size_t slab_cap, uint32_t *ends,
                            size_t max_pkts, size_t enough, size_t *count, uint64_t *dropped, const char **op) {
  size_t n = 0, used = 0;
  while (n < enough && n + TUN_GSO_MAX_SEGS <= max_pkts && slab_cap - used >= TUN_GSO_SPLIT_ROOM) {
    ssize_t got = read(fd, scratch, VNET_HDR_LEN + TUN_MAX_PACKET);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      *count = n;
      *op = "read";
      return errno;
    }
    if (got == 0) break;
    if (got <= VNET_HDR_LEN) {
      (*dropped)++;
      continue;
    }
    vnet_hdr_t h;
    vnet_hdr_read(scratch, &h);
    size_t w = 0;
    int k = tun_gso_split(&h, scratch + VNET_HDR_LEN, (size_t)got - VNET_HDR_LEN, slab + used, slab_cap - used, ends + n,
                          max_pkts - n, &w);
    if (k <= 0) { /* -1 cannot happen: room was checked above */
      (*dropped)++;
      continue;
    }
    for (int i = 0; i < k; i++) ends[n + (size_t)i] += (uint32_t)used;
    n += (size_t)k;
    used += w;
  }
  *count = n;
  return 0;
}

int tun_dev_write(int fd, int vnet, const uint8_t *pkt, size_t len) {
  static const uint8_t zero[VNET_HDR_LEN];
  struct iovec iov[2] = {{(void *)zero, VNET_HDR_LEN}, {(void *)pkt, len}};
  for (;;) {
    ssize_t r = vnet ? writev(fd, iov, 2) : write(fd, pkt, len);
    if (r >= 0) return 0; /* a TUN write takes the whole packet or none */
    if (errno != EINTR) return errno;
  }
}
