/*
 * ipsec_alg.h: the ESP/AH algorithms ctpd carries, by IANA IKEv2 transform ID
 * (PROFILE 6), with everything a codec, an ESP engine (OpenSSL) and an XFRM
 * backend (Linux) need to know about each: key lengths, salt, ICV, block and
 * IV sizes, and the names the two libraries use.
 *
 * One table (ipsec_alg.c); nothing here allocates or keeps state.
 *
 * Key material on the wire (ENCR, INTEG TLVs) is the key followed by the
 * salt where the algorithm has one (RFC 3686 section 5.1, RFC 4106 section
 * 8.1, RFC 7634 section 2), exactly the KEYMAT layout IKEv2 derives.  Linux
 * wants the same octets in one blob (XFRMA_ALG_AEAD / XFRMA_ALG_CRYPT with
 * alg_key_len counting the salt too), so the layout passes through.
 */
#ifndef IPSEC_ALG_H
#define IPSEC_ALG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_err.h"

/* IKEv2 transform types (RFC 7296 section 3.3.2). */
#define IPSEC_ALG_ENCR  1
#define IPSEC_ALG_INTEG 3

#define IPSEC_ALG_MAX_KEYLENS 3
#define IPSEC_ALG_KEY_MAX     64   /* longest key + salt, in octets (HMAC-SHA-512) */

/* Which XFRM attribute carries the algorithm (linux/xfrm.h). */
enum ipsec_xfrm_attr {
	IPSEC_XFRM_CRYPT = 1,   /* XFRMA_ALG_CRYPT, struct xfrm_algo */
	IPSEC_XFRM_AUTH_TRUNC,  /* XFRMA_ALG_AUTH_TRUNC, struct xfrm_algo_auth */
	IPSEC_XFRM_AEAD,        /* XFRMA_ALG_AEAD, struct xfrm_algo_aead */
	IPSEC_XFRM_NONE,        /* no attribute (INTEG NONE) */
};

/* One allowed key length and the OpenSSL name that goes with it. */
struct ipsec_alg_keylen {
	uint16_t    bits;  /* key length in bits, salt excluded */
	const char *evp;   /* EVP_CIPHER name (ENCR) or EVP_MD name (INTEG); NULL: none */
};

struct ipsec_alg {
	uint8_t     type;       /* IPSEC_ALG_ENCR or IPSEC_ALG_INTEG */
	uint16_t    id;         /* IANA IKEv2 transform ID */
	const char *name;       /* IANA name: "ENCR_AES_GCM_16" */
	const char *rfc;        /* the RFC that defines its use in ESP/AH */
	bool        aead;       /* combined mode: integrity without an INTEG transform */
	uint8_t     nkeys;      /* entries used in keys[] */
	struct ipsec_alg_keylen keys[IPSEC_ALG_MAX_KEYLENS];
	uint8_t     salt_len;   /* octets appended to the key on the wire */
	uint8_t     icv_len;    /* ICV octets: AEAD tag, or the truncated HMAC */
	uint8_t     block_len;  /* cipher block (1: stream/counter mode; 0: INTEG);
	                         * ESP pads to the larger of this and 4 (RFC 4303 2.4) */
	uint8_t     iv_len;     /* explicit IV octets in each ESP packet */
	const char *xfrm;       /* Linux crypto API name: "rfc4106(gcm(aes))" */
	uint8_t     xfrm_attr;  /* enum ipsec_xfrm_attr */
};

/* The table, in (type, id) order; ipsec_alg_count entries. */
extern const struct ipsec_alg ipsec_algs[];
extern const size_t ipsec_alg_count;

/* The entry for (type, id), or NULL when ctpd does not carry it. */
const struct ipsec_alg *ipsec_alg_find(unsigned type, unsigned id);

/*
 * Why (type, id) must never be accepted (RFC 8221 MUST NOT: DES, MD5 and
 * friends), as one line naming the algorithm; NULL when not forbidden.
 */
const char *ipsec_alg_forbidden(unsigned type, unsigned id);

/*
 * Look (type, id) up for a received SA or profile: 0 with *out set; or
 * CTP_E_VALUE with err->status 0x89 (CTP_ST_IPSEC_POLICY) for a forbidden
 * algorithm and 0x83 (CTP_ST_IPSEC_ALG_UNSUPPORTED) for an unknown one.
 * off is the message offset to report.
 */
int ipsec_alg_get(unsigned type, unsigned id, const struct ipsec_alg **out, size_t off,
    struct ctp_err *err);

/* The key-length entry of a for bits, or NULL when a does not allow it. */
const struct ipsec_alg_keylen *ipsec_alg_keylen(const struct ipsec_alg *a, unsigned bits);

/* Key octets on the wire for bits: bits / 8 plus the salt. */
size_t ipsec_alg_key_octets(const struct ipsec_alg *a, unsigned bits);

/*
 * Reverse look-up for reading SAs back from the kernel: the algorithm of the
 * given type whose XFRM name is name and whose ICV is icv_len octets (the
 * three AES-GCM IDs share one name).  NULL when none matches.
 */
const struct ipsec_alg *ipsec_alg_by_xfrm(unsigned type, const char *name, unsigned icv_len);

#endif
