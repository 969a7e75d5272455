/*
 * ipsec_esp.c: the ESP engine of ipsec_esp.h (RFC 4303) on OpenSSL 3 EVP.
 *
 * Decisions, and why:
 *
 *  - One EVP_CIPHER_CTX per engine, keyed once; each packet only re-arms its
 *    IV (EVP_CipherInit_ex2 with no cipher and no key), which allocates
 *    nothing.  The integrity transform is one EVP_MAC_CTX ("HMAC"), keyed
 *    once and re-armed with EVP_MAC_init(ctx, NULL, 0, NULL).  Measured
 *    with CRYPTO_set_mem_functions on OpenSSL 3.0.19: the ciphers make no
 *    allocation per packet; HMAC's re-arm copies the inner digest state
 *    with EVP_MD_CTX_copy_ex, which in 3.0 duplicates the provider context
 *    (two mallocs inside libcrypto per packet; providers with
 *    OSSL_FUNC_digest_copyctx, in later releases, avoid it).  This file
 *    allocates only in ipsec_esp_new().
 *
 *  - Nonces.  AES-GCM (RFC 4106 3.1), ChaCha20-Poly1305 (RFC 7634 2) and
 *    AES-CTR (RFC 3686 3.1) need an IV that never repeats under the key:
 *    the IV is the 64-bit sequence number, big-endian, as Linux's seqiv
 *    does.  The nonce is salt | IV; AES-CTR's counter block is salt | IV |
 *    00000001 (RFC 3686 4).  Uniqueness then rests on PROFILE 5.1: no
 *    (SA, sequence number) pair is ever sent twice, which is why the
 *    counter never wraps here, not even with the overflow flag set when
 *    ESN is on (2^64 would come round to numbers already used).  Without
 *    ESN and with the overflow flag the wire carries the low 32 bits
 *    (RFC 4303 3.3.3 allows the cycle) while the IV keeps counting in 64.
 *
 *  - CBC IVs must be unpredictable (RFC 3602 2.4; RFC 2451 for 3DES).
 *    Each engine draws a random 128-bit key at creation and uses
 *    AES-128-ECB of (sequence number | 0^64) under it as the IV, truncated
 *    to 8 octets for 3DES: the method of NIST SP 800-38A appendix C with an
 *    independent key.  Distinct numbers give distinct blocks, the key
 *    never leaves the engine, and RAND_bytes() (which allocates in 3.0)
 *    stays out of the per-packet path.
 *
 *  - Integrity input: SPI | sequence (low 32) | IV | ciphertext, and with
 *    ESN the high 32 bits appended at the end (RFC 4303 2.2.1, 3.3.2.1).
 *    AEAD AAD: SPI | sequence, or SPI | high | low with ESN (RFC 4106 5,
 *    RFC 7634 2.1).
 *
 *  - Padding: the fewest octets that end the ciphertext on the cipher's
 *    block and on 4 octets (RFC 4303 2.4), filled with 1, 2, 3, ...  The
 *    receiver checks both the length and the contents (2.4: SHOULD), after
 *    the ICV, and marks the number seen whatever it finds: the packet was
 *    authentic, and a second copy must still be a replay.
 *
 *  - Anti-replay (RFC 4303 3.4.3, appendix A): a bitmap of up to 4096
 *    bits, bit i = highest - i, held as 64-bit words whose most significant
 *    bit comes first; that is the REPLAY TLV's layout word by word, so
 *    export and import are copies.  Advancing shifts the words (64 of them
 *    at most); for the windows ESP uses this costs less than the
 *    bookkeeping of RFC 6479's ring and keeps one canonical form.  The
 *    check runs before the ICV (cheap refusal) and the window moves only
 *    after it.  ESN high halves are inferred as in appendix A2.2; an SA
 *    without a window (anti-replay off) infers with a window of 32.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "features/ipsec/ipsec_esp.h"

#define IPSEC_ESP_SEQ32_MAX     UINT64_C(0xffffffff)
#define IPSEC_ESP_WIN_WORDS     (CTP_REPLAY_MAX_WINDOW / 64)
#define IPSEC_ESP_INFER_WINDOW  32      /* ESN inference without a window */
#define IPSEC_ESP_NONCE_LEN     12      /* salt (4) | IV (8) */
#define IPSEC_ESP_AAD_MAX       12      /* SPI | high | low */
#define IPSEC_ESP_IVKEY_LEN     16      /* AES-128 key of the CBC IV generator */

enum ipsec_esp_mode {
	IPSEC_ESP_M_NULL = 0,   /* RFC 2410: no cipher */
	IPSEC_ESP_M_CBC,        /* RFC 3602, RFC 2451 */
	IPSEC_ESP_M_CTR,        /* RFC 3686 */
	IPSEC_ESP_M_AEAD,       /* RFC 4106, RFC 7634 */
};

