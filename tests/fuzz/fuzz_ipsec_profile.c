/*
 * fuzz_ipsec_profile.c: libFuzzer harness for the IPsec user profile CDB
 * (FPT 0xFF02).
 *
 * The input is the data of one CDB (after a fixed header: FPT 0xFF02,
 * P = 0), decoded in place.  Whatever decodes must encode, decode again to
 * the same profile and encode again to the same octets; the plugin's
 * describe then build must give back the CDB exactly.  Whatever does not
 * decode must say where and why, and leave the struct wiped.  Anything else
 * is a bug: abort().
 *
 * Build (from the source tree):
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -g -O1 \
 *     -Iinclude -Isrc tests/fuzz/fuzz_ipsec_profile.c src/features/ipsec/ipsec_*.c \
 *     src/ctp/ctp_{err,proto,defs,addr,msg,tlv,val,secret}.c -lcrypto
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_feature.h"
#include "ctp/ctp_msg.h"
#include "features/ipsec/ipsec_profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct ctp_feature ctp_feature;

static void *fuzz_state;

static void
fuzz_ipsec_profile_init(void)
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

/* Two profiles are the same when all but the offsets agree. */
static int
fuzz_ipsec_profile_same(const struct ipsec_profile *a, const struct ipsec_profile *b)
{
	static struct ipsec_profile x, y;

	x = *a;
	y = *b;
	for (size_t i = 0; i < IPSEC_PROFILE_MAX_PREFS; i++)
		x.encr[i].off = y.encr[i].off = x.integ[i].off = y.integ[i].off = 0;
	for (size_t i = 0; i < IPSEC_PROFILE_PLANES; i++)
		x.path[i].off = y.path[i].off = 0;
	x.user_id_off = y.user_id_off = 0;
	return memcmp(&x, &y, sizeof x) == 0;
}

static void
fuzz_ipsec_profile_describe_build(const struct ctp_cdb *cdb, const uint8_t *octets, size_t len)
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
	if (ctp_feature.cdb_describe(fuzz_state, cdb, 6, o, &err) != 0)
		abort();
	if ((text = ctp_json_string(o, 0)) == NULL ||
	    ctp_json_parse(text, strlen(text), &o2, &err) != 0)
		abort();
	ctp_wbuf_init(&w, out, sizeof out);
	if (ctp_feature.cdb_build(fuzz_state, cdb->fpt, o2, &w, &err) != 0)
		abort();
	if (w.len != len || memcmp(out, octets, len) != 0)
		abort();
	free(text);
	ctp_val_free(o);
	ctp_val_free(o2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipsec_profile p, p2, zero;
	static uint8_t buf[4096], buf2[4096], full[CTP_MAX_CDB_LEN];
	struct ctp_cdb cdb, cdb2;
	struct ctp_err err = { 0 };
	struct ctp_wbuf w, w2;
	struct ctp_cur c;
	size_t flen;
	int rc;

	fuzz_ipsec_profile_init();
	if (size > CTP_MAX_CDB_LEN - CTP_CDB_HDR_LEN)
		return 0;
	memset(&cdb, 0, sizeof cdb);
	cdb.fpt = CTP_FPT_IPSEC_PROFILE;
	cdb.units = (uint8_t)((size + CTP_CDB_HDR_LEN + 7) / 8);
	cdb.data = data;
	cdb.len = size;
	rc = ipsec_profile_decode(&cdb, &p, &err);
	if (rc != 0) {
		if (err.code != rc || err.what[0] == '\0' || err.off > size + CTP_CDB_HDR_LEN ||
		    (err.status != CTP_ST_MALFORMED_CDB && err.status != CTP_ST_NO_RESOURCES &&
		    err.status != CTP_ST_IPSEC_UNKNOWN_CRITICAL && err.status != CTP_ST_IPSEC_POLICY))
			abort();
		if (memcmp(&p, &zero, sizeof p) != 0)
			abort();
		return 0;
	}

	ctp_wbuf_init(&w, buf, sizeof buf);
	if (ipsec_profile_encode(&p, &w) != 0)
		abort();
	ctp_cur_init(&c, buf, w.len, 0);
	if (ctp_cdb_next(&c, 0, &cdb2, &err) != 1 || c.left != 0)
		abort();
	if (ipsec_profile_decode(&cdb2, &p2, &err) != 0 || !fuzz_ipsec_profile_same(&p, &p2))
		abort();
	ctp_wbuf_init(&w2, buf2, sizeof buf2);
	if (ipsec_profile_encode(&p2, &w2) != 0 || w2.len != w.len ||
	    memcmp(buf, buf2, w.len) != 0)
		abort();
	fuzz_ipsec_profile_describe_build(&cdb2, buf, w.len);

	flen = (size + CTP_CDB_HDR_LEN + 7) / 8 * 8;
	memset(full, 0, flen);
	full[0] = 0xff;
	full[1] = 0x02;
	full[2] = (uint8_t)(flen / 8);
	if (size)
		memcpy(full + CTP_CDB_HDR_LEN, data, size);
	ctp_cur_init(&c, full, flen, 0);
	if (ctp_cdb_next(&c, 0, &cdb2, &err) != 1 || ipsec_profile_decode(&cdb2, &p2, &err) != 0)
		abort();
	fuzz_ipsec_profile_describe_build(&cdb2, full, flen);
	ipsec_profile_clear(&p);
	ipsec_profile_clear(&p2);
	return 0;
}
