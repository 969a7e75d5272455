/*
 * fuzz_mld_cdb.c: libFuzzer harness for the MLD context CDB (FPT 0x0001,
 * RFC 4067 appendix B).
 *
 * Input: octet 0 is the CDB's flags octet (P and the reserved bits); when P
 * is set the next 4 octets are the presence vector; the rest is the data,
 * decoded in place.  Whatever decodes must encode, decode again to the same
 * context, and survive describe then build through the plugin as the same
 * octets (as a whole CDB, zero-padded).  Whatever does not decode must say
 * where and why, with status 0x05, and leave the context zeroed.  Anything
 * else is a bug: abort().
 *
 * Build (from the source tree):
 *   clang -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -g -O1 \
 *     -Iinclude -Isrc tests/fuzz/fuzz_mld_cdb.c src/features/mld/mld_*.c \
 *     src/ctp/ctp_{err,proto,defs,addr,msg,tlv,val,secret}.c -lcrypto
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_feature.h"
#include "ctp/ctp_msg.h"
#include "features/mld/mld_cdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct ctp_feature ctp_feature;

static void *fuzz_state;

static void
fuzz_mld_init(void)
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

static void
fuzz_mld_describe_build(const struct ctp_cdb *cdb, const uint8_t *octets, size_t len)
{
	struct ctp_val *o = ctp_val_obj(), *o2 = NULL;
	struct ctp_err err = { 0 };
	uint8_t out[2 * CTP_MAX_CDB_LEN];
	struct ctp_wbuf w;
	char *text;

	if (!o)
		abort();
	if (ctp_val_set_u64(o, "fpt", cdb->fpt) || ctp_val_set_u64(o, "length", cdb->units) ||
	    ctp_val_set_u64(o, "p", (cdb->flags & CTP_CDB_P) ? 1 : 0))
		abort();
	if ((cdb->flags & CTP_CDB_P) && ctp_val_set_u64(o, "pv", cdb->pv))
		abort();
	if ((cdb->flags & CTP_CDB_RESERVED) &&
	    ctp_val_set_u64(o, "reserved", cdb->flags & CTP_CDB_RESERVED))
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
	static const struct mld_ctx zero;
	uint8_t buf[64], full[CTP_MAX_CDB_LEN];
	struct mld_ctx ctx, ctx2;
	struct ctp_cdb cdb, cdb2;
	struct ctp_err err = { 0 };
	struct ctp_wbuf w;
	struct ctp_cur c;
	size_t hdr, flen;
	int rc;

	fuzz_mld_init();
	if (size < 1)
		return 0;
	memset(&cdb, 0, sizeof cdb);
	cdb.fpt = CTP_FPT_MLD;
	cdb.flags = data[0];
	hdr = CTP_CDB_HDR_LEN;
	if (cdb.flags & CTP_CDB_P) {
		if (size < 5)
			return 0;
		cdb.pv = ctp_get_u32(data + 1);
		hdr += 4;
	}
	if (size - 1 - (hdr - CTP_CDB_HDR_LEN) + hdr > CTP_MAX_CDB_LEN)
		return 0;
	cdb.data = data + 1 + (hdr - CTP_CDB_HDR_LEN);
	cdb.len = size - 1 - (hdr - CTP_CDB_HDR_LEN);
	cdb.units = (uint8_t)((hdr + cdb.len + 7) / 8);
	rc = mld_cdb_decode(&cdb, &ctx, &err);
	if (rc != 0) {
		if (err.code != rc || err.what[0] == '\0' || err.status != CTP_ST_MALFORMED_CDB ||
		    err.off > hdr + cdb.len || memcmp(&ctx, &zero, sizeof ctx) != 0)
			abort();
		return 0;
	}

	/* the canonical form decodes to the same context */
	ctp_wbuf_init(&w, buf, sizeof buf);
	if (mld_cdb_encode(&ctx, &w) != 0)
		abort();
	ctp_cur_init(&c, buf, w.len, 0);
	if (ctp_cdb_next(&c, 0, &cdb2, &err) != 1 || c.left != 0)
		abort();
	if (mld_cdb_decode(&cdb2, &ctx2, &err) != 0 || memcmp(&ctx, &ctx2, sizeof ctx) != 0)
		abort();
	fuzz_mld_describe_build(&cdb2, buf, w.len);

	/* the input as a whole CDB, zero-padded: describe then build */
	flen = (hdr + cdb.len + 7) / 8 * 8;
	memset(full, 0, flen);
	full[1] = 0x01;
	full[2] = (uint8_t)(flen / 8);
	full[3] = cdb.flags;
	if (size > 1)
		memcpy(full + CTP_CDB_HDR_LEN, data + 1, size - 1);
	ctp_cur_init(&c, full, flen, 0);
	if (ctp_cdb_next(&c, 0, &cdb2, &err) != 1 || mld_cdb_decode(&cdb2, &ctx2, &err) != 0 ||
	    memcmp(&ctx, &ctx2, sizeof ctx) != 0)
		abort();
	fuzz_mld_describe_build(&cdb2, full, flen);
	return 0;
}