struct ipsec_esp {
	const struct ipsec_alg *encr;
	const struct ipsec_alg *integ;     /* NULL for AEAD (or INTEG NONE) */
	uint32_t        spi;
	int             outbound, esn, anti_replay, may_cycle;
	enum ipsec_esp_mode mode;
	uint8_t         iv_len, icv_len, align;
	uint8_t         salt[4];           /* GCM, ChaCha20, CTR */

	EVP_CIPHER     *cipher;
	EVP_CIPHER_CTX *cctx;
	EVP_CIPHER     *ivcipher;          /* CBC: the IV generator */
	EVP_CIPHER_CTX *ivctx;
	EVP_MAC        *mac;
	EVP_MAC_CTX    *mctx;

	/* outbound: the next number; done once the last one went out */
	uint64_t        next;
	int             done;

	/* inbound: the window (RFC 4303 3.4.3) */
	uint32_t        win;               /* packets, a multiple of 32, <= 4096 */
	uint64_t        top;               /* highest authenticated number */
	uint64_t        bits[IPSEC_ESP_WIN_WORDS];

	uint64_t        base_bytes, base_packets;   /* USAGE at creation */
	struct ipsec_esp_stats st;
};

/* ---- small helpers ------------------------------------------------------ */

static void
ipsec_esp_put_u64(uint8_t *q, uint64_t v)
{
	struct ctp_wbuf w;

	ctp_wbuf_init(&w, q, 8);
	ctp_wbuf_u64(&w, v);
}

/* A fetched algorithm that OpenSSL lacks here is "not supported at this
 * endpoint" (PROFILE 6 status 0x83), not a bug. */
static int
ipsec_esp_nocipher(const char *what, const char *evp, struct ctp_err *err)
{
	ERR_clear_error();
	return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
	    "%s: OpenSSL provides no %s here", what, evp);
}

static int
ipsec_esp_crypto(struct ctp_err *err, const char *what)
{
	ERR_clear_error();
	return ctp_err_set(err, CTP_E_CRYPTO, 0, 0, "%s failed in OpenSSL", what);
}

/* ---- the replay window -------------------------------------------------- */

static int
ipsec_esp_bit(const struct ipsec_esp *e, uint64_t off)
{
	return (int)(e->bits[off / 64] >> (63 - off % 64)) & 1;
}

static void
ipsec_esp_setbit(struct ipsec_esp *e, uint64_t off)
{
	e->bits[off / 64] |= UINT64_C(1) << (63 - off % 64);
}

/* The window slides d numbers up: bit i becomes bit i + d. */
static void
ipsec_esp_slide(struct ipsec_esp *e, uint64_t d)
{
	size_t nw = (e->win + 63) / 64, ws;
	unsigned bs;

	if (nw == 0)
		return;
	if (d >= (uint64_t)nw * 64) {
		memset(e->bits, 0, sizeof e->bits);
		return;
	}
	ws = (size_t)(d / 64);
	bs = (unsigned)(d % 64);
	for (size_t k = nw; k-- > 0;) {
		uint64_t v = 0;

		if (k >= ws) {
			v = e->bits[k - ws] >> bs;
			if (bs && k >= ws + 1)
				v |= e->bits[k - ws - 1] << (64 - bs);
		}
		e->bits[k] = v;
	}
	/* numbers that fell out of the window are not kept */
	if (e->win % 64)
		e->bits[nw - 1] &= ~UINT64_C(0) << (64 - e->win % 64);
}

/*
 * The whole number of a received low half (RFC 4303 appendix A2.2).  Without
 * ESN the number is the low half.  Returns -1 for numbers that cannot be (0:
 * the first packet is 1, RFC 4303 3.3.3; a high half below 0), -2 for one
 * beyond the 64-bit space (the window sits at its end: nothing is new).
 */
static int
ipsec_esp_infer(const struct ipsec_esp *e, uint32_t sl, uint64_t *s)
{
	uint32_t tl = (uint32_t)e->top, th = (uint32_t)(e->top >> 32), sh;
	uint32_t w = e->win ? e->win : IPSEC_ESP_INFER_WINDOW;
	uint32_t bl = tl - w + 1;   /* the window's bottom, modulo 2^32 */

	if (!e->esn) {
		*s = sl;
		return sl ? 0 : -1;
	}
	if (tl >= w - 1) {
		/* case A: the window lies within one 2^32 subspace */
		if (sl >= bl)
			sh = th;
		else if (th == UINT32_MAX)
			return -2;
		else
			sh = th + 1;
	} else {
		/* case B: the window spans two subspaces */
		if (sl >= bl) {
			if (th == 0)
				return -1;
			sh = th - 1;
		} else
			sh = th;
	}
	*s = (uint64_t)sh << 32 | sl;
	return *s ? 0 : -1;
}

