/* The floor for any userspace tunnel on this machine (test/bench/latency.bench.ts): a TUN device
 * relayed to a UDP peer and back, no crypto, no policy, epoll, one packet per system call, each
 * packet sent as soon as it is read. Usage: udp-relay TUNNAME LOCAL_IPV4 PEER_IPV4 PORT */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: udp-relay TUNNAME LOCAL_IPV4 PEER_IPV4 PORT\n"); return 2; }
  int tun = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
  struct ifreq ifr; memset(&ifr, 0, sizeof ifr); ifr.ifr_flags = IFF_TUN | IFF_NO_PI; strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (ioctl(tun, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); return 1; }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[4])) }, pa = la;
  inet_pton(AF_INET, argv[2], &la.sin_addr); inet_pton(AF_INET, argv[3], &pa.sin_addr);
  if (bind(s, (void *)&la, sizeof la) < 0) { perror("bind"); return 1; }
  int ep = epoll_create1(0); struct epoll_event ev = { .events = EPOLLIN, .data.fd = tun }; epoll_ctl(ep, EPOLL_CTL_ADD, tun, &ev); ev.data.fd = s; epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
  fprintf(stderr, "relay ready\n");
  static unsigned char buf[65536];
  for (;;) {
    struct epoll_event evs[2]; int n = epoll_wait(ep, evs, 2, -1);
    for (int i = 0; i < n; i++) {
      if (evs[i].data.fd == tun) { ssize_t r; while ((r = read(tun, buf, sizeof buf)) > 0) sendto(s, buf, r, 0, (void *)&pa, sizeof pa); }
      else { ssize_t r; while ((r = recv(s, buf, sizeof buf, 0)) > 0) (void)!write(tun, buf, r); }
    }
  }
}
