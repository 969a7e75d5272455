/*
 * ipsec_alg.c: the one table of ESP/AH algorithms (PROFILE 6).
 *
 * Only what PROFILE 6 names is carried.  Sizes come from the RFC that puts
 * each algorithm into ESP/AH; the Linux names are those the kernel's crypto
 * API registers for the ESP transforms (net/xfrm/xfrm_algo.c), the OpenSSL
 * names those EVP_CIPHER_fetch()/EVP_MD_fetch() accept in OpenSSL 3.
 *
 * The AES-GCM rows differ only in their ICV: Linux carries all three as
 * "rfc4106(gcm(aes))" with icv_truncbits 64/96/128.
 */
#include <string.h>

#include "ctp/ctp_proto.h"
#include "features/ipsec/ipsec_alg.h"

#define E IPSEC_ALG_ENCR
#define I IPSEC_ALG_INTEG

const struct ipsec_alg ipsec_algs[] = {
	/* RFC 2451: 3 x 64-bit DES keys (parity bits included), 64-bit block and IV. */
	{ E, CTP_ENCR_3DES, "ENCR_3DES", "RFC 2451", false,
	  1, { { 192, "DES-EDE3-CBC" } }, 0, 0, 8, 8,
	  "cbc(des3_ede)", IPSEC_XFRM_CRYPT },
	/* RFC 2410: no key, no IV; the "block" is 1, so ESP pads to 4. */
	{ E, CTP_ENCR_NULL, "ENCR_NULL", "RFC 2410", false,
	  1, { { 0, "NULL" } }, 0, 0, 1, 0,
	  "ecb(cipher_null)", IPSEC_XFRM_CRYPT },
	/* RFC 3602: 128-bit block, 16-octet explicit IV. */
	{ E, CTP_ENCR_AES_CBC, "ENCR_AES_CBC", "RFC 3602", false,
	  3, { { 128, "AES-128-CBC" }, { 192, "AES-192-CBC" }, { 256, "AES-256-CBC" } },
	  0, 0, 16, 16,
	  "cbc(aes)", IPSEC_XFRM_CRYPT },
	/* RFC 3686: key then a 4-octet nonce (5.1), 8-octet IV, counter mode. */
	{ E, CTP_ENCR_AES_CTR, "ENCR_AES_CTR", "RFC 3686", false,
	  3, { { 128, "AES-128-CTR" }, { 192, "AES-192-CTR" }, { 256, "AES-256-CTR" } },
	  4, 0, 1, 8,
	  "rfc3686(ctr(aes))", IPSEC_XFRM_CRYPT },
	/* RFC 4106: key then a 4-octet salt (8.1), 8-octet IV, ICV 8/12/16. */
	{ E, CTP_ENCR_AES_GCM_8, "ENCR_AES_GCM_8", "RFC 4106", true,
	  3, { { 128, "AES-128-GCM" }, { 192, "AES-192-GCM" }, { 256, "AES-256-GCM" } },
	  4, 8, 1, 8,
	  "rfc4106(gcm(aes))", IPSEC_XFRM_AEAD },
	{ E, CTP_ENCR_AES_GCM_12, "ENCR_AES_GCM_12", "RFC 4106", true,
	  3, { { 128, "AES-128-GCM" }, { 192, "AES-192-GCM" }, { 256, "AES-256-GCM" } },
	  4, 12, 1, 8,
	  "rfc4106(gcm(aes))", IPSEC_XFRM_AEAD },
	{ E, CTP_ENCR_AES_GCM_16, "ENCR_AES_GCM_16", "RFC 4106", true,
	  3, { { 128, "AES-128-GCM" }, { 192, "AES-192-GCM" }, { 256, "AES-256-GCM" } },
	  4, 16, 1, 8,
	  "rfc4106(gcm(aes))", IPSEC_XFRM_AEAD },
	/* RFC 7634: 256-bit key then a 4-octet salt (2), 8-octet IV, 16-octet tag. */
	{ E, CTP_ENCR_CHACHA20_POLY1305, "ENCR_CHACHA20_POLY1305", "RFC 7634", true,
	  1, { { 256, "ChaCha20-Poly1305" } }, 4, 16, 1, 8,
	  "rfc7539esp(chacha20,poly1305)", IPSEC_XFRM_AEAD },

	/* RFC 7296 3.3.2: only with an AEAD cipher (RFC 8221 6). */
	{ I, CTP_INTEG_NONE, "NONE", "RFC 7296", false,
	  1, { { 0, NULL } }, 0, 0, 0, 0,
	  NULL, IPSEC_XFRM_NONE },
	/* RFC 2404: 160-bit key, ICV truncated to 96 bits. */
	{ I, CTP_INTEG_HMAC_SHA1_96, "AUTH_HMAC_SHA1_96", "RFC 2404", false,
	  1, { { 160, "SHA1" } }, 0, 12, 0, 0,
	  "hmac(sha1)", IPSEC_XFRM_AUTH_TRUNC },
	/* RFC 4868 2.1.1 and 2.6: key = full hash output, ICV = half of it. */
	{ I, CTP_INTEG_HMAC_SHA2_256_128, "AUTH_HMAC_SHA2_256_128", "RFC 4868", false,
	  1, { { 256, "SHA256" } }, 0, 16, 0, 0,
	  "hmac(sha256)", IPSEC_XFRM_AUTH_TRUNC },
	{ I, CTP_INTEG_HMAC_SHA2_384_192, "AUTH_HMAC_SHA2_384_192", "RFC 4868", false,
	  1, { { 384, "SHA384" } }, 0, 24, 0, 0,
	  "hmac(sha384)", IPSEC_XFRM_AUTH_TRUNC },
	{ I, CTP_INTEG_HMAC_SHA2_512_256, "AUTH_HMAC_SHA2_512_256", "RFC 4868", false,
	  1, { { 512, "SHA512" } }, 0, 32, 0, 0,
	  "hmac(sha512)", IPSEC_XFRM_AUTH_TRUNC },
};

