/*
 * ctp_token.c: the RFC 4067 authorization token and the PROFILE 4 notify tag.
 *
 * Token = First(32, HMAC-SHA1(K, previous address | sequence number | request
 * CDBs exactly as sent)).  The request CDBs are hashed from the wire bytes
 * the decoder kept (cdb_raw), so a re-encoding can never change the token.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ctp/ctp_secret.h"
#include "ctp/ctp_token.h"

struct part {
	const void *p;
	size_t      n;
};

/* HMAC over the concatenation of parts.  The fetched algorithm is kept for
 * the life of the process (one loop thread; OpenSSL owns the object). */
static int
hmac(const char *digest, const uint8_t *key, size_t keylen, const struct part *parts,
    size_t nparts, uint8_t *out, size_t *outlen)
{
	static EVP_MAC *alg;
	EVP_MAC_CTX *mc;
	OSSL_PARAM params[2];
	int ok;

	if (!alg && (alg = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL)) == NULL)
		return CTP_E_CRYPTO;
	if ((mc = EVP_MAC_CTX_new(alg)) == NULL)
		return CTP_E_NOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)(uintptr_t)digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(mc, key, keylen, params);
	for (size_t i = 0; ok && i < nparts; i++)
		if (parts[i].n)
			ok = EVP_MAC_update(mc, parts[i].p, parts[i].n);
	ok = ok && EVP_MAC_final(mc, out, outlen, EVP_MAX_MD_SIZE);
	EVP_MAC_CTX_free(mc);
	return ok ? 0 : CTP_E_CRYPTO;
}

int
ctp_token_compute(const uint8_t *key, size_t keylen, const struct ctp_addr *prev,
    uint32_t seq, const uint8_t *cdbs, size_t cdblen, uint32_t *token)
{
	uint8_t md[EVP_MAX_MD_SIZE], s[4];
	size_t mdlen = 0;
	struct part parts[3];
	int rc;

	if (!key || keylen == 0 || ctp_addr_len(prev->family) == 0)
		return CTP_E_INVAL;
	ctp_put_u32(s, seq);
	parts[0] = (struct part){ prev->a, ctp_addr_len(prev->family) };
	parts[1] = (struct part){ s, sizeof s };
	parts[2] = (struct part){ cdbs, cdblen };
	if ((rc = hmac("SHA1", key, keylen, parts, 3, md, &mdlen)) < 0)
		return rc;
	*token = ctp_get_u32(md);
	ctp_wipe(md, sizeof md);
	return 0;
}

int
ctp_token_of_msg(const uint8_t *key, size_t keylen, const struct ctp_msg *m, uint32_t *token)
{
	if (m->type != CTP_MSG_CTAR && m->type != CTP_MSG_CTREQ)
		return CTP_E_INVAL;
	return ctp_token_compute(key, keylen, &m->mn_prev, m->seq, m->cdb_raw,
	    m->cdb_raw_len, token);
}

int
ctp_token_verify(const uint8_t *key, size_t keylen, const struct ctp_msg *m)
{
	uint32_t want;
	uint8_t a[4], b[4];

	if (ctp_token_of_msg(key, keylen, m, &want) < 0)
		return 0;
	ctp_put_u32(a, want);
	ctp_put_u32(b, m->token);
	return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

int
ctp_notify_key(const uint8_t *key, size_t keylen, uint32_t seq, uint8_t kn[CTP_NOTIFY_KEY_LEN])
{
	static const char label[] = "CXTP notify";
	uint8_t md[EVP_MAX_MD_SIZE], s[4];
	struct part parts[2];
	size_t mdlen = 0;
	int rc;

	if (!key || keylen == 0)
		return CTP_E_INVAL;
	ctp_put_u32(s, seq);
	parts[0] = (struct part){ label, sizeof label - 1 };
	parts[1] = (struct part){ s, sizeof s };
	if ((rc = hmac("SHA256", key, keylen, parts, 2, md, &mdlen)) < 0)
		return rc;
	memcpy(kn, md, CTP_NOTIFY_KEY_LEN);
	ctp_wipe(md, sizeof md);
	return 0;
}

/* HMAC-SHA256(K_n, message with the tag zeroed), first 16 octets. */
static int
tag_compute(const uint8_t *msg, size_t len, const uint8_t kn[CTP_NOTIFY_KEY_LEN],
    uint8_t tag[CTP_TAG_LEN])
{
	static const uint8_t zero[CTP_TAG_LEN];
	uint8_t md[EVP_MAX_MD_SIZE];
	struct part parts[2];
	size_t mdlen = 0;
	int rc;

	if (len < CTP_HDR_LEN + CTP_TAG_LEN)
		return CTP_E_SHORT;
	parts[0] = (struct part){ msg, len - CTP_TAG_LEN };
	parts[1] = (struct part){ zero, CTP_TAG_LEN };
	if ((rc = hmac("SHA256", kn, CTP_NOTIFY_KEY_LEN, parts, 2, md, &mdlen)) < 0)
		return rc;
	memcpy(tag, md, CTP_TAG_LEN);
	return 0;
}

int
ctp_tag_seal(uint8_t *msg, size_t len, const uint8_t kn[CTP_NOTIFY_KEY_LEN])
{
	uint8_t tag[CTP_TAG_LEN];
	int rc;

	if ((rc = tag_compute(msg, len, kn, tag)) < 0)
		return rc;
	memcpy(msg + len - CTP_TAG_LEN, tag, CTP_TAG_LEN);
	return 0;
}

int
ctp_tag_verify(const uint8_t *msg, size_t len, const uint8_t kn[CTP_NOTIFY_KEY_LEN])
{
	uint8_t tag[CTP_TAG_LEN];

	if (tag_compute(msg, len, kn, tag) < 0)
		return 0;
	return CRYPTO_memcmp(tag, msg + len - CTP_TAG_LEN, CTP_TAG_LEN) == 0;
}
