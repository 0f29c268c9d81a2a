/* ESP SAs in C (see esp_sa.h). Each function mirrors its counterpart in firmware/esp/ (sa.ts,
 * packet.ts, replay.ts) line for line where it can, so the two stay easy to compare. */
#include "esp_sa.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define U32_MAX 0xffffffffu

static inline void put_u32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)(v >> 24);
  b[1] = (uint8_t)(v >> 16);
  b[2] = (uint8_t)(v >> 8);
  b[3] = (uint8_t)v;
}

static inline uint32_t get_u32(const uint8_t *b) {
  return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* ---- anti-replay window (replay.ts) ------------------------------------------------------ */

int esp_replay_init(esp_replay_t *w, uint32_t size) {
  memset(w, 0, sizeof *w);
  if (size < ESP_REPLAY_MIN || size > ESP_REPLAY_MAX) return EINVAL;
  uint32_t n = 1;
  while (n < (size + 31) / 32 + 1) n *= 2;
  w->blocks = calloc(n, sizeof *w->blocks);
  if (w->blocks == NULL) return ENOMEM;
  w->size = size;
  w->nblocks = n;
  w->bit_mask = n * 32 - 1;
  return 0;
}

void esp_replay_free(esp_replay_t *w) {
  free(w->blocks);
  w->blocks = NULL;
}

int64_t esp_replay_infer_high(const esp_replay_t *w, uint32_t lo) {
  const int64_t th = (int64_t)(w->top >> 32), tl = (int64_t)(w->top & U32_MAX), ws = w->size;
  int64_t hi;
  if (tl >= ws - 1) hi = (int64_t)lo >= tl - ws + 1 ? th : th + 1; /* window within one subspace */
  else hi = (int64_t)lo >= tl - ws + 1 + 0x100000000LL ? th - 1 : th; /* window spans two subspaces */
  return hi < 0 || hi > (int64_t)U32_MAX ? -1 : hi;
}

int esp_replay_check(const esp_replay_t *w, uint64_t seq) {
  if (seq == 0) return 0;
  if (seq > w->top) return 1;
  if (w->top - seq >= w->size) return 0;
  uint32_t idx = (uint32_t)seq & w->bit_mask;
  return (w->blocks[idx >> 5] & (1u << (idx & 31))) == 0;
}

void esp_replay_accept(esp_replay_t *w, uint64_t seq) {
  if (!esp_replay_check(w, seq)) return;
  if (seq > w->top) {
    uint64_t rel = seq - w->top;
    uint32_t top_idx = (uint32_t)w->top & w->bit_mask;
    uint64_t steps;
    if (rel > w->bit_mask) steps = w->nblocks;
    else {
      steps = ((top_idx + rel) >> 5) - (top_idx >> 5);
      if (steps > w->nblocks) steps = w->nblocks;
    }
    if (steps >= w->nblocks) {
      memset(w->blocks, 0, (size_t)w->nblocks * sizeof *w->blocks);
    } else {
      uint32_t b = top_idx >> 5;
      for (uint64_t i = 0; i < steps; i++) {
        b = (b + 1) & (w->nblocks - 1);
        w->blocks[b] = 0;
      }
    }
    w->top = seq;
  }
  uint32_t idx = (uint32_t)seq & w->bit_mask;
  w->blocks[idx >> 5] |= 1u << (idx & 31);
}

/* ---- AEAD ------------------------------------------------------------------------------ */

size_t esp_alg_key_bytes(esp_alg_t alg) {
  switch (alg) {
    case ESP_ALG_AES128GCM: return 16;
    case ESP_ALG_AES192GCM: return 24;
    case ESP_ALG_AES256GCM: return 32;
    case ESP_ALG_CHACHA20POLY1305: return 32;
    default: return 0;
  }
}

static const EVP_CIPHER *alg_cipher(esp_alg_t alg) {
  switch (alg) {
    case ESP_ALG_AES128GCM: return EVP_aes_128_gcm();
    case ESP_ALG_AES192GCM: return EVP_aes_192_gcm();
    case ESP_ALG_AES256GCM: return EVP_aes_256_gcm();
    case ESP_ALG_CHACHA20POLY1305: return EVP_chacha20_poly1305();
    default: return NULL;
  }
}

/* One AEAD operation in place over buf[0..len): the IV is the only per-packet setup. On decrypt
 * `tag` is checked (returns 0 when it does not verify), on encrypt it is written. */
static int aead(esp_sa_t *sa, int enc, const uint8_t *iv, const uint8_t *aad, int aad_len, uint8_t *buf, int len,
                uint8_t *tag) {
  EVP_CIPHER_CTX *ctx = sa->ctx;
  int outl = 0, finl = 0;
  memcpy(sa->nonce + 4, iv, ESP_IV_BYTES);
  if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, sa->nonce, enc) != 1) return 0;
  if (EVP_CipherUpdate(ctx, NULL, &outl, aad, aad_len) != 1) return 0;
  if (len > 0 && EVP_CipherUpdate(ctx, buf, &outl, buf, len) != 1) return 0;
  if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, ESP_ICV_BYTES, tag) != 1) return 0;
  if (EVP_CipherFinal_ex(ctx, buf + outl, &finl) != 1) return 0; /* decrypt: the ICV did not verify */
  if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, ESP_ICV_BYTES, tag) != 1) return 0;
  return 1;
}