const size_t ipsec_alg_count = sizeof ipsec_algs / sizeof ipsec_algs[0];

/*
 * Refused outright, whatever the new endpoint supports: RFC 8221 sections 5
 * and 6 say MUST NOT for these (single DES is breakable, MD5 is broken, and
 * the 32/64-bit-block ciphers leak after a few GB).  AUTH_HMAC_MD5_128 is not
 * in RFC 8221's table; PROFILE 6 refuses MD5 as such.
 */
static const struct ipsec_alg_forbidden_row {
	uint8_t     type;
	uint16_t    id;
	const char *why;
} ipsec_alg_forbidden_rows[] = {
	{ E, 1, "ENCR_DES_IV64: RFC 8221 section 5 MUST NOT" },
	{ E, 2, "ENCR_DES: RFC 8221 section 5 MUST NOT" },
	{ E, 7, "ENCR_BLOWFISH: RFC 8221 section 5 MUST NOT" },
	{ E, 8, "ENCR_3IDEA: RFC 8221 section 5 MUST NOT" },
	{ E, 9, "ENCR_DES_IV32: RFC 8221 section 5 MUST NOT" },
	{ I, 1, "AUTH_HMAC_MD5_96: RFC 8221 section 6 MUST NOT" },
	{ I, 3, "AUTH_DES_MAC: RFC 8221 section 6 MUST NOT" },
	{ I, 4, "AUTH_KPDK_MD5: RFC 8221 section 6 MUST NOT" },
	{ I, 6, "AUTH_HMAC_MD5_128: MD5 is refused (PROFILE 6)" },
};

#undef E
#undef I

const struct ipsec_alg *
ipsec_alg_find(unsigned type, unsigned id)
{
	for (size_t i = 0; i < ipsec_alg_count; i++)
		if (ipsec_algs[i].type == type && ipsec_algs[i].id == id)
			return &ipsec_algs[i];
	return NULL;
}

const char *
ipsec_alg_forbidden(unsigned type, unsigned id)
{
	size_t n = sizeof ipsec_alg_forbidden_rows / sizeof ipsec_alg_forbidden_rows[0];

	for (size_t i = 0; i < n; i++)
		if (ipsec_alg_forbidden_rows[i].type == type && ipsec_alg_forbidden_rows[i].id == id)
			return ipsec_alg_forbidden_rows[i].why;
	return NULL;
}

int
ipsec_alg_get(unsigned type, unsigned id, const struct ipsec_alg **out, size_t off,
    struct ctp_err *err)
{
	const char *why;

	/* forbidden first: "refused by policy" tells the sender that no
	 * other endpoint will take it either */
	if ((why = ipsec_alg_forbidden(type, id)) != NULL)
		return ctp_err_set(err, CTP_E_VALUE, off, CTP_ST_IPSEC_POLICY,
		    "%s %u refused: %s", type == IPSEC_ALG_ENCR ? "ENCR" : "INTEG", id, why);
	if ((*out = ipsec_alg_find(type, id)) == NULL)
		return ctp_err_set(err, CTP_E_VALUE, off, CTP_ST_IPSEC_ALG_UNSUPPORTED,
		    "%s transform ID %u is not supported", type == IPSEC_ALG_ENCR ? "ENCR" : "INTEG",
		    id);
	return 0;
}

const struct ipsec_alg_keylen *
ipsec_alg_keylen(const struct ipsec_alg *a, unsigned bits)
{
	for (unsigned i = 0; i < a->nkeys && i < IPSEC_ALG_MAX_KEYLENS; i++)
		if (a->keys[i].bits == bits)
			return &a->keys[i];
	return NULL;
}

size_t
ipsec_alg_key_octets(const struct ipsec_alg *a, unsigned bits)
{
	return bits / 8 + a->salt_len;
}

const struct ipsec_alg *
ipsec_alg_by_xfrm(unsigned type, const char *name, unsigned icv_len)
{
	for (size_t i = 0; name && i < ipsec_alg_count; i++) {
		const struct ipsec_alg *a = &ipsec_algs[i];

		if (a->type == type && a->xfrm && strcmp(a->xfrm, name) == 0 &&
		    (a->xfrm_attr == IPSEC_XFRM_CRYPT || a->icv_len == icv_len))
			return a;
	}
	return NULL;
}