/* 0 when s may be accepted, -1 for a replay (RFC 4303 3.4.3). */
static int
ipsec_esp_replay_check(const struct ipsec_esp *e, uint64_t s)
{
	uint64_t d;

	if (!e->anti_replay || s > e->top)
		return 0;
	d = e->top - s;
	if (d >= e->win)
		return -1;   /* left of the window */
	return ipsec_esp_bit(e, d) ? -1 : 0;
}

/* Mark an authentic number seen. */
static void
ipsec_esp_replay_update(struct ipsec_esp *e, uint64_t s)
{
	if (s > e->top) {
		ipsec_esp_slide(e, s - e->top);
		e->top = s;
		if (e->win)
			ipsec_esp_setbit(e, 0);
	} else if (e->top - s < e->win)
		ipsec_esp_setbit(e, e->top - s);
}

/* REPLAY TLV octets <-> words: octet o is byte o % 8 (from the most
 * significant) of word o / 8. */
static void
ipsec_esp_replay_import(struct ipsec_esp *e, const struct ipsec_sa *sa)
{
	if (!sa->has_replay)
		return;
	e->win = sa->replay.window;
	e->top = sa->replay.highest;
	for (size_t o = 0; o < sa->replay.bitmap_len && o < IPSEC_ESP_WIN_WORDS * 8; o++)
		e->bits[o / 8] |= (uint64_t)sa->replay.bitmap[o] << (56 - 8 * (o % 8));
}

static void
ipsec_esp_replay_export(const struct ipsec_esp *e, struct ipsec_sa *sa)
{
	sa->has_replay = true;
	sa->replay.window = e->win;
	sa->replay.highest = e->top;
	sa->replay.bitmap_len = (uint16_t)(e->win / 8);
	memset(sa->replay.bitmap, 0, sizeof sa->replay.bitmap);
	for (size_t o = 0; o < sa->replay.bitmap_len; o++)
		sa->replay.bitmap[o] = (uint8_t)(e->bits[o / 8] >> (56 - 8 * (o % 8)));
}

/* ---- creation ----------------------------------------------------------- */

