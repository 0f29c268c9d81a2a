/* Linux TUN device operations (see tun_dev.h). No N-API here. */
#define _GNU_SOURCE
#include "tun_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int tun_dev_open(const char *name, char out_name[IFNAMSIZ], int *out_fd, const char **op) {
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
  memcpy(ifr.ifr_name, name, strlen(name)); /* fits: checked above, rest stays zero */
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    *op = "TUNSETIFF";
    return err;
  }
  memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
  out_name[IFNAMSIZ - 1] = '\0';
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
