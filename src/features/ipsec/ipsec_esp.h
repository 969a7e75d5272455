/*
 * ipsec_esp.h: an ESP engine (RFC 4303) for one SA, on OpenSSL 3 EVP.
 *
 * An engine is made from a struct ipsec_sa (ipsec_sa.h) and works in the
 * SA's direction only: an outbound SA encapsulates (encap), an inbound SA
 * decapsulates (decap).  The SA's SEQ_OUT.next (outbound) and REPLAY
 * (inbound) are the starting point; ipsec_esp_export() writes the live
 * state back into a struct ipsec_sa for a snapshot.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ---
 * |               Security Parameters Index (SPI)                 |  ^
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  | AAD (AEAD)
 * |      Sequence Number (low 32 bits; ESN: the high 32 implicit) |  v
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ---
 * |              IV (0, 8 or 16 octets, per algorithm)            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ---
 * ~                    Payload (variable)                         ~  ^
 * +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  | encrypted
 * |               |     Padding 1, 2, 3, ... (RFC 4303 2.4)       |  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  |
 * |                               |  Pad Length   | Next Header   |  v
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ ---
 * ~         ICV (AEAD tag or truncated HMAC, per algorithm)       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Algorithms: every ENCR/INTEG pair of ipsec_alg.h that ipsec_sa_verify()
 * accepts: AES-GCM (ICV 8, 12, 16; RFC 4106), ChaCha20-Poly1305 (RFC 7634),
 * AES-CBC (RFC 3602) and 3DES-CBC (RFC 2451) with a random-looking IV,
 * AES-CTR (RFC 3686), ENCR_NULL (RFC 2410), with HMAC-SHA1-96 (RFC 2404) or
 * HMAC-SHA2 (RFC 4868) where the cipher is not AEAD.  AH is refused
 * (CTP_E_UNSUPPORTED, status 0x83).
 *
 * IVs: AES-GCM, ChaCha20-Poly1305 and AES-CTR use the 64-bit sequence
 * number itself, as Linux's seqiv does: unique under one key because no
 * (SA, sequence number) pair is ever sent twice (PROFILE 5.1).  CBC needs
 * an unpredictable IV (RFC 3602 2.4); see ipsec_esp.c.
 *
 * Memory and time: each engine prepares its EVP contexts once (new); encap
 * and decap allocate nothing in this code.  The engine holds no key octets
 * of its own beyond OpenSSL's key schedules and the 4-octet salt; free
 * wipes both.  Not thread-safe: one engine, one thread.
 *
 * Buffers: packets are built through a struct ctp_wbuf and read through a
 * struct ctp_cur (ctp_cur.h).  Nothing is written to w when an error is
 * returned (w->len is as it was, the octets reserved meanwhile are wiped).
 */
#ifndef IPSEC_ESP_H
#define IPSEC_ESP_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_cur.h"
#include "ctp/ctp_err.h"
#include "features/ipsec/ipsec_sa.h"

#define IPSEC_ESP_HDR_LEN    8      /* SPI and sequence number */
#define IPSEC_ESP_IV_MAX     16
#define IPSEC_ESP_ICV_MAX    32
#define IPSEC_ESP_PACKET_MAX 65535  /* what one IP datagram can carry */
#define IPSEC_ESP_NH_NONE    59     /* RFC 4303 2.6: a dummy packet, discard */

struct ipsec_esp;

/* What an engine has done since it was made.  Outbound engines count
 * packets, bytes and exhausted; inbound ones everything else too. */
struct ipsec_esp_stats {
	uint64_t packets;     /* sent (out) or accepted (in) */
	uint64_t bytes;       /* payload octets of those packets */
	uint64_t auth_fail;   /* in: ICV mismatch (CTP_E_AUTH) */
	uint64_t replay;      /* in: duplicate or left of the window (CTP_E_STATE) */
	uint64_t malformed;   /* in: too short, misaligned, bad padding */
	uint64_t exhausted;   /* refused, sequence space used up (CTP_E_LIMIT) */
	uint64_t last_seq;    /* last number sent or accepted (64 bits); 0 none */
};

/* One decapsulated packet. */
struct ipsec_esp_rx {
	uint64_t seq;          /* the whole number, ESN high half inferred */
	uint8_t  next_header;  /* IPSEC_ESP_NH_NONE: a dummy packet (RFC 4303 2.6) */
	size_t   len;          /* payload octets appended to w */
};

/*
 * Make an engine for sa (direction 2 = out: encap; 1 = in: decap).  The SA
 * passes ipsec_sa_verify() first.  Returns 0, CTP_E_UNSUPPORTED (AH, or an
 * algorithm OpenSSL does not provide here: status 0x83), CTP_E_VALUE (the SA
 * is not valid: err from ipsec_sa_verify()), CTP_E_NOMEM or CTP_E_CRYPTO.
 * sa is only read; the engine keeps no pointer to it.
 */
int ipsec_esp_new(const struct ipsec_sa *sa, struct ipsec_esp **out, struct ctp_err *err);

/* Wipe and free; NULL is fine. */
void ipsec_esp_free(struct ipsec_esp *e);

uint32_t ipsec_esp_spi(const struct ipsec_esp *e);
int ipsec_esp_is_outbound(const struct ipsec_esp *e);

