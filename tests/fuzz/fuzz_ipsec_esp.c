/*
 * fuzz_ipsec_esp.c: libFuzzer harness for the ESP engine's packet parser
 * (src/features/ipsec/ipsec_esp.h: ipsec_esp_peek, ipsec_esp_decap with its
 * replay window, ESN inference and trailer checks), which the mem SAD runs
 * on every datagram it receives.
 *
 * Input: a 12-octet header that makes the SA pair, then the body.
 *   0      algorithm (an index into fuzz_esp_algs)
 *   1      bit 0 ESN, bit 1 anti-replay, bits 2-3 the operation
 *   2      replay window, 32 * (1 + n % 128)
 *   3..10  the inbound SA's highest number (its low 32 bits without ESN)
 *   11     a knob: the replay bitmap's pattern, how far below the highest
 *          number the sender starts, which octet the tamper test flips
 * Operations:
 *   0  the body is a packet from the network, decapsulated as it is;
 *   1  the same, its SPI forced to the SA's (so the parse goes deeper);
 *   2  round trip: the body is a payload, encapsulated by the outbound SA
 *      and decapsulated by the inbound one; then one bit flipped;
 *   3  a packet with an authentic ICV around an arbitrary ciphertext (with
 *      ENCR_NULL, so that the trailer check sees what the fuzzer wrote;
 *      other algorithms fall back to 1).
 * Properties: every refusal is one of the codes ipsec_esp.h lists and
 * leaves the output buffer as it was; a packet the outbound SA made is
 * accepted unless the window says replay; a tampered one never is; the
 * trailer verdict agrees with RFC 4303 2.4 computed here.  Anything else
 * is a finding: abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_proto.h"
#include "features/ipsec/ipsec_alg.h"
#include "features/ipsec/ipsec_esp.h"
#include "features/ipsec/ipsec_sa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ESP_HDR 12
#define FUZZ_ESP_SPI 0x0a0b0c0du
#define FUZZ_ESP_SEQ32_MAX 0xffffffffull

static const struct {
	unsigned encr, bits, integ;
} fuzz_esp_algs[] = {
	{ CTP_ENCR_AES_GCM_16, 128, CTP_INTEG_NONE },
	{ CTP_ENCR_AES_GCM_12, 256, CTP_INTEG_NONE },
	{ CTP_ENCR_AES_GCM_8, 192, CTP_INTEG_NONE },
	{ CTP_ENCR_CHACHA20_POLY1305, 256, CTP_INTEG_NONE },
	{ CTP_ENCR_AES_CBC, 128, CTP_INTEG_HMAC_SHA1_96 },
	{ CTP_ENCR_AES_CBC, 256, CTP_INTEG_HMAC_SHA2_256_128 },
	{ CTP_ENCR_3DES, 192, CTP_INTEG_HMAC_SHA2_384_192 },
	{ CTP_ENCR_AES_CTR, 128, CTP_INTEG_HMAC_SHA2_512_256 },
	{ CTP_ENCR_AES_CTR, 256, CTP_INTEG_HMAC_SHA2_256_128 },
	{ CTP_ENCR_NULL, 0, CTP_INTEG_HMAC_SHA2_256_128 },
	{ CTP_ENCR_NULL, 0, CTP_INTEG_HMAC_SHA1_96 },
	{ CTP_ENCR_NULL, 0, CTP_INTEG_HMAC_SHA2_512_256 },
};
#define FUZZ_ESP_NALGS (sizeof fuzz_esp_algs / sizeof fuzz_esp_algs[0])

static struct {
	struct ipsec_sa out, in;
	uint8_t         pkt[IPSEC_ESP_PACKET_MAX + 64], buf[IPSEC_ESP_PACKET_MAX + 64];
} F;

static uint64_t
fuzz_esp_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* The SA pair of the header: same keys, outbound and inbound. */
static int
fuzz_esp_sas(const uint8_t *h)
{
	unsigned k = h[0] % FUZZ_ESP_NALGS;
	const struct ipsec_alg *ea = ipsec_alg_find(IPSEC_ALG_ENCR, fuzz_esp_algs[k].encr);
	const struct ipsec_alg *ia = ipsec_alg_find(IPSEC_ALG_INTEG, fuzz_esp_algs[k].integ);
	struct ipsec_sa *o = &F.out, *in = &F.in;
	uint32_t window = 32u * (1u + h[2] % 128u), x = 0x9e3779b9u ^ h[11];
	uint64_t highest = fuzz_esp_u64(h + 3), d;

	if (!ea || !ia)
		abort();
	ipsec_sa_clear(o);
	o->spi = FUZZ_ESP_SPI;
	o->protocol = CTP_IPPROTO_ESP;
	o->mode = CTP_MODE_TUNNEL;
	o->direction = CTP_DIRECTION_OUT;
	o->flags = h[1] & 1 ? IPSEC_SA_F_ESN : 0;
	o->family = 4;
	if (ctp_addr_parse(&o->local, "192.0.2.1") < 0 || ctp_addr_parse(&o->peer, "192.0.2.2") < 0)
		abort();
	o->has_encr = true;
	o->encr.id = (uint16_t)fuzz_esp_algs[k].encr;
	o->encr.key_bits = (uint16_t)fuzz_esp_algs[k].bits;
	o->encr.key_len = (uint16_t)ipsec_alg_key_octets(ea, fuzz_esp_algs[k].bits);
	for (size_t i = 0; i < o->encr.key_len; i++)
		o->encr.key[i] = (uint8_t)(0x11 * i + k);
	if (!ea->aead) {
		o->has_integ = true;
		o->integ.id = (uint16_t)fuzz_esp_algs[k].integ;
		o->integ.key_len = (uint16_t)ipsec_alg_key_octets(ia, ia->keys[0].bits);
		for (size_t i = 0; i < o->integ.key_len; i++)
			o->integ.key[i] = (uint8_t)(0x2d * i + 3 + k);
	}
	if (!(o->flags & IPSEC_SA_F_ESN))
		highest &= FUZZ_ESP_SEQ32_MAX;
	/* the sender starts at or below the receiver's highest + 1 */
	d = h[11] % (window + 2u);
	o->has_seq_out = true;
	o->seq_out.next = highest + 1 > d ? highest + 1 - d : 1;
	if (o->seq_out.next == 0 || (!(o->flags & IPSEC_SA_F_ESN) &&
	    o->seq_out.next > FUZZ_ESP_SEQ32_MAX))
		o->seq_out.next = highest ? highest : 1;

	*in = *o;
	in->direction = CTP_DIRECTION_IN;
	in->has_seq_out = false;
	memset(&in->seq_out, 0, sizeof in->seq_out);
	if (h[1] & 2)
		in->flags |= IPSEC_SA_F_ANTI_REPLAY;
	in->has_replay = true;
	in->replay.window = window;
	in->replay.highest = highest;
	in->replay.bitmap_len = (uint16_t)(window / 8);
	for (uint32_t i = 0; i < window; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		if (i < highest && (i == 0 || (x & 3) == 0))
			in->replay.bitmap[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	}
	return 0;
}

static struct ipsec_esp *
fuzz_esp_engine(const struct ipsec_sa *sa)
{
	struct ctp_err err = { 0 };
	struct ipsec_esp *e = NULL;

	if (ipsec_esp_new(sa, &e, &err) != 0 || !e) {
		fprintf(stderr, "fuzz_ipsec_esp: the SA is refused: %s\n", err.what);
		abort();   /* the SAs are made valid above */
	}
	return e;
}

/* Decapsulate; a refusal is a listed code and leaves w as it was. */
static int
fuzz_esp_decap(struct ipsec_esp *d, const uint8_t *pkt, size_t len, struct ipsec_esp_rx *rx)
{
	struct ctp_wbuf w;
	int rc;

	memset(rx, 0, sizeof *rx);
	ctp_wbuf_init(&w, F.buf, sizeof F.buf);
	rc = ipsec_esp_decap(d, pkt, len, &w, rx);
	switch (rc) {
	case 0:
		if (rx->len != w.len || rx->len > len)
			abort();
		break;
	case CTP_E_SHORT: case CTP_E_LENGTH: case CTP_E_NOTFOUND: case CTP_E_STATE:
	case CTP_E_LIMIT: case CTP_E_AUTH: case CTP_E_VALUE:
		if (w.len != 0)
			abort();
		break;
	default:
		abort();
	}
	return rc;
}

/* The body as a payload: what the outbound SA makes, the inbound SA takes. */
static void
fuzz_esp_roundtrip(struct ipsec_esp *e, struct ipsec_esp *d, const uint8_t *body, size_t n,
    uint8_t knob)
{
	struct ipsec_esp_rx rx;
	struct ctp_wbuf w;
	uint64_t seq = 0;
	size_t len;
	int rc;

	ctp_wbuf_init(&w, F.pkt, sizeof F.pkt);
	rc = ipsec_esp_encap(e, body, n, 4, &w, &seq);
	if (rc == CTP_E_LIMIT)
		return;
	if (rc != 0)
		abort();
	len = w.len;
	if (len != ipsec_esp_packet_len(e, n))
		abort();
	rc = fuzz_esp_decap(d, F.pkt, len, &rx);
	if (rc == 0) {
		if (rx.seq != seq || rx.next_header != 4 || rx.len != n ||
		    (n && memcmp(F.buf, body, n) != 0))
			abort();
	} else if (rc == CTP_E_STATE || rc == CTP_E_LIMIT) {
		/* only the window may refuse it: a number above the highest,
		 * close enough that ESN inference cannot miss, is new */
		if (seq > F.in.replay.highest && seq - F.in.replay.highest < (1u << 30))
			abort();
	} else if (rc == CTP_E_AUTH && (F.in.flags & IPSEC_SA_F_ESN) &&
	    seq + F.in.replay.window <= F.in.replay.highest) {
		/* RFC 4303 A2.2: with ESN a number left of the window is taken
		 * for one of the next 2^32, whose ICV cannot match */
	} else {
		fprintf(stderr, "fuzz_ipsec_esp: a genuine packet (seq %llu, highest %llu) refused: "
		    "%s\n", (unsigned long long)seq, (unsigned long long)F.in.replay.highest,
		    ctp_errname(rc));
		abort();
	}
	/* one bit flipped anywhere: never accepted */
	F.pkt[knob % len] ^= (uint8_t)(1u << (knob % 8));
	if (fuzz_esp_decap(d, F.pkt, len, &rx) == 0)
		abort();
}

/* ENCR_NULL: an authentic packet around whatever ciphertext the fuzzer wrote. */
static void
fuzz_esp_forged(struct ipsec_esp *d, const uint8_t *body, size_t n)
{
	uint8_t icv[IPSEC_ESP_ICV_MAX];
	struct ipsec_esp_rx rx;
	size_t icv_len = 0, plen = 0, len;
	uint64_t seq = F.in.replay.highest + 1;
	int rc, want = 0;

	/* without ESN: the ICV covers exactly what is on the wire */
	if ((F.in.flags & IPSEC_SA_F_ESN) || seq > FUZZ_ESP_SEQ32_MAX ||
	    n > sizeof F.pkt - 8 - IPSEC_ESP_ICV_MAX)
		return;
	F.pkt[0] = (uint8_t)(FUZZ_ESP_SPI >> 24), F.pkt[1] = (uint8_t)(FUZZ_ESP_SPI >> 16);
	F.pkt[2] = (uint8_t)(FUZZ_ESP_SPI >> 8), F.pkt[3] = (uint8_t)FUZZ_ESP_SPI;
	F.pkt[4] = (uint8_t)(seq >> 24), F.pkt[5] = (uint8_t)(seq >> 16);
	F.pkt[6] = (uint8_t)(seq >> 8), F.pkt[7] = (uint8_t)seq;
	if (n)
		memcpy(F.pkt + 8, body, n);
	if (ipsec_esp_icv(d, F.pkt, 8 + n, icv, &icv_len) != 0 || icv_len > IPSEC_ESP_ICV_MAX)
		abort();
	memcpy(F.pkt + 8 + n, icv, icv_len);
	len = 8 + n + icv_len;

	/* RFC 4303 2.4 and 2.5, independently */
	if (n < 2) {
		want = CTP_E_SHORT;
	} else if (body[n - 2] > n - 2) {
		want = CTP_E_VALUE;
	} else {
		plen = n - 2 - body[n - 2];
		for (size_t i = 1; i <= body[n - 2]; i++)
			if (body[plen + i - 1] != (uint8_t)i)
				want = CTP_E_VALUE;
	}
	rc = fuzz_esp_decap(d, F.pkt, len, &rx);
	if (rc != want)
		abort();
	if (rc == 0 && (rx.len != plen || rx.next_header != body[n - 1] || rx.seq != seq ||
	    (plen && memcmp(F.buf, body, plen) != 0)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipsec_esp *e, *d;
	struct ipsec_esp_rx rx;
	const uint8_t *body;
	uint32_t spi, sl;
	unsigned op;
	size_t n;

	if (size < FUZZ_ESP_HDR || size - FUZZ_ESP_HDR > IPSEC_ESP_PACKET_MAX)
		return 0;
	fuzz_esp_sas(data);
	e = fuzz_esp_engine(&F.out);
	d = fuzz_esp_engine(&F.in);
	body = data + FUZZ_ESP_HDR;
	n = size - FUZZ_ESP_HDR;
	op = (data[1] >> 2) & 3;
	if (op == 3 && fuzz_esp_algs[data[0] % FUZZ_ESP_NALGS].encr != CTP_ENCR_NULL)
		op = 1;
	switch (op) {
	case 0:
		if ((ipsec_esp_peek(body, n, &spi, &sl) == 0) != (n >= IPSEC_ESP_HDR_LEN))
			abort();
		(void)fuzz_esp_decap(d, body, n, &rx);
		break;
	case 1:
		if (n > sizeof F.pkt)
			break;
		memcpy(F.pkt, body, n);
		if (n >= 4) {
			F.pkt[0] = (uint8_t)(FUZZ_ESP_SPI >> 24), F.pkt[1] = (uint8_t)(FUZZ_ESP_SPI >> 16);
			F.pkt[2] = (uint8_t)(FUZZ_ESP_SPI >> 8), F.pkt[3] = (uint8_t)FUZZ_ESP_SPI;
		}
		/* an exact copy, so that ASan sees any read past its end */
		{
			uint8_t *exact = malloc(n ? n : 1);

			if (!exact)
				abort();
			memcpy(exact, F.pkt, n);
			(void)fuzz_esp_decap(d, exact, n, &rx);
			free(exact);
		}
		break;
	case 2:
		fuzz_esp_roundtrip(e, d, body, n, data[11]);
		break;
	case 3:
		fuzz_esp_forged(d, body, n);
		break;
	}
	ipsec_esp_free(e);
	ipsec_esp_free(d);
	ipsec_sa_clear(&F.out);
	ipsec_sa_clear(&F.in);
	return 0;
}
