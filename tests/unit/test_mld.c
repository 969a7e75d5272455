/*
 * test_mld.c: the MLD context (RFC 4067 appendix B, FPT 0x0001): the codec
 * called directly, and the real mld.so through the registry.  The committed
 * vectors tests/vectors/mld_*.hex are rebuilt here and must match
 * (CTP_REGEN_VECTORS=1 writes them instead).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_describe.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_val.h"
#include "features/mld/mld_cdb.h"
#include "test.h"

struct mbuf {
	uint8_t        b[128];
	size_t         len;
	struct ctp_cdb cdb;
};

static void
v6(uint8_t *out, const char *s)
{
	struct ctp_addr a;

	CU_ASSERT_FATAL(ctp_addr_parse(&a, s) == 0 && a.family == 6);
	memcpy(out, a.a, 16);
}

static int
mparse(struct mbuf *mb, size_t off)
{
	struct ctp_err err;
	struct ctp_cur c;

	ctp_err_clear(&err);
	ctp_cur_init(&c, mb->b, mb->len, off);
	return ctp_cdb_next(&c, 0, &mb->cdb, &err);
}

/* A CDB from raw octets. */
static void
mraw(struct mbuf *mb, const char *hex)
{
	unsigned char *b;
	size_t n;

	memset(mb, 0, sizeof *mb);
	CU_ASSERT_PTR_NOT_NULL_FATAL((b = ctp_test_hex(hex, &n)));
	CU_ASSERT_FATAL(n <= sizeof mb->b);
	memcpy(mb->b, b, n);
	mb->len = n;
	free(b);
	CU_ASSERT_EQUAL_FATAL(mparse(mb, 0), 1);
}

static void
mencode(const struct mld_ctx *ctx, struct mbuf *mb)
{
	struct ctp_wbuf w;

	memset(mb, 0, sizeof *mb);
	ctp_wbuf_init(&w, mb->b, sizeof mb->b);
	CU_ASSERT_EQUAL_FATAL(mld_cdb_encode(ctx, &w), 0);
	mb->len = w.len;
	CU_ASSERT_EQUAL_FATAL(mparse(mb, 0), 1);
}

static void
mexpect(const char *what, struct mbuf *mb, int code, size_t off, const char *text)
{
	struct mld_ctx ctx;
	struct ctp_err err;
	int rc;

	ctp_err_clear(&err);
	rc = mld_cdb_decode(&mb->cdb, &ctx, &err);
	if (rc != code || (code && (err.status != CTP_ST_MALFORMED_CDB || err.off != off ||
	    (text && !strstr(err.what, text))))) {
		fprintf(stderr, "\n    %s: got %s off %zu status 0x%02x (%s)\n", what,
		    ctp_errname(rc), err.off, err.status, err.what);
		CU_FAIL(what);
	} else
		CU_PASS(what);
	if (code) {
		static const struct mld_ctx zero;

		CU_ASSERT(memcmp(&ctx, &zero, sizeof ctx) == 0);
	}
}

#define PREFIX "20010db8000100000000000000000000"   /* 2001:db8:1:: */
#define GROUP  "ff0e0000000000000000000000010003"   /* ff0e::1:3 */