/* ---- SA ---------------------------------------------------------------------------------- */

int esp_sa_init(esp_sa_t *sa, const esp_sa_params_t *p) {
  memset(sa, 0, sizeof *sa);
  const EVP_CIPHER *cipher = alg_cipher(p->alg);
  size_t kb = esp_alg_key_bytes(p->alg);
  uint64_t hard = p->esn ? UINT64_MAX : U32_MAX;
  if (cipher == NULL || p->key_len != kb + 4 || p->spi < 256 || p->max_packet < ESP_MIN_BYTES ||
      p->max_packet > ESP_MAX_BYTES || p->soft_limit < 1 || p->soft_limit > hard)
    return EINVAL;
  if (p->outbound && (p->next_seq < 1 || p->next_seq > hard)) return EINVAL;
  sa->spi = p->spi;
  sa->outbound = p->outbound;
  sa->esn = p->esn;
  sa->alg = p->alg;
  sa->max_packet = p->max_packet;
  sa->soft_limit = p->soft_limit;
  if (p->outbound) {
    sa->next_seq = p->next_seq;
    sa->rekey_needed = p->next_seq - 1 >= p->soft_limit;
  } else {
    int err = esp_replay_init(&sa->window, p->replay_window);
    if (err) return err;
  }
  memcpy(sa->nonce, p->key + kb, 4);
  sa->ctx = EVP_CIPHER_CTX_new();
  int enc = p->outbound ? 1 : 0;
  if (sa->ctx == NULL || EVP_CipherInit_ex(sa->ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(sa->ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) != 1 ||
      EVP_CipherInit_ex(sa->ctx, NULL, NULL, p->key, NULL, enc) != 1) {
    esp_sa_free(sa);
    return EIO;
  }
  return 0;
}

void esp_sa_free(esp_sa_t *sa) {
  if (sa->ctx) EVP_CIPHER_CTX_free(sa->ctx);
  sa->ctx = NULL;
  esp_replay_free(&sa->window);
  OPENSSL_cleanse(sa->nonce, sizeof sa->nonce);
}

static inline size_t pad_length_for(size_t payload) { return (4 - ((payload + 2) & 3)) & 3; }

size_t esp_packet_bytes(size_t len) { return ESP_PREFIX_BYTES + len + pad_length_for(len) + 2 + ESP_ICV_BYTES; }

static inline int reached(uint64_t seq, uint64_t soft) { return seq >= soft; }

esp_seal_result_t esp_sa_seal(esp_sa_t *sa, const uint8_t *inner, size_t len, int nh, uint8_t *out, size_t out_cap,
                              size_t *out_len) {
  if (!sa->outbound || (nh != ESP_NH_IPV4 && nh != ESP_NH_IPV6 && nh != ESP_NH_NONE)) return ESP_SEAL_CRYPTO;
  if (sa->exhausted) {
    sa->c.seq_exhausted++;
    return ESP_SEAL_EXHAUSTED;
  }
  size_t total = esp_packet_bytes(len);
  if (total > sa->max_packet) {
    sa->c.too_big++;
    return ESP_SEAL_TOO_BIG;
  }
  if (total > out_cap) return ESP_SEAL_CRYPTO; /* the caller's buffer: never written past */

  uint64_t seq = sa->next_seq;
  if ((!sa->esn && seq == U32_MAX) || seq == UINT64_MAX) sa->exhausted = 1; /* that was the last one */
  else sa->next_seq = seq + 1;
  if (!sa->rekey_needed && reached(seq, sa->soft_limit)) sa->rekey_needed = 1;

  uint32_t hi = (uint32_t)(seq >> 32), lo = (uint32_t)seq;
  put_u32(out, sa->spi);
  put_u32(out + 4, lo);
  put_u32(out + 8, hi);
  put_u32(out + 12, lo);
  uint8_t *pt = out + ESP_PREFIX_BYTES;
  memmove(pt, inner, len);
  size_t pad = pad_length_for(len), o = len;
  for (size_t i = 1; i <= pad; i++) pt[o++] = (uint8_t)i;
  pt[o++] = (uint8_t)pad;
  pt[o++] = (uint8_t)nh;

  uint8_t aad[12];
  int aad_len = sa->esn ? 12 : 8;
  put_u32(aad, sa->spi);
  if (sa->esn) {
    put_u32(aad + 4, hi);
    put_u32(aad + 8, lo);
  } else {
    put_u32(aad + 4, lo);
  }
  if (!aead(sa, 1, out + 8, aad, aad_len, pt, (int)o, pt + o)) return ESP_SEAL_CRYPTO;
  *out_len = ESP_PREFIX_BYTES + o + ESP_ICV_BYTES;

  if (nh == ESP_NH_NONE) sa->c.dummy_out++;
  else {
    sa->c.packets_out++;
    sa->c.bytes_out += len;
  }
  return ESP_SEAL_OK;
}

/* The tunnel-mode inner packet: the IP version must match the next header, and TFC padding after
 * the datagram is cut off by the IP length field. Returns its length, or 0 when malformed. */
static size_t inner_length(const uint8_t *p, size_t n, int nh) {
  if (nh == ESP_NH_IPV4) {
    if (n < 20 || p[0] >> 4 != 4) return 0;
    size_t total = ((size_t)p[2] << 8) | p[3], ihl = p[0] & 0x0f;
    if (total < ihl * 4 || ihl < 5 || total > n) return 0;
    return total;
  }
  if (nh == ESP_NH_IPV6) {
    if (n < 40 || p[0] >> 4 != 6) return 0;
    size_t total = 40 + (((size_t)p[4] << 8) | p[5]);
    if (total > n) return 0;
    return total;
  }
  return 0;
}

esp_open_result_t esp_sa_open(esp_sa_t *sa, uint8_t *pkt, size_t n, size_t *inner_off, size_t *inner_len, int *nh) {
  if (sa->outbound) return ESP_DROP_MALFORMED;
  if (n < ESP_MIN_BYTES || n > sa->max_packet) {
    sa->c.malformed++;
    return ESP_DROP_MALFORMED;
  }
  if (get_u32(pkt) != sa->spi) { /* the engine looked it up by SPI: only direct callers get here */
    sa->c.unknown_spi++;
    return ESP_DROP_UNKNOWN_SPI;
  }

  uint32_t lo = get_u32(pkt + 4);
  int64_t hi = sa->esn ? esp_replay_infer_high(&sa->window, lo) : 0;
  uint64_t seq = ((uint64_t)hi << 32) | lo;
  if (hi < 0 || !esp_replay_check(&sa->window, seq)) {
    sa->c.replay++;
    return ESP_DROP_REPLAY;
  }

  uint8_t aad[12], tag[ESP_ICV_BYTES];
  int aad_len = sa->esn ? 12 : 8;
  put_u32(aad, sa->spi);
  if (sa->esn) {
    put_u32(aad + 4, (uint32_t)hi);
    put_u32(aad + 8, lo);
  } else {
    put_u32(aad + 4, lo);
  }
  uint8_t *ct = pkt + ESP_PREFIX_BYTES;
  size_t ct_len = n - ESP_PREFIX_BYTES - ESP_ICV_BYTES;
  memcpy(tag, ct + ct_len, ESP_ICV_BYTES);
  if (!aead(sa, 0, pkt + 8, aad, aad_len, ct, (int)ct_len, tag)) {
    OPENSSL_cleanse(ct, ct_len); /* unauthenticated plaintext never leaves */
    sa->c.auth_failed++;
    return ESP_DROP_AUTH_FAILED;
  }
  /* The trailer: pad length must fit and the padding be 1, 2, 3, ... (RFC 4303 2.4). */
  size_t pad = ct[ct_len - 2];
  int next = ct[ct_len - 1];
  int trailer_ok = ct_len >= 2 + pad;
  size_t payload = trailer_ok ? ct_len - 2 - pad : 0;
  for (size_t i = 0; trailer_ok && i < pad; i++)
    if (ct[payload + i] != i + 1) trailer_ok = 0;
  /* Bad padding under a valid ICV came from the peer: its sequence number is used up. */
  esp_replay_accept(&sa->window, seq);
  if (!sa->rekey_needed && reached(seq, sa->soft_limit)) sa->rekey_needed = 1;
  if (!trailer_ok) {
    sa->c.bad_padding++;
    return ESP_DROP_BAD_PADDING;
  }
  if (next == ESP_NH_NONE) {
    sa->c.dummy_in++;
    return ESP_OPEN_DUMMY;
  }
  size_t len = inner_length(ct, payload, next);
  if (len == 0) {
    sa->c.malformed++;
    return ESP_DROP_MALFORMED;
  }
  sa->c.packets_in++;
  sa->c.bytes_in += len;
  *inner_off = ESP_PREFIX_BYTES;
  *inner_len = len;
  *nh = next;
  return ESP_OPEN_PACKET;
}

uint64_t esp_sa_last_seq(const esp_sa_t *sa) {
  if (!sa->outbound) return sa->window.top;
  return sa->exhausted ? sa->next_seq : sa->next_seq - 1;
}
