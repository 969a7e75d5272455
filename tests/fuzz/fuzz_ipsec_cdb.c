/*
 * fuzz_ipsec_cdb.c: libFuzzer harness for the IPsec SA CDB (FPT 0xFF01).
 *
 * The input is the data of one CDB (after a fixed header: FPT 0xFF01, P = 0),
 * decoded in place so that any read past it is caught.  Whatever decodes
 * must encode, decode again to the same SA, and encode again to the same
 * octets; the plugin's describe then build must give back the CDB exactly.
 * Whatever does not decode must say where and why, with a status a receiver
 * can send, and leave the struct wiped.  Anything else is a bug: abort().
 *
 * Build (from the source tree):
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -g -O1 \
 *     -Iinclude -Isrc tests/fuzz/fuzz_ipsec_cdb.c src/features/ipsec/ipsec_*.c \
 *     src/ctp/ctp_{err,proto,defs,addr,msg,tlv,val,secret}.c -lcrypto
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_feature.h"
#include "ctp/ctp_msg.h"
#include "features/ipsec/ipsec_sa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct ctp_feature ctp_feature;

static void *fuzz_state;

static void
fuzz_ipsec_init(void)
{
	struct ctp_val *cfg;
	struct ctp_err err = { 0 };

	if (fuzz_state)
		return;
	if ((cfg = ctp_val_obj()) == NULL ||
	    ctp_feature.init(NULL, NULL, cfg, &fuzz_state, &err) != 0)
		abort();
	ctp_val_free(cfg);
}

/* A failure names itself: code, offset inside the CDB, a status, a line. */
static void
fuzz_ipsec_check_err(int rc, const struct ctp_err *err, size_t cdb_len)
{
	if (rc >= 0)
		abort();
	if (err->code != rc || err->what[0] == '\0' || err->off > cdb_len)
		abort();
	switch (err->status) {
	case CTP_ST_MALFORMED_CDB: case CTP_ST_NO_RESOURCES:
	case CTP_ST_IPSEC_ALG_UNSUPPORTED: case CTP_ST_IPSEC_UNKNOWN_CRITICAL:
	case CTP_ST_IPSEC_LIFETIME_EXPIRED: case CTP_ST_IPSEC_SEQ_EXHAUSTED:
	case CTP_ST_IPSEC_POLICY:
		break;
	default:
		abort();
	}
}

static int
fuzz_ipsec_same(const struct ipsec_sa *a, const struct ipsec_sa *b)
{
	static struct ipsec_sa x, y;

	x = *a;
	y = *b;
	memset(&x.where, 0, sizeof x.where);
	memset(&y.where, 0, sizeof y.where);
	return memcmp(&x, &y, sizeof x) == 0;
}

/* describe as the core does (header keys first), through JSON, then build. */
static void
fuzz_ipsec_describe_build(const struct ctp_cdb *cdb, const uint8_t *cdb_octets, size_t len)
{
	struct ctp_val *o = ctp_val_obj(), *o2 = NULL;
	struct ctp_err err = { 0 };
	static uint8_t out[4096];
	struct ctp_wbuf w;
	char *text;

	if (!o)
		abort();
	if (ctp_val_set_u64(o, "fpt", cdb->fpt) || ctp_val_set_u64(o, "length", cdb->units) ||
	    ctp_val_set_u64(o, "p", 0))
		abort();
	if (ctp_feature.cdb_describe(fuzz_state, cdb, 4, o, &err) != 0)
		abort();
	if ((text = ctp_json_string(o, 0)) == NULL ||
	    ctp_json_parse(text, strlen(text), &o2, &err) != 0)
		abort();
	ctp_wbuf_init(&w, out, sizeof out);
	if (ctp_feature.cdb_build(fuzz_state, cdb->fpt, o2, &w, &err) != 0)
		abort();
	if (w.len != len || memcmp(out, cdb_octets, len) != 0)
		abort();
	free(text);
	ctp_val_free(o);
	ctp_val_free(o2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipsec_sa sa, sa2, zero;
	static uint8_t buf[4096], buf2[4096], full[CTP_MAX_CDB_LEN];
	struct ctp_cdb cdb, cdb2;
	struct ctp_err err = { 0 };
	struct ctp_wbuf w, w2;
	struct ctp_cur c;
	size_t flen;
	int rc;

	fuzz_ipsec_init();
	if (size > CTP_MAX_CDB_LEN - CTP_CDB_HDR_LEN)
		return 0;
	memset(&cdb, 0, sizeof cdb);
	cdb.fpt = CTP_FPT_IPSEC_SA;
	cdb.units = (uint8_t)((size + CTP_CDB_HDR_LEN + 7) / 8);
	cdb.data = data;
	cdb.len = size;
	rc = ipsec_sa_decode(&cdb, &sa, &err);
	if (rc != 0) {
		fuzz_ipsec_check_err(rc, &err, size + CTP_CDB_HDR_LEN);
		if (memcmp(&sa, &zero, sizeof sa) != 0)
			abort();
		return 0;
	}

	/* encode, decode, compare, encode again: one canonical form */
	ctp_wbuf_init(&w, buf, sizeof buf);
	if (ipsec_sa_encode(&sa, &w) != 0)
		abort();
	ctp_cur_init(&c, buf, w.len, 0);
	if (ctp_cdb_next(&c, 0, &cdb2, &err) != 1 || c.left != 0)
		abort();
	if (ipsec_sa_decode(&cdb2, &sa2, &err) != 0 || !fuzz_ipsec_same(&sa, &sa2))
		abort();
	ctp_wbuf_init(&w2, buf2, sizeof buf2);
	if (ipsec_sa_encode(&sa2, &w2) != 0 || w2.len != w.len || memcmp(buf, buf2, w.len) != 0)
		abort();
	fuzz_ipsec_describe_build(&cdb2, buf, w.len);

	/* the input as a whole CDB (header, zero padding): describe, build */
	flen = (size + CTP_CDB_HDR_LEN + 7) / 8 * 8;
	memset(full, 0, flen);
	full[0] = 0xff;
	full[1] = 0x01;
	full[2] = (uint8_t)(flen / 8);
	if (size)
		memcpy(full + CTP_CDB_HDR_LEN, data, size);
	ctp_cur_init(&c, full, flen, 0);
	if (ctp_cdb_next(&c, 0, &cdb2, &err) != 1 || ipsec_sa_decode(&cdb2, &sa2, &err) != 0)
		abort();
	fuzz_ipsec_describe_build(&cdb2, full, flen);

	ipsec_sa_clear(&sa);
	ipsec_sa_clear(&sa2);
	return 0;
}