/* Octets of the packet that encap makes of len payload octets. */
size_t ipsec_esp_packet_len(const struct ipsec_esp *e, size_t len);

/*
 * Outbound: the number the next encap will use, and whether the sequence
 * space is used up (encap would refuse).  A caller that must record a
 * number before it goes out (the mem SAD's reservation) asks here first.
 */
uint64_t ipsec_esp_next_seq(const struct ipsec_esp *e);
int ipsec_esp_exhausted(const struct ipsec_esp *e);

/*
 * Outbound: declare the sequence space used up, for good (encap refuses,
 * export reports the end of the space).  For an SA whose numbers may have
 * been handed out beyond what the engine was made with, e.g. one restored
 * from a reservation that reached the end of the space.
 */
void ipsec_esp_retire(struct ipsec_esp *e);

/*
 * Encapsulate len payload octets with the given Next Header and append the
 * whole packet to w.  *seq (may be NULL) gets the number used.  Returns 0,
 * CTP_E_LIMIT (sequence space exhausted, RFC 4303 3.3.3: the counter never
 * wraps unless the SA allows overflow, and never at all where the IV is
 * the counter; or the packet would exceed IPSEC_ESP_PACKET_MAX),
 * CTP_E_NOSPACE (w too small: no number is used), CTP_E_INVAL (an inbound
 * engine) or CTP_E_CRYPTO.
 */
int ipsec_esp_encap(struct ipsec_esp *e, const uint8_t *payload, size_t len,
    uint8_t next_header, struct ctp_wbuf *w, uint64_t *seq);

/*
 * Known-answer tests only: encap with the explicit IV given (iv_len octets
 * of the algorithm) instead of the engine's own.  Never use it on a live
 * SA: the engine's IVs are what makes nonces unique.
 */
int ipsec_esp_encap_iv(struct ipsec_esp *e, const uint8_t *payload, size_t len,
    uint8_t next_header, const uint8_t *iv, size_t iv_len, struct ctp_wbuf *w, uint64_t *seq);

/*
 * Decapsulate one packet (from the SPI to the end of the ICV).  On success
 * the payload is appended to w and rx describes it; w needs room for the
 * whole ciphertext (payload and trailer) while it works.  Returns:
 *
 *   0                 accepted; the replay window has moved
 *   CTP_E_SHORT       fewer octets than header, IV, trailer and ICV need
 *   CTP_E_LENGTH      the ciphertext is not a whole number of blocks
 *   CTP_E_NOTFOUND    the SPI is not this engine's (the caller looks SAs up)
 *   CTP_E_STATE       replay: a duplicate, left of the window, or a number
 *                     that cannot be (0, or an ESN high half below 0).  No
 *                     code of ctp_err.h says "replay"; this one does here.
 *   CTP_E_LIMIT       sequence space exhausted: the window is at the end of
 *                     the 64-bit space and the number would lie beyond it
 *   CTP_E_AUTH        ICV mismatch (nothing is written to w)
 *   CTP_E_VALUE       authentic but malformed: Pad Length beyond the data
 *                     or padding not 1, 2, 3, ... (RFC 4303 2.4); the
 *                     number is marked seen all the same
 *   CTP_E_NOSPACE     w too small
 *   CTP_E_INVAL       an outbound engine
 *   CTP_E_CRYPTO      OpenSSL failed
 *
 * Replay checks run before and after the ICV (RFC 4303 3.4.3): only an
 * authentic packet moves the window.  With ESN the high half is inferred
 * from the window (RFC 4303 appendix A2.2); resynchronisation after a loss
 * of 2^32 packets (appendix A3) is not attempted.
 */
int ipsec_esp_decap(struct ipsec_esp *e, const uint8_t *pkt, size_t len, struct ctp_wbuf *w,
    struct ipsec_esp_rx *rx);

/* The SPI and 32-bit sequence number of a packet, for SA look-ups: 0 or
 * CTP_E_SHORT. */
int ipsec_esp_peek(const uint8_t *pkt, size_t len, uint32_t *spi, uint32_t *seq);

void ipsec_esp_stats(const struct ipsec_esp *e, struct ipsec_esp_stats *st);

/*
 * Write the live state into sa (the SA the engine was made from, or a copy
 * of it), touching nothing else: outbound SEQ_OUT (next = the next number
 * to use, which is the highest sent + 1 once anything was sent; margin 0:
 * a sink adds its own); inbound REPLAY (window, highest, bitmap with the
 * MSB of octet 0 = highest), always present so that ESN inference survives
 * a move; USAGE bytes and packets (the times are the caller's).
 */
void ipsec_esp_export(const struct ipsec_esp *e, struct ipsec_sa *sa);

/*
 * Known-answer tests of the integrity transform (RFC 4868 2.7): the
 * truncated ICV of len octets of data under the SA's INTEG key, as encap
 * computes it.  *icv_len gets the ICV length.  CTP_E_INVAL for AEAD SAs.
 */
int ipsec_esp_icv(struct ipsec_esp *e, const uint8_t *data, size_t len,
    uint8_t icv[IPSEC_ESP_ICV_MAX], size_t *icv_len);

#endif
