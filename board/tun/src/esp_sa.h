/* ESP security associations in C: the per-packet half of firmware/esp/sa.ts (RFC 4303 tunnel
 * mode with the RFC 4106 / RFC 7634 AEADs), for the native fast path. Same framing, sequence
 * numbers, anti-replay window (RFC 6479-style ring, RFC 4303 Appendix A ESN inference), drop
 * reasons and counters as EspSa, which stays the reference: test/unit/esp/native*.test.ts checks
 * them against each other packet by packet.
 *
 * Keys are given once (esp_sa_init) and live only in OpenSSL's cipher context, which is created
 * once per SA: a packet costs one IV set, one AAD update, one update and the tag, no allocation.
 * No N-API and no I/O here. */
#ifndef OUTPOST_ESP_SA_H
#define OUTPOST_ESP_SA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define ESP_HEADER_BYTES 8
#define ESP_IV_BYTES 8
#define ESP_ICV_BYTES 16
#define ESP_PREFIX_BYTES (ESP_HEADER_BYTES + ESP_IV_BYTES)
#define ESP_MIN_BYTES (ESP_PREFIX_BYTES + 2 + ESP_ICV_BYTES)
#define ESP_MAX_BYTES 65535u
/* Bytes a packet grows by at most when sealed: prefix, 3 padding, pad length, next header, ICV. */
#define ESP_OVERHEAD_MAX (ESP_PREFIX_BYTES + 3 + 2 + ESP_ICV_BYTES)

#define ESP_NH_IPV4 4
#define ESP_NH_IPV6 41
#define ESP_NH_NONE 59

#define ESP_REPLAY_MIN 32u
#define ESP_REPLAY_MAX 65536u

typedef enum { ESP_ALG_AES128GCM = 1, ESP_ALG_AES192GCM, ESP_ALG_AES256GCM, ESP_ALG_CHACHA20POLY1305 } esp_alg_t;

/* Result of esp_sa_open: a packet or a dummy, else the drop reason (the SA counted it). The drop
 * values match the order of DROP_REASONS in firmware/esp/drops.ts plus the outbound errors. */
typedef enum {
  ESP_OPEN_PACKET = 0,
  ESP_OPEN_DUMMY = 1,
  ESP_DROP_REPLAY = 2,
  ESP_DROP_AUTH_FAILED = 3,
  ESP_DROP_MALFORMED = 4,
  ESP_DROP_BAD_PADDING = 5,
  ESP_DROP_UNKNOWN_SPI = 6,
} esp_open_result_t;

typedef enum { ESP_SEAL_OK = 0, ESP_SEAL_EXHAUSTED = 1, ESP_SEAL_TOO_BIG = 2, ESP_SEAL_CRYPTO = 3 } esp_seal_result_t;

/* Anti-replay window: a ring of 32-bit blocks, one spare, sized to a power of two. */
typedef struct {
  uint32_t size;     /* sequence numbers older than top - size + 1 are refused */
  uint32_t nblocks;  /* power of two */
  uint32_t bit_mask; /* nblocks * 32 - 1 */
  uint64_t top;      /* highest accepted, 0 before any */
  uint32_t *blocks;
} esp_replay_t;

int esp_replay_init(esp_replay_t *w, uint32_t size); /* 0, or EINVAL / ENOMEM */
void esp_replay_free(esp_replay_t *w);
/* High half of an ESN from its low half, relative to the window; -1 when it cannot be valid. */
int64_t esp_replay_infer_high(const esp_replay_t *w, uint32_t lo);
int esp_replay_check(const esp_replay_t *w, uint64_t seq);
void esp_replay_accept(esp_replay_t *w, uint64_t seq);

typedef struct {
  uint64_t packets_in, bytes_in, packets_out, bytes_out, dummy_in, dummy_out;
  /* drops counted by the SA, as EspSa's counters.drops */
  uint64_t replay, auth_failed, malformed, bad_padding, unknown_spi;
  /* outbound refusals (the data plane's per-child counters in the JavaScript path) */
  uint64_t too_big, seq_exhausted;
} esp_sa_counters_t;

typedef struct {
  uint32_t spi;
  int outbound;
  int esn;
  esp_alg_t alg;
  uint32_t max_packet;
  uint64_t soft_limit;
  int rekey_needed;
  /* outbound */
  uint64_t next_seq;
  int exhausted;
  /* inbound */
  esp_replay_t window;
  EVP_CIPHER_CTX *ctx;
  uint8_t nonce[12]; /* salt || IV */
  esp_sa_counters_t c;
} esp_sa_t;

typedef struct {
  uint32_t spi;
  int outbound;
  int esn;
  esp_alg_t alg;
  const uint8_t *key; /* cipher key followed by the 4-byte salt */
  size_t key_len;
  uint32_t replay_window;
  uint32_t max_packet;
  uint64_t soft_limit;
  uint64_t next_seq; /* outbound: first sequence number to send */
} esp_sa_params_t;

/* Key bytes (without the salt) for an algorithm, 0 when unknown. */
size_t esp_alg_key_bytes(esp_alg_t alg);

/* 0, or EINVAL (a parameter EspSa would refuse), ENOMEM, EIO (OpenSSL refused the key). The
 * caller checked what EspSa's constructor checks; this checks again and never trusts lengths. */
int esp_sa_init(esp_sa_t *sa, const esp_sa_params_t *p);
/* Frees the cipher context (OpenSSL cleanses the key schedule) and the window. */
void esp_sa_free(esp_sa_t *sa);

/* Total ESP packet size for an inner packet of `len` bytes. */
size_t esp_packet_bytes(size_t len);

/* Seals one inner packet into `out` (room for esp_packet_bytes(len)): SPI | seq | IV | ciphertext
 * | ICV. Same checks and sequence-number rules as EspSa.seal. nh is 4, 41 or 59. */
esp_seal_result_t esp_sa_seal(esp_sa_t *sa, const uint8_t *inner, size_t len, int nh, uint8_t *out, size_t out_cap,
                              size_t *out_len);

/* Opens one ESP packet in place. On ESP_OPEN_PACKET the inner packet is pkt[*inner_off ..
 * *inner_off + *inner_len) and *nh is 4 or 41. A failed ICV wipes what was decrypted. */
esp_open_result_t esp_sa_open(esp_sa_t *sa, uint8_t *pkt, size_t len, size_t *inner_off, size_t *inner_len, int *nh);

/* Outbound: the last sequence number sent; inbound: the highest accepted (0 before any). */
uint64_t esp_sa_last_seq(const esp_sa_t *sa);

#endif