static void
test_mld_plain(void)
{
	struct mld_ctx ctx, out;
	struct ctp_err err;
	struct mbuf mb, mb2;

	memset(&ctx, 0, sizeof ctx);
	ctx.has_prefix = true;
	v6(ctx.prefix, "2001:db8:1::");
	v6(ctx.group, "ff0e::1:3");
	mencode(&ctx, &mb);
	/* RFC 4067 appendix B: 36 octets, padded to 40, Length 5, P = 0 */
	CU_ASSERT_EQUAL(mb.len, 40);
	mraw(&mb2, "00010500" PREFIX GROUP "00000000");
	CU_ASSERT(memcmp(mb.b, mb2.b, 40) == 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(mld_cdb_decode(&mb.cdb, &out, &err), 0);
	CU_ASSERT(memcmp(&ctx, &out, sizeof ctx) == 0);
	CU_ASSERT_EQUAL(mld_cdb_verify(&ctx, &err), 0);

	/* the prefix may be all zeros without P: it is then on the wire */
	mraw(&mb, "00010500" "00000000000000000000000000000000" GROUP "00000000");
	CU_ASSERT_EQUAL(mld_cdb_decode(&mb.cdb, &out, &err), 0);
	CU_ASSERT(out.has_prefix);
	/* a longer Length is fine while the extra octets are zero */
	mraw(&mb, "00010600" PREFIX GROUP "00000000" "0000000000000000");
	CU_ASSERT_EQUAL(mld_cdb_decode(&mb.cdb, &out, &err), 0);
	/* reserved bits are ignored */
	mraw(&mb, "0001057f" PREFIX GROUP "00000000");
	CU_ASSERT_EQUAL(mld_cdb_decode(&mb.cdb, &out, &err), 0);
}

static void
test_mld_presence_vector(void)
{
	struct mld_ctx ctx, out;
	struct ctp_err err;
	struct mbuf mb;

	/* both bits: both fields, 40 octets */
	mraw(&mb, "00010580" "c0000000" PREFIX GROUP);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(mld_cdb_decode(&mb.cdb, &out, &err), 0);
	CU_ASSERT(out.has_prefix);
	CU_ASSERT_EQUAL(out.prefix[1], 0x01);
	CU_ASSERT_EQUAL(out.group[15], 0x03);

	/* the group alone: the prefix takes its default */
	mraw(&mb, "00010380" "40000000" GROUP);
	CU_ASSERT_EQUAL(mld_cdb_decode(&mb.cdb, &out, &err), 0);
	CU_ASSERT(!out.has_prefix);
	for (int i = 0; i < 16; i++)
		CU_ASSERT_EQUAL(out.prefix[i], 0);

	/* which the encoder writes for a context without a prefix */
	memset(&ctx, 0, sizeof ctx);
	v6(ctx.group, "ff0e::1:3");
	mencode(&ctx, &mb);
	CU_ASSERT_EQUAL(mb.len, 24);
	CU_ASSERT(memcmp(mb.b, "\x00\x01\x03\x80\x40\x00\x00\x00\xff\x0e", 10) == 0);
	CU_ASSERT_EQUAL(mld_cdb_decode(&mb.cdb, &out, &err), 0);
	CU_ASSERT(memcmp(&ctx, &out, sizeof ctx) == 0);

	/* a presence vector naming more fields than the data holds */
	mraw(&mb, "00010380" "c0000000" GROUP);
	mexpect("PV bits beyond the data", &mb, CTP_E_SHORT, 24, "group");
	mraw(&mb, "00010180" "c0000000");
	mexpect("PV with no data", &mb, CTP_E_SHORT, 8, "prefix");
	/* without the group bit */
	mraw(&mb, "00010380" "80000000" PREFIX);
	mexpect("PV without the group", &mb, CTP_E_VALUE, 4, "no default");
	mraw(&mb, "00010180" "00000000");
	mexpect("PV of zero", &mb, CTP_E_VALUE, 4, "no default");
	/* bits that name no field */
	mraw(&mb, "00010380" "44000000" GROUP);
	mexpect("PV bit 5", &mb, CTP_E_VALUE, 4, "presence vector bit 5 names no field");
	mraw(&mb, "00010380" "40000001" GROUP);
	mexpect("PV bit 31", &mb, CTP_E_VALUE, 4, "bit 31 names no field");
	/* padding after a PV form must be zero too */
	mraw(&mb, "00010480" "40000000" GROUP "00000000" "00000001");
	mexpect("PV padding", &mb, CTP_E_PAD, 31, "non-zero");
}

static void
test_mld_malformed(void)
{
	struct mld_ctx ctx;
	struct ctp_err err;
	struct mbuf mb;

	mraw(&mb, "00010500" PREFIX "20010db8000000000000000000000001" "00000000");
	mexpect("unicast group", &mb, CTP_E_VALUE, 20, "multicast");
	mraw(&mb, "00010500" PREFIX "ff010000000000000000000000000001" "00000000");
	mexpect("interface-local group", &mb, CTP_E_VALUE, 21, "scope 1");
	mraw(&mb, "00010500" PREFIX "ff000000000000000000000000000001" "00000000");
	mexpect("scope 0 group", &mb, CTP_E_VALUE, 21, "scope 0");
	mraw(&mb, "00010500" PREFIX "ff020000000000000000000000000001" "00000000");
	mexpect("all-nodes group", &mb, CTP_E_VALUE, 20, "ff02::1");
	mraw(&mb, "00010500" PREFIX "ff020000000000000000000000000002" "00000000");
	mexpect("all-routers group", &mb, 0, 0, NULL);
	mraw(&mb, "00010500" "ff0e0000000000000000000000000000" GROUP "00000000");
	mexpect("multicast prefix", &mb, CTP_E_VALUE, 4, "prefix");
	mraw(&mb, "00010500" PREFIX GROUP "00000100");
	mexpect("non-zero padding", &mb, CTP_E_PAD, 38, "non-zero");
	mraw(&mb, "00010400" PREFIX "ff0e00000000000000000000");
	mexpect("group cut short", &mb, CTP_E_SHORT, 20, "group");

	/* offsets are message offsets */
	mraw(&mb, "00010500" PREFIX "20010db8000000000000000000000001" "00000000");
	CU_ASSERT_EQUAL(mparse(&mb, 52), 1);
	mexpect("unicast group at 52", &mb, CTP_E_VALUE, 52 + 20, "multicast");

	/* request CDB, another FPT */
	mraw(&mb, "00010500" PREFIX GROUP "00000000");
	mb.cdb.units = 0;
	mb.cdb.len = 0;
	mexpect("request CDB", &mb, CTP_E_SHORT, 4, NULL);
	mb.cdb.fpt = 0xff01;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(mld_cdb_decode(&mb.cdb, &ctx, &err), CTP_E_INVAL);
	CU_ASSERT_EQUAL(err.status, CTP_ST_UNSUPPORTED_FPT);

	/* verify alone */
	memset(&ctx, 0, sizeof ctx);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(mld_cdb_verify(&ctx, &err), CTP_E_VALUE);
	v6(ctx.group, "ff05::1:3");
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(mld_cdb_verify(&ctx, &err), 0);

	/* a buffer too small */
	{
		struct ctp_wbuf w;
		uint8_t small[20];

		ctx.has_prefix = true;
		ctp_wbuf_init(&w, small, sizeof small);
		CU_ASSERT_EQUAL(mld_cdb_encode(&ctx, &w), CTP_E_NOSPACE);
	}
}

/* ---- the plugin ------------------------------------------------------------- */

static void
fake_log(struct ctp_host *host, int level, const char *func, const char *msg)
{
}

static uint64_t
fake_now(struct ctp_host *host)
{
	return 0;
}

static const struct ctp_host_ops fake_ops = {
	.size = sizeof(struct ctp_host_ops),
	.log = fake_log,
	.now_ms = fake_now,
};

static struct ctp_registry *reg;

static int
suite_init(void)
{
	char path[512];
	struct ctp_err err;

	if ((reg = ctp_registry_new(&fake_ops, NULL)) == NULL)
		return -1;
	ctp_err_clear(&err);
	snprintf(path, sizeof path, "%s/plugins/mld.so", ctp_test_build_dir());
	if (ctp_registry_load(reg, path, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.what);
		return -1;
	}
	return 0;
}

static int
suite_clean(void)
{
	ctp_registry_free(reg);
	reg = NULL;
	return 0;
}

static const struct ctp_plugin *
mld_plugin(void)
{
	const struct ctp_plugin *p = ctp_registry_find(reg, CTP_FPT_MLD);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

/* describe as the core would, then build, and compare the octets. */
static struct ctp_val *
mdescribe_build(const struct mbuf *mb)
{
	const struct ctp_plugin *p = mld_plugin();
	struct ctp_val *o = ctp_val_obj(), *o2 = NULL;
	struct ctp_err err;
	struct ctp_wbuf w;
	uint8_t out[128];
	char *text;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	ctp_err_clear(&err);
	ctp_val_set_u64(o, "fpt", mb->cdb.fpt);
	ctp_val_set_u64(o, "length", mb->cdb.units);
	ctp_val_set_u64(o, "p", (mb->cdb.flags & CTP_CDB_P) ? 1 : 0);
	if (mb->cdb.flags & CTP_CDB_P)
		ctp_val_set_u64(o, "pv", mb->cdb.pv);
	if (mb->cdb.flags & CTP_CDB_RESERVED)
		ctp_val_set_u64(o, "reserved", mb->cdb.flags & CTP_CDB_RESERVED);
	CU_ASSERT_EQUAL_FATAL(p->feat->cdb_describe(p->state, &mb->cdb, 6, o, &err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL((text = ctp_json_string(o, 0)));
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(text, strlen(text), &o2, &err), 0);
	free(text);
	ctp_wbuf_init(&w, out, sizeof out);
	CU_ASSERT_EQUAL_FATAL(p->feat->cdb_build(p->state, mb->cdb.fpt, o2, &w, &err), 0);
	CU_ASSERT_EQUAL(w.len, mb->len);
	CU_ASSERT(memcmp(out, mb->b, mb->len) == 0);
	ctp_val_free(o2);
	return o;
}

static int
mbuild(const char *json, uint8_t *out, size_t *len, struct ctp_err *err)
{
	const struct ctp_plugin *p = mld_plugin();
	struct ctp_val *o = NULL;
	struct ctp_wbuf w;
	int rc;

	ctp_err_clear(err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(json, strlen(json), &o, err), 0);
	ctp_wbuf_init(&w, out, 128);
	rc = p->feat->cdb_build(p->state, CTP_FPT_MLD, o, &w, err);
	*len = w.len;
	ctp_val_free(o);
	return rc;
}

static void
test_mld_plugin(void)
{
	const struct ctp_plugin *p = mld_plugin();
	struct ctp_val *o;
	struct ctp_err err;
	struct mbuf mb;
	uint8_t out[128];
	size_t len;

	CU_ASSERT_STRING_EQUAL(p->feat->name, "mld");
	CU_ASSERT_EQUAL(p->feat->nfpts, 1);

	/* plain form: both keys */
	mraw(&mb, "00010500" PREFIX GROUP "00000000");
	o = mdescribe_build(&mb);
	CU_ASSERT_STRING_EQUAL(ctp_val_get(o, "prefix")->s, "2001:db8:1::");
	CU_ASSERT_STRING_EQUAL(ctp_val_get(o, "group")->s, "ff0e::1:3");
	ctp_val_free(o);
	/* PV forms, a longer Length, reserved bits */
	mraw(&mb, "00010380" "40000000" GROUP);
	o = mdescribe_build(&mb);
	CU_ASSERT_PTR_NULL(ctp_val_get(o, "prefix"));
	ctp_val_free(o);
	mraw(&mb, "00010580" "c0000000" PREFIX GROUP);
	ctp_val_free(mdescribe_build(&mb));
	mraw(&mb, "00010703" PREFIX GROUP "00000000" "00000000000000000000000000000000");
	ctp_val_free(mdescribe_build(&mb));

	/* check refuses, and describe with it */
	mraw(&mb, "00010380" "44000000" GROUP);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(p->feat->cdb_check(p->state, &mb.cdb, 6, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(err.status, CTP_ST_MALFORMED_CDB);
	o = ctp_val_obj();
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(p->feat->cdb_describe(p->state, &mb.cdb, 6, o, &err), CTP_E_VALUE);
	ctp_val_free(o);

	/* build derives the PV from the keys present */
	CU_ASSERT_EQUAL(mbuild("{\"p\":1,\"group\":\"ff0e::1:3\"}", out, &len, &err), 0);
	CU_ASSERT_EQUAL(len, 24);
	CU_ASSERT(memcmp(out, "\x00\x01\x03\x80\x40\x00\x00\x00", 8) == 0);
	CU_ASSERT_EQUAL(mbuild("{\"p\":1,\"prefix\":\"2001:db8:1::\",\"group\":\"ff0e::1:3\"}",
	    out, &len, &err), 0);
	CU_ASSERT_EQUAL(len, 40);
	CU_ASSERT(memcmp(out, "\x00\x01\x05\x80\xc0\x00\x00\x00\x20\x01", 10) == 0);
	/* an explicit PV is written as given (malformed vectors can be built) */
	CU_ASSERT_EQUAL(mbuild("{\"p\":1,\"pv\":3221225472,\"group\":\"ff0e::1:3\"}", out, &len,
	    &err), 0);
	CU_ASSERT(memcmp(out, "\x00\x01\x03\x80\xc0\x00\x00\x00\xff\x0e", 10) == 0);
	/* without P the prefix defaults to :: on the wire; "length" is honoured */
	CU_ASSERT_EQUAL(mbuild("{\"length\":6,\"group\":\"ff0e::1:3\"}", out, &len, &err), 0);
	CU_ASSERT_EQUAL(len, 48);
	CU_ASSERT_EQUAL(out[2], 6);
	CU_ASSERT_EQUAL(out[4], 0);
	CU_ASSERT_EQUAL(out[20], 0xff);
	CU_ASSERT_EQUAL(mbuild("{\"length\":4,\"group\":\"ff0e::1:3\"}", out, &len, &err),
	    CTP_E_LIMIT);
	CU_ASSERT_EQUAL(len, 0);
	/* refusals */
	CU_ASSERT_EQUAL(mbuild("{\"prefix\":\"2001:db8::\"}", out, &len, &err), CTP_E_MISSING);
	CU_ASSERT_EQUAL(mbuild("{\"group\":\"192.0.2.1\"}", out, &len, &err), CTP_E_VALUE);
	CU_ASSERT(strstr(err.what, "IPv6") != NULL);
	CU_ASSERT_EQUAL(mbuild("{\"group\":7}", out, &len, &err), CTP_E_VALUE);
	CU_ASSERT_EQUAL(mbuild("{\"p\":2,\"group\":\"ff0e::1:3\"}", out, &len, &err), CTP_E_VALUE);
}

static void
test_mld_config(void)
{
	struct ctp_registry *r = ctp_registry_new(&fake_ops, NULL);
	struct ctp_val *cfg = NULL;
	struct ctp_err err;
	char path[512];

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	snprintf(path, sizeof path, "%s/plugins/mld.so", ctp_test_build_dir());
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse("{\"proxy\":true}", 14, &cfg, &err), 0);
	CU_ASSERT_EQUAL(ctp_registry_load(r, path, cfg, &err), CTP_E_CONFIG);
	CU_ASSERT(strstr(err.what, "\"proxy\"") != NULL);
	ctp_val_free(cfg);
	ctp_registry_free(r);
}

/* ---- vectors ---------------------------------------------------------------- */

static void
mvec(const char *name, const uint8_t *msg, size_t len)
{
	const char *dir = getenv("CTP_VECTOR_DIR");
	struct ctp_msg *m = malloc(sizeof *m);
	struct ctp_val *v = NULL, *v2 = NULL;
	unsigned char *text, *bin;
	uint8_t out[1024];
	struct ctp_err err;
	size_t tlen, blen, olen = 0;
	char path[512], *json;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/vectors", name);
	if (getenv("CTP_REGEN_VECTORS")) {
		FILE *f = fopen(path, "w");

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		for (size_t i = 0; i < len; i++)
			fprintf(f, "%02x%s", msg[i], i % 16 == 15 || i == len - 1 ? "\n" : "");
		fclose(f);
	}
	if ((text = ctp_test_read_file(path, &tlen)) == NULL) {
		fprintf(stderr, "\n    %s: cannot read (run from the source tree)\n", path);
		CU_FAIL("vector missing");
		free(m);
		return;
	}
	bin = ctp_test_hex((const char *)text, &blen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bin);
	CU_ASSERT(blen == len && memcmp(bin, msg, len) == 0);

	/* what a receiver and ctpctl decode do with it */
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_decode(m, bin, blen, 0, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_check_cdbs(m, reg, &err), 0);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_describe(m, reg, &v, &err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL((json = ctp_json_string(v, 0)));
	CU_ASSERT(strstr(json, "\"group\"") != NULL);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(json, strlen(json), &v2, &err), 0);
	CU_ASSERT_EQUAL(ctp_msg_build(v2, reg, out, sizeof out, &olen, &err), 0);
	CU_ASSERT(olen == blen && memcmp(out, bin, blen) == 0);
	free(json);
	ctp_val_free(v);
	ctp_val_free(v2);
	free(text);
	free(bin);
	free(m);
}

static size_t
mmessage(struct ctp_msg *m, const char *cdbs_hex, uint8_t *out, size_t cap)
{
	unsigned char *region;
	struct ctp_err err;
	struct ctp_cur c;
	size_t rlen, len = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL((region = ctp_test_hex(cdbs_hex, &rlen)));
	ctp_err_clear(&err);
	ctp_cur_init(&c, region, rlen, 0);
	while (c.left)
		CU_ASSERT_EQUAL_FATAL(ctp_cdb_next(&c, 0, &m->cdb[m->ncdb++], &err), 1);
	CU_ASSERT_EQUAL_FATAL(ctp_msg_encode(m, out, cap, &len, &err), 0);
	free(region);
	return len;
}

static void
test_mld_vectors(void)
{
	struct ctp_msg *m = malloc(sizeof *m);
	struct ctp_addr a;
	uint8_t msg[1024];
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	/* CTD, IPv6, A: one group in the plain form, one in the PV form */
	ctp_msg_init(m, CTP_MSG_CTD, 6);
	m->flags |= CTP_HDR_X;
	m->elapsed = 40;
	CU_ASSERT_EQUAL(ctp_addr_parse(&a, "2001:db8:1::10"), 0);
	m->mn_prev = a;
	len = mmessage(m, "00010500" PREFIX GROUP "00000000"
	    "00010380" "40000000" "ff050000000000000000000000000fb0", msg, sizeof msg);
	CU_ASSERT_EQUAL(msg[0], 0x23);
	CU_ASSERT_EQUAL(msg[1], 0x40);
	CU_ASSERT_EQUAL(len, 4 + 4 + 16 + 40 + 24);
	mvec("mld_ctd_v6.hex", msg, len);

	/* CTD, IPv4 (a dual-stack MN): PV with both bits, and a longer Length */
	ctp_msg_init(m, CTP_MSG_CTD, 4);
	m->elapsed = 3;
	CU_ASSERT_EQUAL(ctp_addr_parse(&a, "192.0.2.10"), 0);
	m->mn_prev = a;
	len = mmessage(m, "00010580" "c0000000" PREFIX "ff3e0030200106680000000000000000"
	    "00010600" PREFIX "ff080000000000000000000000000101" "00000000" "0000000000000000",
	    msg, sizeof msg);
	CU_ASSERT_EQUAL(msg[1], 0x80);
	mvec("mld_ctd_v4.hex", msg, len);

	/* PCTD, IPv6 */
	ctp_msg_init(m, CTP_MSG_PCTD, 6);
	m->flags |= CTP_HDR_X;
	m->key_alg = CTP_KEY_ALG_HMAC_SHA1;
	m->key_len = 32;
	m->key = (const uint8_t *)"0123456789abcdef0123456789abcdef";
	CU_ASSERT_EQUAL(ctp_addr_parse(&a, "2001:db8:1::10"), 0);
	m->mn_prev = a;
	len = mmessage(m, "00010380" "40000000" "ff0e0000000000000000000000010003", msg,
	    sizeof msg);
	mvec("mld_pctd_v6.hex", msg, len);
	free(m);
}

CTP_TEST_SUITE(mld, suite_init, suite_clean,
    CTP_TEST(test_mld_plain),
    CTP_TEST(test_mld_presence_vector),
    CTP_TEST(test_mld_malformed),
    CTP_TEST(test_mld_plugin),
    CTP_TEST(test_mld_config),
    CTP_TEST(test_mld_vectors),
)