static int
ipsec_esp_setup_cipher(struct ipsec_esp *e, const struct ipsec_sa *sa, struct ctp_err *err)
{
	const struct ipsec_alg_keylen *kl = ipsec_alg_keylen(e->encr, sa->encr.key_bits);
	size_t klen = sa->encr.key_bits / 8;
	uint8_t ivkey[IPSEC_ESP_IVKEY_LEN];
	int rc = 0;

	if (e->encr->salt_len)
		memcpy(e->salt, sa->encr.key + klen, sizeof e->salt);
	if (e->encr->id == CTP_ENCR_NULL) {
		e->mode = IPSEC_ESP_M_NULL;
		return 0;
	}
	e->mode = e->encr->aead ? IPSEC_ESP_M_AEAD :
	    e->encr->id == CTP_ENCR_AES_CTR ? IPSEC_ESP_M_CTR : IPSEC_ESP_M_CBC;
	if (!kl || !kl->evp)
		return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
		    "%s-%u has no OpenSSL name", e->encr->name, sa->encr.key_bits);
	if ((e->cipher = EVP_CIPHER_fetch(NULL, kl->evp, NULL)) == NULL)
		return ipsec_esp_nocipher(e->encr->name, kl->evp, err);
	if ((e->cctx = EVP_CIPHER_CTX_new()) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	/* the key once; each packet re-arms only the IV */
	if (EVP_CipherInit_ex2(e->cctx, e->cipher, sa->encr.key, NULL, e->outbound, NULL) != 1 ||
	    (e->mode == IPSEC_ESP_M_CBC && EVP_CIPHER_CTX_set_padding(e->cctx, 0) != 1))
		return ipsec_esp_crypto(err, e->encr->name);
	if ((size_t)EVP_CIPHER_CTX_get_key_length(e->cctx) != klen)
		return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
		    "%s: OpenSSL's %s takes %d-octet keys, not %zu", e->encr->name, kl->evp,
		    EVP_CIPHER_CTX_get_key_length(e->cctx), klen);
	if (e->mode != IPSEC_ESP_M_CBC || !e->outbound)
		return 0;
	/* CBC senders: the IV generator, under a key of its own */
	if ((e->ivcipher = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL)) == NULL)
		return ipsec_esp_nocipher(e->encr->name, "AES-128-ECB", err);
	if ((e->ivctx = EVP_CIPHER_CTX_new()) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	if (RAND_bytes(ivkey, sizeof ivkey) != 1 ||
	    EVP_CipherInit_ex2(e->ivctx, e->ivcipher, ivkey, NULL, 1, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(e->ivctx, 0) != 1)
		rc = ipsec_esp_crypto(err, "the CBC IV generator");
	ctp_wipe(ivkey, sizeof ivkey);
	return rc;
}

static int
ipsec_esp_setup_integ(struct ipsec_esp *e, const struct ipsec_sa *sa, struct ctp_err *err)
{
	const char *md = e->integ->keys[0].evp;
	OSSL_PARAM params[2];
	int full;

	if ((e->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return ipsec_esp_nocipher(e->integ->name, "HMAC", err);
	if ((e->mctx = EVP_MAC_CTX_new(e->mac)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)(uintptr_t)md, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(e->mctx, sa->integ.key, sa->integ.key_len, params) != 1)
		return ipsec_esp_nocipher(e->integ->name, md, err);
	full = (int)EVP_MAC_CTX_get_mac_size(e->mctx);
	if (full < e->integ->icv_len || full > EVP_MAX_MD_SIZE)
		return ctp_err_set(err, CTP_E_CRYPTO, 0, 0, "%s: HMAC output of %d octets",
		    e->integ->name, full);
	return 0;
}

int
ipsec_esp_new(const struct ipsec_sa *sa, struct ipsec_esp **out, struct ctp_err *err)
{
	struct ipsec_esp *e;
	int rc;

	*out = NULL;
	if (sa->protocol == CTP_IPPROTO_AH)
		return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, CTP_ST_IPSEC_ALG_UNSUPPORTED,
		    "SA 0x%08x is AH: the ESP engine does not do AH (RFC 4302)", sa->spi);
	if ((rc = ipsec_sa_verify(sa, err)) < 0)
		return rc;
	if ((e = calloc(1, sizeof *e)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	e->spi = sa->spi;
	e->outbound = sa->direction == CTP_DIRECTION_OUT;
	e->esn = (sa->flags & IPSEC_SA_F_ESN) != 0;
	e->anti_replay = (sa->flags & IPSEC_SA_F_ANTI_REPLAY) != 0;
	e->may_cycle = (sa->flags & IPSEC_SA_F_SEQ_OVERFLOW) != 0;
	/* ipsec_sa_verify() found both in the table */
	e->encr = ipsec_alg_find(IPSEC_ALG_ENCR, sa->encr.id);
	if (sa->has_integ && sa->integ.id != CTP_INTEG_NONE)
		e->integ = ipsec_alg_find(IPSEC_ALG_INTEG, sa->integ.id);
	if (!e->encr || (e->encr->aead && e->integ) || (!e->encr->aead && !e->integ)) {
		ipsec_esp_free(e);
		return ctp_err_set(err, CTP_E_VALUE, 0, CTP_ST_MALFORMED_CDB,
		    "SA 0x%08x: no usable ENCR/INTEG pair", sa->spi);
	}
	e->iv_len = e->encr->iv_len;
	e->icv_len = e->encr->aead ? e->encr->icv_len : e->integ->icv_len;
	e->align = e->encr->block_len > 4 ? e->encr->block_len : 4;
	if ((rc = ipsec_esp_setup_cipher(e, sa, err)) < 0 ||
	    (e->integ && (rc = ipsec_esp_setup_integ(e, sa, err)) < 0)) {
		ipsec_esp_free(e);
		return rc;
	}
	if (e->outbound)
		e->next = sa->seq_out.next;   /* verified: >= 1, within the space */
	else
		ipsec_esp_replay_import(e, sa);
	if (sa->has_usage) {
		e->base_bytes = sa->usage.bytes;
		e->base_packets = sa->usage.packets;
	}
	*out = e;
	return 0;
}

void
ipsec_esp_free(struct ipsec_esp *e)
{
	if (!e)
		return;
	/* the _free functions cleanse the key schedules */
	EVP_CIPHER_CTX_free(e->cctx);
	EVP_CIPHER_CTX_free(e->ivctx);
	EVP_CIPHER_free(e->cipher);
	EVP_CIPHER_free(e->ivcipher);
	EVP_MAC_CTX_free(e->mctx);
	EVP_MAC_free(e->mac);
	ctp_wipe(e, sizeof *e);
	free(e);
}

uint32_t
ipsec_esp_spi(const struct ipsec_esp *e)
{
	return e->spi;
}

int
ipsec_esp_is_outbound(const struct ipsec_esp *e)
{
	return e->outbound;
}

size_t
ipsec_esp_packet_len(const struct ipsec_esp *e, size_t len)
{
	size_t ct = len + 2;

	ct += (e->align - ct % e->align) % e->align;
	return IPSEC_ESP_HDR_LEN + e->iv_len + ct + e->icv_len;
}

uint64_t
ipsec_esp_next_seq(const struct ipsec_esp *e)
{
	return e->next;
}

int
ipsec_esp_exhausted(const struct ipsec_esp *e)
{
	return e->done;
}

void
ipsec_esp_retire(struct ipsec_esp *e)
{
	if (!e->outbound)
		return;
	e->done = 1;
	/* what the counter would read after the last number of the space */
	e->next = e->esn || e->may_cycle ? 0 : IPSEC_ESP_SEQ32_MAX + 1;
}

void
ipsec_esp_stats(const struct ipsec_esp *e, struct ipsec_esp_stats *st)
{
	*st = e->st;
}

void
ipsec_esp_export(const struct ipsec_esp *e, struct ipsec_sa *sa)
{
	if (e->outbound) {
		sa->has_seq_out = true;
		/* after the last number there is none: report the end of the
		 * space, which ipsec_sa_verify() answers with 0x88 */
		sa->seq_out.next = e->done && e->next == 0 ? UINT64_MAX : e->next;
		sa->seq_out.margin = 0;
	} else
		ipsec_esp_replay_export(e, sa);
	sa->has_usage = true;
	sa->usage.bytes = e->base_bytes + e->st.bytes;
	sa->usage.packets = e->base_packets + e->st.packets;
}

int
ipsec_esp_peek(const uint8_t *pkt, size_t len, uint32_t *spi, uint32_t *seq)
{
	struct ctp_cur c;

	ctp_cur_init(&c, pkt, len, 0);
	if (ctp_cur_u32(&c, spi) < 0 || ctp_cur_u32(&c, seq) < 0)
		return CTP_E_SHORT;
	return 0;
}

/* ---- the transforms ----------------------------------------------------- */

/* The truncated HMAC over a | b | the ESN high half (when esn). */
static int
ipsec_esp_mac(struct ipsec_esp *e, const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen, int esn, uint64_t seq, uint8_t icv[IPSEC_ESP_ICV_MAX])
{
	uint8_t full[EVP_MAX_MD_SIZE], hi[4];
	size_t outl = 0;
	int ok;

	ctp_put_u32(hi, (uint32_t)(seq >> 32));
	ok = EVP_MAC_init(e->mctx, NULL, 0, NULL) == 1 &&
	    EVP_MAC_update(e->mctx, a, alen) == 1 &&
	    (blen == 0 || EVP_MAC_update(e->mctx, b, blen) == 1) &&
	    (!esn || EVP_MAC_update(e->mctx, hi, sizeof hi) == 1) &&
	    EVP_MAC_final(e->mctx, full, &outl, sizeof full) == 1 && outl >= e->icv_len;
	if (ok)
		memcpy(icv, full, e->icv_len);
	ctp_wipe(full, sizeof full);
	if (!ok) {
		ERR_clear_error();
		return CTP_E_CRYPTO;
	}
	return 0;
}

/* AAD of RFC 4106 5 / RFC 7634 2.1; returns its length. */
static size_t
ipsec_esp_aad(const struct ipsec_esp *e, uint64_t seq, uint8_t aad[IPSEC_ESP_AAD_MAX])
{
	struct ctp_wbuf w;

	ctp_wbuf_init(&w, aad, IPSEC_ESP_AAD_MAX);
	ctp_wbuf_u32(&w, e->spi);
	if (e->esn)
		ctp_wbuf_u64(&w, seq);
	else
		ctp_wbuf_u32(&w, (uint32_t)seq);
	return w.len;
}

/* salt | IV, or for CTR salt | IV | 00000001 (RFC 3686 4). */
static void
ipsec_esp_nonce(const struct ipsec_esp *e, const uint8_t *iv, uint8_t nonce[16])
{
	struct ctp_wbuf w;

	ctp_wbuf_init(&w, nonce, 16);
	ctp_wbuf_bytes(&w, e->salt, sizeof e->salt);
	ctp_wbuf_bytes(&w, iv, 8);
	ctp_wbuf_u32(&w, 1);
}

/* Run the cipher over n octets from in to out (the same buffer or two
 * that do not overlap), with the IV (or nonce) iv. */
static int
ipsec_esp_cipher(struct ipsec_esp *e, const uint8_t *iv, const uint8_t *aad, size_t aadlen,
    const uint8_t *in, uint8_t *out, size_t n, uint8_t *tag)
{
	uint8_t fin[32];
	int outl = 0, finl = 0, ok;

	ok = EVP_CipherInit_ex2(e->cctx, NULL, NULL, iv, -1, NULL) == 1 &&
	    (aadlen == 0 || EVP_CipherUpdate(e->cctx, NULL, &outl, aad, (int)aadlen) == 1) &&
	    EVP_CipherUpdate(e->cctx, out, &outl, in, (int)n) == 1 && (size_t)outl == n;
	/* a decrypting AEAD checks the tag in Final: set it first */
	if (ok && tag && !e->outbound)
		ok = EVP_CIPHER_CTX_ctrl(e->cctx, EVP_CTRL_AEAD_SET_TAG, e->icv_len, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(e->cctx, fin, &finl) == 1 && finl == 0;
	if (ok && tag && e->outbound)
		ok = EVP_CIPHER_CTX_ctrl(e->cctx, EVP_CTRL_AEAD_GET_TAG, e->icv_len, tag) == 1;
	if (!ok) {
		ERR_clear_error();
		return tag && !e->outbound ? CTP_E_AUTH : CTP_E_CRYPTO;
	}
	return 0;
}

/* The CBC sender's IV for seq (see the top of the file). */
static int
ipsec_esp_cbc_iv(struct ipsec_esp *e, uint64_t seq, uint8_t iv[IPSEC_ESP_IV_MAX])
{
	uint8_t in[16] = { 0 }, blk[16];
	int outl = 0, ok;

	ipsec_esp_put_u64(in, seq);
	ok = EVP_CipherUpdate(e->ivctx, blk, &outl, in, sizeof in) == 1 && outl == 16;
	if (ok)
		memcpy(iv, blk, e->iv_len);
	ctp_wipe(blk, sizeof blk);
	if (!ok) {
		ERR_clear_error();
		return CTP_E_CRYPTO;
	}
	return 0;
}

/* Encrypt ct in place and fill the ICV. */
static int
ipsec_esp_protect(struct ipsec_esp *e, uint64_t seq, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *iv, uint8_t *ct, size_t ct_len, uint8_t *icv)
{
	uint8_t nonce[16], aad[IPSEC_ESP_AAD_MAX];
	int rc = 0;

	switch (e->mode) {
	case IPSEC_ESP_M_AEAD:
		ipsec_esp_nonce(e, iv, nonce);
		return ipsec_esp_cipher(e, nonce, aad, ipsec_esp_aad(e, seq, aad), ct, ct,
		    ct_len, icv);
	case IPSEC_ESP_M_CTR:
		ipsec_esp_nonce(e, iv, nonce);
		rc = ipsec_esp_cipher(e, nonce, NULL, 0, ct, ct, ct_len, NULL);
		break;
	case IPSEC_ESP_M_CBC:
		rc = ipsec_esp_cipher(e, iv, NULL, 0, ct, ct, ct_len, NULL);
		break;
	case IPSEC_ESP_M_NULL:
		break;
	}
	if (rc == 0)
		rc = ipsec_esp_mac(e, hdr, hdrlen, ct, ct_len, e->esn, seq, icv);
	return rc;
}

/* Check the ICV and decrypt ct into pt. */
static int
ipsec_esp_unprotect(struct ipsec_esp *e, uint64_t seq, const uint8_t *authed,
    size_t authed_len, const uint8_t *iv, const uint8_t *ct, size_t ct_len,
    const uint8_t *icv, uint8_t *pt)
{
	uint8_t nonce[16], aad[IPSEC_ESP_AAD_MAX], want[IPSEC_ESP_ICV_MAX];
	int rc;

	if (e->mode == IPSEC_ESP_M_AEAD) {
		/* OpenSSL wants a writable tag; the packet is not ours to write */
		memcpy(want, icv, e->icv_len);
		ipsec_esp_nonce(e, iv, nonce);
		return ipsec_esp_cipher(e, nonce, aad, ipsec_esp_aad(e, seq, aad), ct, pt, ct_len,
		    want);
	}
	/* encrypt-then-MAC: nothing is decrypted before the ICV matches */
	if ((rc = ipsec_esp_mac(e, authed, authed_len, NULL, 0, e->esn, seq, want)) < 0)
		return rc;
	if (CRYPTO_memcmp(want, icv, e->icv_len) != 0)
		return CTP_E_AUTH;
	switch (e->mode) {
	case IPSEC_ESP_M_CTR:
		ipsec_esp_nonce(e, iv, nonce);
		return ipsec_esp_cipher(e, nonce, NULL, 0, ct, pt, ct_len, NULL);
	case IPSEC_ESP_M_CBC:
		return ipsec_esp_cipher(e, iv, NULL, 0, ct, pt, ct_len, NULL);
	case IPSEC_ESP_M_NULL:
	case IPSEC_ESP_M_AEAD:
		break;
	}
	memcpy(pt, ct, ct_len);
	return 0;
}

/* ---- encapsulation ------------------------------------------------------ */

static int
ipsec_esp_seal(struct ipsec_esp *e, const uint8_t *payload, size_t len, uint8_t nh,
    const uint8_t *given_iv, struct ctp_wbuf *w, uint64_t *seqp)
{
	size_t start = w->len, pad, ct_len, total, hdrlen = IPSEC_ESP_HDR_LEN + e->iv_len;
	uint8_t iv[IPSEC_ESP_IV_MAX] = { 0 }, *hdr, *ct, *icv;
	struct ctp_wbuf sub;
	uint64_t seq;
	int rc = 0;

	if (!e->outbound)
		return CTP_E_INVAL;
	if (e->done) {
		e->st.exhausted++;
		return CTP_E_LIMIT;
	}
	if (len > IPSEC_ESP_PACKET_MAX)
		return CTP_E_LIMIT;
	ct_len = len + 2;
	pad = (e->align - ct_len % e->align) % e->align;
	ct_len += pad;
	total = hdrlen + ct_len + e->icv_len;
	if (total > IPSEC_ESP_PACKET_MAX)
		return CTP_E_LIMIT;
	if (w->err || w->len > w->cap || w->cap - w->len < total)
		return CTP_E_NOSPACE;
	seq = e->next;
	if (given_iv)
		memcpy(iv, given_iv, e->iv_len);
	else if (e->mode == IPSEC_ESP_M_CBC)
		rc = ipsec_esp_cbc_iv(e, seq, iv);
	else if (e->iv_len)
		ipsec_esp_put_u64(iv, seq);   /* seqiv: the IV is the number */
	if (rc < 0)
		return rc;

	/* SPI | sequence (low 32) | IV */
	hdr = ctp_wbuf_reserve(w, hdrlen);
	ct = ctp_wbuf_reserve(w, ct_len);
	icv = ctp_wbuf_reserve(w, e->icv_len);
	if (!hdr || !ct || !icv)
		return CTP_E_NOSPACE;   /* cannot happen: the room was checked */
	ctp_wbuf_init(&sub, hdr, hdrlen);
	ctp_wbuf_u32(&sub, e->spi);
	ctp_wbuf_u32(&sub, (uint32_t)seq);
	ctp_wbuf_bytes(&sub, iv, e->iv_len);
	/* payload | 1, 2, 3 ... | Pad Length | Next Header (RFC 4303 2.4) */
	ctp_wbuf_init(&sub, ct, ct_len);
	ctp_wbuf_bytes(&sub, payload, len);
	for (size_t i = 1; i <= pad; i++)
		ctp_wbuf_u8(&sub, (uint8_t)i);
	ctp_wbuf_u8(&sub, (uint8_t)pad);
	ctp_wbuf_u8(&sub, nh);

	if ((rc = ipsec_esp_protect(e, seq, hdr, hdrlen, iv, ct, ct_len, icv)) < 0) {
		/* the plaintext sat in w: take it back */
		ctp_wipe(ct, ct_len);
		w->len = start;
		return rc;
	}
	if (seq == UINT64_MAX || (!e->esn && !e->may_cycle && seq == IPSEC_ESP_SEQ32_MAX))
		e->done = 1;   /* that was the last number (RFC 4303 3.3.3) */
	e->next = seq + 1;
	e->st.packets++;
	e->st.bytes += len;
	e->st.last_seq = seq;
	if (seqp)
		*seqp = seq;
	return 0;
}

int
ipsec_esp_encap(struct ipsec_esp *e, const uint8_t *payload, size_t len, uint8_t next_header,
    struct ctp_wbuf *w, uint64_t *seq)
{
	return ipsec_esp_seal(e, payload, len, next_header, NULL, w, seq);
}

int
ipsec_esp_encap_iv(struct ipsec_esp *e, const uint8_t *payload, size_t len,
    uint8_t next_header, const uint8_t *iv, size_t iv_len, struct ctp_wbuf *w, uint64_t *seq)
{
	if (iv_len != e->iv_len || (iv_len && !iv))
		return CTP_E_INVAL;
	return ipsec_esp_seal(e, payload, len, next_header, iv_len ? iv : NULL, w, seq);
}

int
ipsec_esp_icv(struct ipsec_esp *e, const uint8_t *data, size_t len,
    uint8_t icv[IPSEC_ESP_ICV_MAX], size_t *icv_len)
{
	int rc;

	if (!e->integ)
		return CTP_E_INVAL;
	if ((rc = ipsec_esp_mac(e, data, len, NULL, 0, 0, 0, icv)) < 0)
		return rc;
	*icv_len = e->icv_len;
	return 0;
}

/* ---- decapsulation ------------------------------------------------------ */

/* The trailer of a decrypted ciphertext: payload length and Next Header. */
static int
ipsec_esp_trailer(const uint8_t *pt, size_t ct_len, size_t *plen, uint8_t *nh)
{
	struct ctp_cur c;
	uint8_t padlen, b;

	ctp_cur_init(&c, pt, ct_len, 0);
	if (ctp_cur_skip(&c, ct_len - 2) < 0 || ctp_cur_u8(&c, &padlen) < 0 ||
	    ctp_cur_u8(&c, nh) < 0)
		return CTP_E_SHORT;
	if (padlen > ct_len - 2)
		return CTP_E_VALUE;   /* RFC 4303 2.5: more padding than data */
	*plen = ct_len - 2 - padlen;
	ctp_cur_init(&c, pt, ct_len, 0);
	(void)ctp_cur_skip(&c, *plen);
	for (unsigned i = 1; i <= padlen; i++)
		if (ctp_cur_u8(&c, &b) < 0 || b != (uint8_t)i)
			return CTP_E_VALUE;   /* RFC 4303 2.4: 1, 2, 3, ... */
	return 0;
}

int
ipsec_esp_decap(struct ipsec_esp *e, const uint8_t *pkt, size_t len, struct ctp_wbuf *w,
    struct ipsec_esp_rx *rx)
{
	const uint8_t *iv = NULL, *ct = NULL, *icv = NULL, *authed = NULL;
	size_t start = w->len, ct_len, plen = 0;
	struct ctp_cur c, all;
	uint32_t spi, sl;
	uint8_t *pt, nh = 0;
	uint64_t s;
	int rc;

	if (e->outbound)
		return CTP_E_INVAL;
	ctp_cur_init(&c, pkt, len, 0);
	if (ctp_cur_u32(&c, &spi) < 0 || ctp_cur_u32(&c, &sl) < 0) {
		e->st.malformed++;
		return CTP_E_SHORT;
	}
	if (spi != e->spi)
		return CTP_E_NOTFOUND;
	/* the IV, at least Pad Length and Next Header, the ICV */
	if (c.left < (size_t)e->iv_len + 2 + e->icv_len) {
		e->st.malformed++;
		return CTP_E_SHORT;
	}
	ct_len = c.left - e->iv_len - e->icv_len;
	if (e->encr->block_len > 1 && ct_len % e->encr->block_len) {
		e->st.malformed++;
		return CTP_E_LENGTH;
	}
	if (ctp_cur_view(&c, e->iv_len, &iv) < 0 || ctp_cur_view(&c, ct_len, &ct) < 0 ||
	    ctp_cur_view(&c, e->icv_len, &icv) < 0)
		return CTP_E_SHORT;   /* cannot happen: the lengths were checked */
	ctp_cur_init(&all, pkt, len, 0);
	if (ctp_cur_view(&all, len - e->icv_len, &authed) < 0)
		return CTP_E_SHORT;

	/* RFC 4303 3.4.3: refuse replays before spending the ICV on them */
	if ((rc = ipsec_esp_infer(e, sl, &s)) == -2) {
		e->st.exhausted++;
		return CTP_E_LIMIT;
	}
	if (rc < 0 || ipsec_esp_replay_check(e, s) < 0) {
		e->st.replay++;
		return CTP_E_STATE;
	}
	if (w->err || w->len > w->cap || w->cap - w->len < ct_len)
		return CTP_E_NOSPACE;
	if ((pt = ctp_wbuf_reserve(w, ct_len)) == NULL)
		return CTP_E_NOSPACE;
	rc = ipsec_esp_unprotect(e, s, authed, len - e->icv_len, iv, ct, ct_len, icv, pt);
	if (rc < 0) {
		/* no unauthenticated plaintext leaves */
		ctp_wipe(pt, ct_len);
		w->len = start;
		if (rc == CTP_E_AUTH)
			e->st.auth_fail++;
		return rc;
	}
	/* authentic: only now does the window move */
	ipsec_esp_replay_update(e, s);
	if ((rc = ipsec_esp_trailer(pt, ct_len, &plen, &nh)) < 0) {
		ctp_wipe(pt, ct_len);
		w->len = start;
		e->st.malformed++;
		return CTP_E_VALUE;
	}
	w->len = start + plen;
	e->st.packets++;
	e->st.bytes += plen;
	e->st.last_seq = s;
	if (rx) {
		rx->seq = s;
		rx->next_header = nh;
		rx->len = plen;
	}
	return 0;
}
