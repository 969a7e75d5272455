/*
 * test_mld.c: the MLD context (RFC 4067 appendix B, FPT 0x0001): the codec
 * called directly, and the real mld.so through the registry.  The committed
 * vectors tests/vectors/mld_*.hex are rebuilt here and must match
 * (CTP_REGEN_VECTORS=1 writes them instead).
 *
 * Then the feature at work: its configuration, the table and the "mld"
 * control command with a fake host, the transfer operations called one by
 * one, and two ARs (pr, nr) on the in-memory wire moving an MN's groups
 * with the engine.  Those use the operations linked into this binary
 * (MLD_OPS_FEATURE, the initialiser mld.so exports), registered as a
 * built-in.  Run as root, the last test also checks in a network namespace
 * of its own that the kernel really lists the groups nr joins.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_conf.h"
#include "ctp/ctp_describe.h"
#include "ctp/ctp_engine.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_token.h"
#include "ctp/ctp_val.h"
#include "features/mld/mld_cdb.h"
#include "features/mld/mld_ops.h"
#include "features/mld/mld_state.h"
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

/* ---- the feature: configuration, table, command (a fake host) -------------- */

static const struct ctp_feature mld_builtin = MLD_OPS_FEATURE;

/* The host a plugin sees here: it keeps the command and the log lines. */
struct fake_host {
	ctp_host_cmd_fn fn;
	void           *state;
	char            name[32];
	unsigned        ncmds;
	char            log[8192];
	size_t          loglen;
};

static struct fake_host fh;

static void
fh_log(struct ctp_host *host, int level, const char *func, const char *msg)
{
	struct fake_host *h = (struct fake_host *)(void *)host;
	int n;

	if (h->loglen >= sizeof h->log - 1)
		return;
	n = snprintf(h->log + h->loglen, sizeof h->log - h->loglen, "%s: %s\n", func, msg);
	if (n > 0)
		h->loglen += (size_t)n < sizeof h->log - h->loglen ? (size_t)n :
		    sizeof h->log - 1 - h->loglen;
}

static int
fh_register(struct ctp_host *host, const char *name, ctp_host_cmd_fn fn, void *state)
{
	struct fake_host *h = (struct fake_host *)(void *)host;

	h->ncmds++;
	snprintf(h->name, sizeof h->name, "%s", name);
	h->fn = fn;
	h->state = state;
	return 0;
}

static const struct ctp_host_ops fh_ops = {
	.size = sizeof(struct ctp_host_ops),
	.log = fh_log,
	.now_ms = fake_now,
	.register_cmd = fh_register,
};

static void
fh_log_clear(void)
{
	fh.log[0] = '\0';
	fh.loglen = 0;
}

/* A registry with the built-in mld configured by json; the add's rc. */
static int
fh_load(const char *json, struct ctp_registry **out, struct ctp_err *err)
{
	struct ctp_val *cfg = NULL;
	int rc;

	memset(&fh, 0, sizeof fh);
	*out = ctp_registry_new(&fh_ops, (struct ctp_host *)(void *)&fh);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*out);
	ctp_err_clear(err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(json, strlen(json), &cfg, err), 0);
	rc = ctp_registry_add(*out, &mld_builtin, cfg, err);
	ctp_val_free(cfg);
	return rc;
}

/*
 * Call the command init registered, as the control socket would: its rc;
 * with rc 0 and text not NULL, *text is the reply as JSON (the caller's).
 */
static int
fh_cmd(const char *json, char **text, struct ctp_err *err)
{
	struct ctp_val *req = NULL, *reply = ctp_val_obj();
	int rc;

	if (text)
		*text = NULL;
	ctp_err_clear(err);
	CU_ASSERT_EQUAL_FATAL(ctp_json_parse(json, strlen(json), &req, err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fh.fn);
	rc = fh.fn(fh.state, req, reply, err);
	if (rc == 0 && text)
		*text = ctp_json_string(reply, 0);
	ctp_val_free(req);
	ctp_val_free(reply);
	return rc;
}

/* The command's reply must be want exactly. */
static void
fh_expect(const char *json, const char *want)
{
	struct ctp_err err;
	char *got = NULL;
	int rc = fh_cmd(json, &got, &err);

	if (rc != 0 || !got || strcmp(got, want) != 0) {
		fprintf(stderr, "\n    %s\n     got %s (%s)\n    want %s\n", json, got ? got : "-",
		    rc ? err.what : "", want);
		CU_FAIL("mld command reply");
	} else
		CU_PASS("mld command reply");
	free(got);
}

/* The command must fail with code, and its message hold text. */
static void
fh_refuse(const char *json, int code, const char *text)
{
	struct ctp_err err;
	int rc = fh_cmd(json, NULL, &err);

	if (rc != code || !strstr(err.what, text)) {
		fprintf(stderr, "\n    %s\n     got %s (%s)\n    want %s (...%s...)\n", json,
		    ctp_errname(rc), err.what, ctp_errname(code), text);
		CU_FAIL("mld command refusal");
	} else
		CU_PASS("mld command refusal");
}

static const char *
conf_dir(void)
{
	const char *d = getenv("CTP_CONF_TEST_DIR");

	return d ? d : "tests/conf";
}

/* <plugin name="mld"><interface name=.../></plugin>: the XSD, the value
 * tree, and what the plugin accepts and refuses. */
static void
test_mld_config_interfaces(void)
{
	static const struct {
		const char *json, *what;
	} bad[] = {
		{ "{\"proxy\":true}", "unknown configuration key \"proxy\"" },
		{ "{\"interface\":{\"name\":\"eth0\"}}", "is a list" },
		{ "{\"interface\":[\"eth0\"]}", "is a list" },
		{ "{\"interface\":[{\"name\":\"eth0\",\"mtu\":1500}]}", "unknown interface key \"mtu\"" },
		{ "{\"interface\":[{}]}", "has no name" },
		{ "{\"interface\":[{\"name\":\"\"}]}", "1 to 15 characters" },
		{ "{\"interface\":[{\"name\":\"0123456789abcdef\"}]}", "1 to 15 characters" },
		{ "{\"interface\":[{\"name\":\"a/b\"}]}", "not an interface name" },
		{ "{\"interface\":[{\"name\":\"eth0:1\"}]}", "not an interface name" },
		{ "{\"interface\":[{\"name\":\"..\"}]}", "not an interface name" },
		{ "{\"interface\":[{\"name\":true}]}", "is a string" },
		{ "{\"interface\":[{\"name\":\"e0\"},{\"name\":\"e0\"}]}", "listed twice" },
	};
	struct ctp_registry *r;
	struct ctp_conf *c = NULL;
	struct ctp_err err;
	char path[512], dir[] = "/tmp/ctp-mld-XXXXXX", many[1024];
	char *json;
	size_t len;
	FILE *f;

	/* the good file, through the schema, into the plugin */
	snprintf(path, sizeof path, "%s/good/mld-interface.xml", conf_dir());
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(ctp_conf_load(path, NULL, NULL, &c, &err), 0);
	CU_ASSERT_EQUAL_FATAL(c->nplugins, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL((json = ctp_json_string(c->plugins[0].config, 0)));
	CU_ASSERT_STRING_EQUAL(json,
	    "{\"interface\":[{\"name\":\"veth-mn\"},{\"name\":\"wlan0\"}]}");
	free(json);
	memset(&fh, 0, sizeof fh);
	r = ctp_registry_new(&fh_ops, (struct ctp_host *)(void *)&fh);
	CU_ASSERT_EQUAL(ctp_registry_add(r, &mld_builtin, c->plugins[0].config, &err), 0);
	ctp_conf_free(c);
	CU_ASSERT_EQUAL(fh.ncmds, 1);
	CU_ASSERT_STRING_EQUAL(fh.name, "mld");
	CU_ASSERT(fh.fn == mld_ops_cmd);
	fh_expect("{\"op\":\"list\"}", "{\"interfaces\":[\"veth-mn\",\"wlan0\"],\"groups\":[]}");
	/* absent interfaces are fine at start: an install fails until they exist */
	if (if_nametoindex("veth-mn") == 0)
		CU_ASSERT_PTR_NOT_NULL(strstr(fh.log, "interface veth-mn does not exist"));
	ctp_registry_free(r);

	/* the schema refuses a name Linux would */
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/long.xml", dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL((f = fopen(path, "w")));
	fputs("<?xml version=\"1.0\"?>\n<ctpd xmlns=\"urn:ctpd:config:1\">\n"
	    "  <node name=\"nar\" roles=\"ar\"><address>192.0.2.2</address></node>\n"
	    "  <plugins><plugin name=\"mld\"><interface name=\"sixteen-chars-xx\"/></plugin>"
	    "</plugins>\n</ctpd>\n", f);
	fclose(f);
	ctp_err_clear(&err);
	c = NULL;
	CU_ASSERT_EQUAL(ctp_conf_load(path, NULL, NULL, &c, &err), CTP_E_CONFIG);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, ":4: Element 'interface', attribute 'name'"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "maxLength"));
	unlink(path);
	rmdir(dir);

	/* no interface: tracked and moved, nothing joined, and the log says so */
	CU_ASSERT_EQUAL(fh_load("{}", &r, &err), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(fh.log, "this router joins no group"));
	fh_expect("{\"op\":\"list\"}", "{\"interfaces\":[],\"groups\":[]}");
	ctp_registry_free(r);
	/* an all-digit attribute reaches the plugin as an integer */
	CU_ASSERT_EQUAL(fh_load("{\"interface\":[{\"name\":7}]}", &r, &err), 0);
	fh_expect("{\"op\":\"list\"}", "{\"interfaces\":[\"7\"],\"groups\":[]}");
	ctp_registry_free(r);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = fh_load(bad[i].json, &r, &err);

		if (rc != CTP_E_CONFIG || !strstr(err.what, bad[i].what)) {
			fprintf(stderr, "\n    %s: %s (%s)\n", bad[i].json, ctp_errname(rc), err.what);
			CU_FAIL("mld configuration refusal");
		}
		CU_ASSERT_EQUAL(ctp_registry_count(r), 0);
		ctp_registry_free(r);
	}
	len = (size_t)snprintf(many, sizeof many, "{\"interface\":[");
	for (int i = 0; i <= MLD_STATE_MAX_IFS; i++)
		len += (size_t)snprintf(many + len, sizeof many - len, "%s{\"name\":\"e%d\"}",
		    i ? "," : "", i);
	snprintf(many + len, sizeof many - len, "]}");
	CU_ASSERT_EQUAL(fh_load(many, &r, &err), CTP_E_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "more than 16 interfaces"));
	ctp_registry_free(r);
}

static void
test_mld_command(void)
{
	struct ctp_registry *r;
	struct ctp_err err;

	CU_ASSERT_EQUAL_FATAL(fh_load("{}", &r, &err), 0);
	fh_expect("{\"cmd\":\"mld\",\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::1\","
	    "\"prefix\":\"2001:db8:1::\"}", "{\"created\":true}");
	fh_expect("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::2\"}",
	    "{\"created\":true}");
	fh_expect("{\"op\":\"add\",\"mn\":\"2001:db8:9::5\",\"group\":\"ff05::1:3\"}",
	    "{\"created\":true}");
	/* again, without the prefix: refreshed, and the prefix stays */
	fh_expect("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::1\"}",
	    "{\"created\":false}");
	fh_expect("{\"op\":\"list\"}", "{\"interfaces\":[],\"groups\":["
	    "{\"mn\":\"192.0.2.10\",\"group\":\"ff0e::1\",\"prefix\":\"2001:db8:1::\","
	    "\"state\":\"active\",\"joined\":false},"
	    "{\"mn\":\"192.0.2.10\",\"group\":\"ff0e::2\",\"state\":\"active\",\"joined\":false},"
	    "{\"mn\":\"2001:db8:9::5\",\"group\":\"ff05::1:3\",\"state\":\"active\","
	    "\"joined\":false}]}");
	fh_expect("{\"op\":\"list\",\"mn\":\"2001:db8:9::5\"}", "{\"interfaces\":[],\"groups\":["
	    "{\"mn\":\"2001:db8:9::5\",\"group\":\"ff05::1:3\",\"state\":\"active\","
	    "\"joined\":false}]}");
	CU_ASSERT_PTR_NOT_NULL(strstr(fh.log, "mld mn=192.0.2.10 group=ff0e::1: none -> active "
	    "(added by the control socket)"));

	/* what could never be sent is refused at once */
	fh_refuse("{\"op\":\"add\",\"group\":\"ff0e::1\"}", CTP_E_MISSING, "\"mn\" is missing");
	fh_refuse("{\"op\":\"add\",\"mn\":\"192.0.2.10\"}", CTP_E_MISSING, "\"group\" is missing");
	fh_refuse("{\"op\":\"add\",\"mn\":\"mn1\",\"group\":\"ff0e::1\"}", CTP_E_VALUE,
	    "not an IP address");
	fh_refuse("{\"op\":\"add\",\"mn\":7,\"group\":\"ff0e::1\"}", CTP_E_VALUE, "\"mn\"");
	fh_refuse("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"2001:db8::1\"}", CTP_E_VALUE,
	    "not an IPv6 multicast address");
	fh_refuse("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"224.0.0.5\"}", CTP_E_VALUE,
	    "not an IPv6 address");
	fh_refuse("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff02::1\"}", CTP_E_VALUE,
	    "all nodes");
	fh_refuse("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff01::5\"}", CTP_E_VALUE,
	    "scope 1");
	fh_refuse("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::1\",\"prefix\":\"ff0e::\"}",
	    CTP_E_VALUE, "prefix is a multicast address");
	fh_refuse("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::1\",\"join\":true}",
	    CTP_E_VALUE, "mld add: unknown key \"join\"");
	fh_refuse("{\"op\":\"list\",\"group\":\"ff0e::1\"}", CTP_E_VALUE, "unknown key \"group\"");
	fh_refuse("{}", CTP_E_MISSING, "\"op\" is missing");
	fh_refuse("{\"op\":\"flush\"}", CTP_E_VALUE, "op \"flush\" is not add, del or list");
	fh_refuse("{\"op\":1}", CTP_E_VALUE, "\"op\"");
	CU_ASSERT_EQUAL(mld_state_count(fh.state, NULL), 3);

	fh_expect("{\"op\":\"del\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::2\"}", "{\"deleted\":1}");
	fh_refuse("{\"op\":\"del\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::2\"}", CTP_E_NOTFOUND,
	    "mn 192.0.2.10 has no such group");
	fh_refuse("{\"op\":\"del\",\"group\":\"ff0e::2\"}", CTP_E_MISSING, "\"mn\" is missing");
	fh_refuse("{\"op\":\"del\",\"mn\":\"192.0.2.10\",\"prefix\":\"2001:db8:1::\"}",
	    CTP_E_VALUE, "unknown key \"prefix\"");
	fh_expect("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::3\"}",
	    "{\"created\":true}");
	/* without a group: all of the MN's */
	fh_expect("{\"op\":\"del\",\"mn\":\"192.0.2.10\"}", "{\"deleted\":2}");
	fh_refuse("{\"op\":\"del\",\"mn\":\"192.0.2.10\"}", CTP_E_NOTFOUND, "has no group");
	fh_expect("{\"op\":\"list\",\"mn\":\"192.0.2.10\"}", "{\"interfaces\":[],\"groups\":[]}");
	CU_ASSERT_EQUAL(mld_state_count(fh.state, NULL), 1);
	ctp_registry_free(r);
}

/* The table holds MLD_STATE_MAX_ENTRIES and refuses more. */
static void
test_mld_limit(void)
{
	struct ctp_registry *r;
	struct ctp_err err;
	struct mld_ctx ctx;
	size_t bad = 0;

	CU_ASSERT_EQUAL_FATAL(fh_load("{}", &r, &err), 0);
	memset(&ctx, 0, sizeof ctx);
	v6(ctx.group, "ff0e::1");
	for (unsigned i = 0; i < MLD_STATE_MAX_ENTRIES; i++) {
		uint8_t a[4] = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
		struct ctp_addr mn;

		(void)ctp_addr_set(&mn, 4, a);
		bad += mld_state_add(fh.state, &mn, &ctx, false, "test", NULL, &err) != 1;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(mld_state_count(fh.state, NULL), MLD_STATE_MAX_ENTRIES);
	fh_refuse("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::1\"}", CTP_E_LIMIT,
	    "holds 65536 entries");
	/* refreshing one there is still works, and a freed place can be taken */
	fh_expect("{\"op\":\"add\",\"mn\":\"10.0.1.2\",\"group\":\"ff0e::1\"}",
	    "{\"created\":false}");
	fh_expect("{\"op\":\"del\",\"mn\":\"10.0.1.2\"}", "{\"deleted\":1}");
	fh_expect("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::1\"}",
	    "{\"created\":true}");
	ctp_registry_free(r);
}

/* ---- the transfer operations, called one by one ------------------------------ */

static void
xaddr(struct ctp_addr *a, const char *s)
{
	CU_ASSERT_FATAL(ctp_addr_parse(a, s) == 0);
}

/* The state of mn's entry for group, or -1 when there is none. */
static int
xstate(const char *mn, const char *group)
{
	struct ctp_addr a;
	uint8_t g[16];
	struct mld_entry *e;

	xaddr(&a, mn);
	v6(g, group);
	e = mld_state_find(fh.state, &a, g);
	return e ? (int)e->state : -1;
}

static void
xadd(const char *mn, const char *group, const char *prefix)
{
	char req[256];

	snprintf(req, sizeof req, "{\"op\":\"add\",\"mn\":\"%s\",\"group\":\"%s\"%s%s%s}", mn, group,
	    prefix ? ",\"prefix\":\"" : "", prefix ? prefix : "", prefix ? "\"" : "");
	fh_expect(req, "{\"created\":true}");
}

struct xrun {
	struct ctp_xfer    x;
	void              *slot;
	uint8_t            buf[4096];
	struct ctp_wbuf    w;
	struct ctp_collect c;
	struct ctp_cdb     cdb[80];
	size_t             n;
};

/* collect for mn into a buffer of cap octets; the CDBs written, parsed. */
static void
xcollect(struct xrun *xr, const char *mn, size_t cap)
{
	struct ctp_err err;
	struct ctp_cur c;

	memset(xr, 0, sizeof *xr);
	xr->x.id = 0x0123456789abcdefull;
	xaddr(&xr->x.mn, mn);
	xr->x.slot = &xr->slot;
	ctp_wbuf_init(&xr->w, xr->buf, cap);
	xr->c.out = &xr->w;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(mld_ops_collect(fh.state, &xr->x, &xr->c, &err), 0);
	CU_ASSERT_EQUAL(xr->w.err, 0);
	CU_ASSERT_EQUAL(xr->c.nfetch, 0);
	CU_ASSERT_EQUAL(xr->c.keys, 0);
	ctp_cur_init(&c, xr->buf, xr->w.len, 0);
	while (xr->n < 80 && ctp_cdb_next(&c, 0, &xr->cdb[xr->n], &err) == 1)
		xr->n++;
	CU_ASSERT_EQUAL(c.left, 0);
	CU_ASSERT((xr->slot != NULL) == (xr->n > 0));
}

/* The group of the i-th CDB collected must be want. */
static void
xgroup(struct xrun *xr, size_t i, const char *want, int with_prefix)
{
	struct mld_ctx ctx;
	struct ctp_err err;
	uint8_t g[16];

	CU_ASSERT_FATAL(i < xr->n);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(mld_cdb_decode(&xr->cdb[i], &ctx, &err), 0);
	v6(g, want);
	CU_ASSERT(memcmp(ctx.group, g, 16) == 0);
	CU_ASSERT_EQUAL(ctx.has_prefix, with_prefix);
	/* the RFC's plain form whenever the prefix is known */
	CU_ASSERT_EQUAL((xr->cdb[i].flags & CTP_CDB_P) != 0, !with_prefix);
}

static void
xdone(struct xrun *xr, int outcome, const uint8_t *status, size_t n)
{
	mld_ops_source_done(fh.state, &xr->x, outcome, status, n);
	CU_ASSERT_PTR_NULL(xr->slot);
}

/* Source side: what collect takes, and what each verdict does to it. */
static void
test_mld_source_ops(void)
{
	static const char *mn = "192.0.2.10", *mn2 = "192.0.2.11", *mn3 = "2001:db8:3::3";
	struct ctp_registry *r;
	struct ctp_err err;
	struct xrun *xr = malloc(sizeof *xr), *xr2 = malloc(sizeof *xr2);
	struct mld_entry *e3;
	uint8_t st[80];

	CU_ASSERT_PTR_NOT_NULL_FATAL(xr);
	CU_ASSERT_PTR_NOT_NULL_FATAL(xr2);
	CU_ASSERT_EQUAL_FATAL(fh_load("{}", &r, &err), 0);
	xadd(mn, "ff0e::1", "2001:db8:1::");
	xadd(mn, "ff0e::2", NULL);
	xadd(mn, "ff0e::3", NULL);
	xadd(mn2, "ff0e::1", NULL);

	/* every active group of the MN, one CDB each, in order; frozen now */
	xcollect(xr, mn, sizeof xr->buf);
	CU_ASSERT_EQUAL_FATAL(xr->n, 3);
	CU_ASSERT_EQUAL(xr->cdb[0].raw_len, 40);
	CU_ASSERT_EQUAL(xr->cdb[1].raw_len, 24);
	xgroup(xr, 0, "ff0e::1", 1);
	xgroup(xr, 1, "ff0e::2", 0);
	xgroup(xr, 2, "ff0e::3", 0);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::1"), MLD_FROZEN);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::3"), MLD_FROZEN);
	CU_ASSERT_EQUAL(xstate(mn2, "ff0e::1"), MLD_ACTIVE);
	CU_ASSERT_PTR_NOT_NULL(strstr(fh.log, "mld mn=192.0.2.10 group=ff0e::2: active -> frozen "
	    "(collected, transfer 0123456789abcdef)"));
	/* a frozen group is not taken twice */
	xcollect(xr2, mn, sizeof xr2->buf);
	CU_ASSERT_EQUAL(xr2->n, 0);
	xdone(xr2, CTP_XFER_ABORT_CLEAN, NULL, 0);
	/*
	 * meanwhile ff0e::3 is deleted and added anew, and (say) taken by
	 * another transfer: this verdict is not for it
	 */
	fh_expect("{\"op\":\"del\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::3\"}", "{\"deleted\":1}");
	xadd(mn, "ff0e::3", NULL);
	{
		struct ctp_addr a;
		uint8_t g[16];

		xaddr(&a, mn);
		v6(g, "ff0e::3");
		CU_ASSERT_PTR_NOT_NULL_FATAL((e3 = mld_state_find(fh.state, &a, g)));
		e3->state = MLD_FROZEN;
	}

	/* committed: gone; timed out: frozen still; no status (not sent): active */
	st[0] = 0x00;
	st[1] = 0x04;
	xdone(xr, CTP_XFER_ABORT_UNKNOWN, st, 2);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::1"), -1);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::2"), MLD_FROZEN);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::3"), MLD_FROZEN);   /* untouched */
	e3->state = MLD_ACTIVE;
	CU_ASSERT_EQUAL(xstate(mn2, "ff0e::1"), MLD_ACTIVE);
	CU_ASSERT_PTR_NOT_NULL(strstr(fh.log, "group=ff0e::1: frozen -> none (transfer "
	    "0123456789abcdef: status 0x00)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(fh.log, "group=ff0e::2: stays frozen"));

	/* the frozen one stays out; a refusal and CDBs that never left: active */
	xadd(mn, "ff0e::4", NULL);
	xadd(mn, "ff0e::5", NULL);
	xcollect(xr, mn, sizeof xr->buf);
	CU_ASSERT_EQUAL_FATAL(xr->n, 3);
	xgroup(xr, 0, "ff0e::3", 0);
	xgroup(xr, 2, "ff0e::5", 0);
	st[0] = 0x06;
	xdone(xr, CTP_XFER_COMMIT, st, 1);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::3"), MLD_ACTIVE);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::4"), MLD_ACTIVE);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::5"), MLD_ACTIVE);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::2"), MLD_FROZEN);

	/* success, SPI-reassigned-style success, cancelled */
	xcollect(xr, mn, sizeof xr->buf);
	CU_ASSERT_EQUAL_FATAL(xr->n, 3);
	st[0] = 0x00;
	st[1] = 0x81;
	st[2] = 0x07;
	xdone(xr, CTP_XFER_ABORT_CLEAN, st, 3);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::3"), -1);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::4"), -1);
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::5"), MLD_ACTIVE);
	/* add makes the frozen one active again (the MN still listens here) */
	fh_expect("{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::2\"}",
	    "{\"created\":false}");
	CU_ASSERT_EQUAL(xstate(mn, "ff0e::2"), MLD_ACTIVE);

	/* more groups than one transfer carries: the rest stay, active */
	for (int i = 0; i < MLD_OPS_XFER_MAX + 6; i++) {
		char g[32];

		snprintf(g, sizeof g, "ff0e::1:%x", i);
		xadd(mn3, g, NULL);
	}
	fh_log_clear();
	xcollect(xr, mn3, sizeof xr->buf);
	CU_ASSERT_EQUAL_FATAL(xr->n, MLD_OPS_XFER_MAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(fh.log, "6 active groups did not fit"));
	memset(st, 0, sizeof st);
	xdone(xr, CTP_XFER_COMMIT, st, xr->n);
	CU_ASSERT_EQUAL(mld_state_count(fh.state, &xr->x.mn), 6);
	CU_ASSERT_EQUAL(xstate(mn3, "ff0e::1:45"), MLD_ACTIVE);
	/* a full buffer: whole CDBs only (24 octets each here) */
	xcollect(xr, mn3, 50);
	CU_ASSERT_EQUAL_FATAL(xr->n, 2);
	xdone(xr, CTP_XFER_COMMIT, st, 2);
	CU_ASSERT_EQUAL(mld_state_count(fh.state, &xr->x.mn), 4);
	/* nothing for an MN we do not know, and done copes */
	xcollect(xr, "192.0.2.99", sizeof xr->buf);
	CU_ASSERT_EQUAL(xr->n, 0);
	CU_ASSERT_EQUAL(xr->w.len, 0);
	xdone(xr, CTP_XFER_COMMIT, NULL, 0);
	ctp_registry_free(r);
	free(xr);
	free(xr2);
}

/*
 * Install at a sink, as the engine does, one CDB per group for mn (a
 * "group" without ':' becomes a malformed, non-multicast one); the
 * statuses land in status.
 */
static void
xinstall(const char *mn, const char *const *groups, size_t n, const char *prefix,
    uint8_t *status)
{
	uint8_t buf[1024];
	struct ctp_cdb v[16];
	const char *relay[16] = { NULL };
	struct ctp_install in;
	struct ctp_xfer x;
	struct ctp_wbuf w;
	struct ctp_err err;
	struct ctp_cur c;

	CU_ASSERT_FATAL(n <= 16);
	ctp_wbuf_init(&w, buf, sizeof buf);
	for (size_t i = 0; i < n; i++) {
		struct mld_ctx ctx;

		memset(&ctx, 0, sizeof ctx);
		if (strchr(groups[i], ':'))
			v6(ctx.group, groups[i]);
		else
			memset(ctx.group, 0x20, 16);   /* not multicast: malformed */
		if (prefix) {
			v6(ctx.prefix, prefix);
			ctx.has_prefix = true;
		}
		CU_ASSERT_EQUAL(mld_cdb_encode(&ctx, &w), 0);
	}
	ctp_cur_init(&c, buf, w.len, 0);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_EQUAL(ctp_cdb_next(&c, 0, &v[i], &err), 1);
	memset(&x, 0, sizeof x);
	x.id = 42;
	x.peer = "par";
	xaddr(&x.mn, mn);
	memset(&in, 0, sizeof in);
	in.cdb = v;
	in.n = n;
	in.status = status;
	in.relay = relay;
	memset(status, 0xee, n);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(mld_ops_install(fh.state, &x, &in, &err), 0);
	for (size_t i = 0; i < n; i++)
		CU_ASSERT_PTR_NULL(relay[i]);
	mld_ops_sink_done(fh.state, &x, CTP_XFER_COMMIT, status, n);
}

/* Sink side: decode, add, join; the statuses. */
static void
test_mld_sink_ops(void)
{
	static const char *const two[] = { "ff0e::7", "ff0e::8" };
	static const char *const bad[] = { "ff0e::9", "unicast" };
	struct ctp_registry *r;
	struct ctp_err err;
	uint8_t st[16];
	struct ctp_addr mn;
	uint8_t g[16];
	struct mld_entry *e;

	CU_ASSERT_EQUAL_FATAL(fh_load("{}", &r, &err), 0);
	xinstall("192.0.2.10", two, 2, "2001:db8:7::", st);
	CU_ASSERT_EQUAL(st[0], 0);
	CU_ASSERT_EQUAL(st[1], 0);
	xaddr(&mn, "192.0.2.10");
	v6(g, "ff0e::7");
	CU_ASSERT_PTR_NOT_NULL_FATAL((e = mld_state_find(fh.state, &mn, g)));
	CU_ASSERT_EQUAL(e->state, MLD_ACTIVE);
	CU_ASSERT(e->ctx.has_prefix && e->ctx.prefix[5] == 0x07);
	CU_ASSERT(!e->joined);   /* no interface: tracked only */
	CU_ASSERT_EQUAL(mld_state_joined_groups(fh.state), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(fh.log, "group=ff0e::8: none -> active (installed, transfer "
	    "000000000000002a from par)"));
	/* a malformed CDB is refused alone */
	xinstall("192.0.2.10", bad, 2, NULL, st);
	CU_ASSERT_EQUAL(st[0], 0);
	CU_ASSERT_EQUAL(st[1], CTP_ST_MALFORMED_CDB);
	CU_ASSERT_EQUAL(mld_state_count(fh.state, &mn), 3);
	/* a context coming back refreshes a frozen entry: active again */
	e->state = MLD_FROZEN;
	xinstall("192.0.2.10", two, 1, NULL, st);
	CU_ASSERT_EQUAL(st[0], 0);
	CU_ASSERT_EQUAL(e->state, MLD_ACTIVE);
	CU_ASSERT(e->ctx.has_prefix);   /* a context without one keeps the prefix */
	ctp_registry_free(r);

	/* the join fails (no such interface): 0x06, nothing added, the log says why */
	CU_ASSERT_EQUAL_FATAL(fh_load("{\"interface\":[{\"name\":\"ctp-absent0\"}]}", &r, &err), 0);
	xinstall("192.0.2.10", two, 2, NULL, st);
	CU_ASSERT_EQUAL(st[0], CTP_ST_NO_RESOURCES);
	CU_ASSERT_EQUAL(st[1], CTP_ST_NO_RESOURCES);
	CU_ASSERT_EQUAL(mld_state_count(fh.state, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(fh.log, "mld mn=192.0.2.10 group=ff0e::7: not installed "
	    "(status 0x06): mld: cannot join ff0e::7 on ctp-absent0: No such device"));
	ctp_registry_free(r);
}

/* ---- two ARs and the engine ---------------------------------------------------- */

enum { PR, NR, NNODES };

static const char *const enames[NNODES] = { "pr", "nr" };
static const char *const eaddrs[NNODES] = { "10.9.1.3", "10.9.1.4" };
static const uint8_t emn_key[20] = {
	9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
};

static struct {
	uv_loop_t          loop;
	struct ctp_node   *node[NNODES];
	struct ctp_engine *eng[NNODES];
	struct mld_state  *mld[NNODES];
	struct ctp_addr    mn;
	struct {
		uint8_t buf[2048];
		size_t  len;
	}                  to_mn[16];   /* what the nodes sent the MN */
	size_t             nto_mn;
	struct ctp_status_ent ctaa_status[16];   /* of the last CTAA */
	int                stopped;
} E;

static int
emn_send(void *io, const struct sockaddr *to, enum ctp_mnio_carrier carrier, const uint8_t *msg,
    size_t len)
{
	if (E.nto_mn < 16 && len <= sizeof E.to_mn[0].buf) {
		memcpy(E.to_mn[E.nto_mn].buf, msg, len);
		E.to_mn[E.nto_mn].len = len;
		E.nto_mn++;
	}
	return 0;
}

static void
esa4(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof *ss);
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, a, &s->sin_addr);
}

static struct ctp_conf *
emkconf(int i)
{
	struct ctp_conf *c = calloc(1, sizeof *c);
	struct ctp_conf_peer *p;

	ctp_conf_defaults(c);
	c->node_name = strdup(enames[i]);
	c->roles = CTP_ROLE_AR;
	(void)ctp_addr_parse(&c->addrs[0], eaddrs[i]);
	c->naddrs = 1;
	c->backend = CTP_BACKEND_MEM;
	esa4(&c->bind, eaddrs[i], 9899);
	c->mn_icmp = 0;
	/* nothing here waits for a timer: a long T only keeps a slow run
	 * (valgrind, a loaded machine) from timing a transfer out */
	c->timers.max_transfer_ms = 1000;
	c->timers.reconnect_ms = 50;
	c->timers.request_rate = 1000;
	p = &c->peers[c->npeers++];
	p->name = strdup(enames[1 - i]);
	p->roles = CTP_ROLE_AR;
	esa4(&p->addr, eaddrs[1 - i], 5091);
	p->udp_port = 9899;
	p->sec = CTP_SEC_IPSEC;
	return c;
}

static void
erun_until(int (*cond)(void), unsigned max_ms)
{
	uint64_t end = uv_now(&E.loop) + max_ms;

	while (!cond() && uv_now(&E.loop) < end)
		uv_run(&E.loop, UV_RUN_ONCE);
}

static int
eall_up(void)
{
	for (int i = 0; i < NNODES; i++)
		for (size_t k = 0; k < ctp_node_npeers(E.node[i]); k++)
			if (ctp_node_peer_at(E.node[i], k)->state != CTP_PEER_UP)
				return 0;
	return 1;
}

static int
equiet(void)
{
	struct ctp_engine_stats st;

	for (int i = 0; i < NNODES; i++) {
		ctp_engine_stats(E.eng[i], &st);
		if (st.live)
			return 0;
	}
	return 1;
}

static void
estopped(void *arg)
{
	E.stopped++;
}

static int
eall_stopped(void)
{
	return E.stopped == NNODES;
}

/* Stop both nodes: the plugins' fini runs, every membership goes. */
static void
estop(void)
{
	for (int i = 0; i < NNODES; i++) {
		ctp_engine_free(E.eng[i]);
		if (E.node[i])
			ctp_node_stop(E.node[i], estopped, NULL);
		else
			E.stopped++;
		E.mld[i] = NULL;
	}
	erun_until(eall_stopped, 10000);
	CU_ASSERT(eall_stopped());
	uv_run(&E.loop, UV_RUN_DEFAULT);
	CU_ASSERT(uv_loop_close(&E.loop) == 0);
	ctp_mem_wire_clear();
}

/*
 * pr and nr, each with the built-in mld configured by its JSON, up and
 * peered; pr holds the MN's key.  Plain assertions only (no _FATAL): the
 * namespace test runs this in a child process.  0 when all is well.
 */
static int
estart(const char *cfg_pr, const char *cfg_nr)
{
	const char *cfgs[NNODES] = { cfg_pr, cfg_nr };
	struct ctp_err err = { 0 };

	memset(&E, 0, sizeof E);
	uv_loop_init(&E.loop);
	ctp_mem_wire_clear();
	ctp_log_open("test", CTP_LOG_STDERR, getenv("CTP_TEST_VERBOSE") ? CTP_LOG_DEBUG : CTP_LOG_ERR);
	(void)ctp_addr_parse(&E.mn, "192.0.2.10");
	for (int i = 0; i < NNODES; i++) {
		struct ctp_engine_mn_ops ops = { .send = emn_send };
		struct ctp_val *cfg = NULL;
		const struct ctp_plugin *p;
		int rc;

		CU_ASSERT((rc = ctp_node_new(&E.loop, emkconf(i), &E.node[i], &err)) == 0);
		if (rc < 0)
			goto fail;
		CU_ASSERT(ctp_json_parse(cfgs[i], strlen(cfgs[i]), &cfg, &err) == 0);
		CU_ASSERT((rc = ctp_node_add_plugin(E.node[i], &mld_builtin, cfg, &err)) == 0);
		ctp_val_free(cfg);
		if (rc < 0)
			goto fail;
		CU_ASSERT((rc = ctp_engine_new(E.node[i], &E.eng[i], &err)) == 0);
		if (rc < 0)
			goto fail;
		ctp_engine_set_mn_ops(E.eng[i], &ops);
		p = ctp_registry_by_name(ctp_node_registry(E.node[i]), "mld");
		CU_ASSERT_PTR_NOT_NULL(p);
		if (!p)
			goto fail;
		E.mld[i] = p->state;
		CU_ASSERT((rc = ctp_node_start(E.node[i], &err)) == 0);
		if (rc < 0)
			goto fail;
	}
	/* generous: valgrind on a loaded machine is slow to bring both up */
	erun_until(eall_up, 20000);
	CU_ASSERT(eall_up());
	if (!eall_up())
		goto fail;
	CU_ASSERT(ctp_engine_mn_key_set(E.eng[PR], &E.mn, emn_key, sizeof emn_key) == 0);
	return 0;
fail:
	estop();   /* so that the next test finds the wire free */
	return -1;
}

/* The "mld" command at node i, as the control socket would call it. */
static int
ecmd(int i, const char *json)
{
	struct ctp_val *req = NULL, *reply = ctp_val_obj();
	struct ctp_err err = { 0 };
	int rc;

	CU_ASSERT(ctp_json_parse(json, strlen(json), &req, &err) == 0);
	rc = mld_ops_cmd(E.mld[i], req, reply, &err);
	if (rc < 0)
		fprintf(stderr, "\n    %s at %s: %s\n", json, enames[i], err.what);
	ctp_val_free(req);
	ctp_val_free(reply);
	return rc;
}

/* The MN's CTAR, into node i's MN input, naming ar as its previous router. */
static void
ectar(int i, int ar, uint32_t seq)
{
	struct ctp_msg *m = malloc(sizeof *m);
	struct sockaddr_storage from;
	struct ctp_err err = { 0 };
	uint8_t buf[256];
	size_t len = 0;

	CU_ASSERT_PTR_NOT_NULL(m);
	if (!m)
		return;
	ctp_msg_init(m, CTP_MSG_CTAR, 4);
	m->flags |= CTP_HDR_X;
	m->mn_prev = E.mn;
	(void)ctp_addr_parse(&m->ar, eaddrs[ar]);
	m->seq = seq;
	(void)ctp_token_compute(emn_key, sizeof emn_key, &E.mn, seq, NULL, 0, &m->token);
	CU_ASSERT(ctp_msg_encode(m, buf, sizeof buf, &len, &err) == 0);
	esa4(&from, "192.0.2.99", 40000);
	E.nto_mn = 0;
	ctp_engine_mn_input(E.eng[i], (struct sockaddr *)&from, CTP_MNIO_UDP, buf, len);
	free(m);
}

/* The failures of the last CTAA the MN got (the first 16 into
 * E.ctaa_status), or -1 when none came. */
static int
ectaa_failures(void)
{
	for (size_t k = E.nto_mn; k-- > 0;) {
		struct ctp_msg *m = malloc(sizeof *m);
		struct ctp_err err = { 0 };
		int n = -1;

		if (m && ctp_msg_decode(m, E.to_mn[k].buf, E.to_mn[k].len, 0, &err) == 0 &&
		    m->type == CTP_MSG_CTAA) {
			n = (int)m->nstatus;
			for (size_t i = 0; i < m->nstatus && i < 16; i++)
				E.ctaa_status[i] = m->status[i];
		}
		free(m);
		if (n >= 0)
			return n;
	}
	return -1;
}

static int
egot_ctaa(void)
{
	return ectaa_failures() >= 0 && equiet();
}

/* A reactive transfer (RFC 4067 2.8 d): the MN's CTAR at to, naming from. */
static int
emove(int from, int to, uint32_t seq)
{
	CU_ASSERT(ctp_engine_mn_key_set(E.eng[from], &E.mn, emn_key, sizeof emn_key) == 0);
	ectar(to, from, seq);
	erun_until(egot_ctaa, 5000);
	CU_ASSERT(equiet());
	return ectaa_failures();
}

/* The state of node i's entry (the MN, group), or -1 when it has none. */
static int
estate(int i, const char *group, int *joined)
{
	struct mld_entry *e;
	uint8_t g[16];

	v6(g, group);
	e = mld_state_find(E.mld[i], &E.mn, g);
	if (joined)
		*joined = e ? e->joined : -1;
	return e ? (int)e->state : -1;
}

static const char EADD1[] = "{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::1\","
    "\"prefix\":\"2001:db8:1::\"}";
static const char EADD2[] = "{\"op\":\"add\",\"mn\":\"192.0.2.10\",\"group\":\"ff0e::2\"}";

/* The MN's groups move from pr to nr, and only there they are afterwards. */
static void
test_mld_engine_move(void)
{
	int joined = 0;

	CU_ASSERT_FATAL(estart("{}", "{}") == 0);
	CU_ASSERT_EQUAL(ecmd(PR, EADD1), 0);
	CU_ASSERT_EQUAL(ecmd(PR, EADD2), 0);
	CU_ASSERT_EQUAL(mld_state_count(E.mld[PR], &E.mn), 2);
	CU_ASSERT_EQUAL(estate(PR, "ff0e::1", NULL), MLD_ACTIVE);
	CU_ASSERT_EQUAL(estate(PR, "ff0e::2", NULL), MLD_ACTIVE);
	CU_ASSERT_EQUAL(mld_state_count(E.mld[NR], &E.mn), 0);
	CU_ASSERT_EQUAL(emove(PR, NR, 7001), 0);
	CU_ASSERT_EQUAL(mld_state_count(E.mld[PR], NULL), 0);
	CU_ASSERT_EQUAL(mld_state_count(E.mld[NR], &E.mn), 2);
	CU_ASSERT_EQUAL(estate(NR, "ff0e::1", &joined), MLD_ACTIVE);
	CU_ASSERT_EQUAL(joined, 0);   /* nr has no interface: tracked only */
	CU_ASSERT_EQUAL(estate(NR, "ff0e::2", NULL), MLD_ACTIVE);
	{
		uint8_t g[16], p[16];
		struct mld_entry *e;

		v6(g, "ff0e::1");
		v6(p, "2001:db8:1::");
		e = mld_state_find(E.mld[NR], &E.mn, g);
		CU_ASSERT(e && e->ctx.has_prefix && memcmp(e->ctx.prefix, p, 16) == 0);
	}
	/* and back: nr is the source now */
	CU_ASSERT_EQUAL(emove(NR, PR, 7002), 0);
	CU_ASSERT_EQUAL(mld_state_count(E.mld[NR], NULL), 0);
	CU_ASSERT_EQUAL(estate(PR, "ff0e::1", NULL), MLD_ACTIVE);
	CU_ASSERT_EQUAL(estate(PR, "ff0e::2", NULL), MLD_ACTIVE);
	estop();
}

/* nr cannot join (its interface does not exist): 0x06, pr keeps both, active. */
static void
test_mld_engine_refused(void)
{
	CU_ASSERT_FATAL(estart("{}", "{\"interface\":[{\"name\":\"ctp-absent0\"}]}") == 0);
	CU_ASSERT_EQUAL(ecmd(PR, EADD1), 0);
	CU_ASSERT_EQUAL(ecmd(PR, EADD2), 0);
	CU_ASSERT_EQUAL(emove(PR, NR, 7101), 2);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(E.ctaa_status[i].fpt, CTP_FPT_MLD);
		CU_ASSERT_EQUAL(E.ctaa_status[i].code, CTP_ST_NO_RESOURCES);
	}
	CU_ASSERT_EQUAL(estate(PR, "ff0e::1", NULL), MLD_ACTIVE);
	CU_ASSERT_EQUAL(estate(PR, "ff0e::2", NULL), MLD_ACTIVE);
	CU_ASSERT_EQUAL(mld_state_count(E.mld[NR], NULL), 0);
	CU_ASSERT_EQUAL(mld_state_joined_groups(E.mld[NR]), 0);
	/* active means a later transfer takes them again (and is refused again) */
	CU_ASSERT_EQUAL(emove(PR, NR, 7102), 2);
	CU_ASSERT_EQUAL(mld_state_count(E.mld[PR], &E.mn), 2);
	CU_ASSERT_EQUAL(estate(PR, "ff0e::2", NULL), MLD_ACTIVE);
	estop();
}

/* 1 when /proc/net/igmp6 lists group (32 hex digits) on ifname, 0 when not. */
static int
igmp6_lists(const char *ifname, const char *hex)
{
	FILE *f = fopen("/proc/net/igmp6", "r");
	char line[256], name[IF_NAMESIZE + 1], addr[40];
	int idx, found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%d %16s %39s", &idx, name, addr) == 3 &&
		    strcmp(name, ifname) == 0 && strcmp(addr, hex) == 0)
			found = 1;
	fclose(f);
	return found;
}

#define G1 "ff0e0000000000000000000000000001"
#define G2 "ff0e0000000000000000000000000002"

/*
 * In a network namespace of its own (a child process): nr joins on ctpt0
 * what it takes over, keeps a group while another MN listens, leaves when
 * the last goes, and leaves everything at fini.  77: skipped.
 */
static int
join_child(void)
{
	unsigned before = CU_get_number_of_failure_records();
	struct ctp_addr mn2;
	struct mld_ctx ctx;
	struct ctp_err err = { 0 };
	CU_pFailureRecord fr;
	unsigned k = 0;
	int joined = 0;

	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "\n    SKIPPED test_mld_engine_join: unshare(CLONE_NEWNET): %s\n",
		    strerror(errno));
		return 77;
	}
	/* dummy when the kernel has it, else a veth pair */
	if (system("ip link add ctpt0 type dummy 2>/dev/null || "
	    "ip link add ctpt0 type veth peer name ctpt1") != 0 ||
	    system("ip link set ctpt0 up") != 0) {
		fprintf(stderr, "\n    SKIPPED test_mld_engine_join: cannot create ctpt0 "
		    "(ip link add ... type dummy / veth)\n");
		return 77;
	}
	if (estart("{}", "{\"interface\":[{\"name\":\"ctpt0\"}]}") < 0)
		goto out;
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G1), 0);
	CU_ASSERT_EQUAL(ecmd(PR, EADD1), 0);
	CU_ASSERT_EQUAL(ecmd(PR, EADD2), 0);
	CU_ASSERT_EQUAL(emove(PR, NR, 7201), 0);
	CU_ASSERT_EQUAL(estate(NR, "ff0e::1", &joined), MLD_ACTIVE);
	CU_ASSERT_EQUAL(joined, 1);
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G1), 1);
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G2), 1);
	CU_ASSERT_EQUAL(mld_state_joined_groups(E.mld[NR]), 2);
	if (getenv("CTP_TEST_VERBOSE"))
		(void)system("ip -6 maddr show dev ctpt0");
	/* another MN at nr listens to ff0e::1 too */
	memset(&ctx, 0, sizeof ctx);
	v6(ctx.group, "ff0e::1");
	(void)ctp_addr_parse(&mn2, "192.0.2.20");
	CU_ASSERT_EQUAL(mld_state_add(E.mld[NR], &mn2, &ctx, true, "test", NULL, &err), 1);
	CU_ASSERT_EQUAL(mld_state_joined_groups(E.mld[NR]), 2);
	/* the MN goes back to pr: nr leaves ff0e::2, keeps ff0e::1 for the other */
	CU_ASSERT_EQUAL(emove(NR, PR, 7202), 0);
	CU_ASSERT_EQUAL(estate(NR, "ff0e::1", NULL), -1);
	CU_ASSERT_EQUAL(estate(PR, "ff0e::1", &joined), MLD_ACTIVE);
	CU_ASSERT_EQUAL(joined, 0);   /* pr has no interface */
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G1), 1);
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G2), 0);
	CU_ASSERT_EQUAL(ecmd(NR, "{\"op\":\"del\",\"mn\":\"192.0.2.20\"}"), 0);
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G1), 0);
	CU_ASSERT_EQUAL(mld_state_joined_groups(E.mld[NR]), 0);
	/* once more to nr, then stop: fini leaves */
	CU_ASSERT_EQUAL(emove(PR, NR, 7203), 0);
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G1), 1);
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G2), 1);
	estop();
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G1), 0);
	CU_ASSERT_EQUAL(igmp6_lists("ctpt0", G2), 0);
out:
	/* the parent's CUnit never sees the child's: print them */
	for (fr = CU_get_failure_list(); fr; fr = fr->pNext)
		if (k++ >= before)
			fprintf(stderr, "\n    (namespace child) %s:%u: %s\n", fr->strFileName,
			    fr->uiLineNumber, fr->strCondition);
	return CU_get_number_of_failure_records() > before ? 1 : 0;
}

static void
test_mld_engine_join(void)
{
	int status = 0;
	pid_t pid;

	if (geteuid() != 0) {
		fprintf(stderr, "\n    SKIPPED test_mld_engine_join: not root (it needs a network "
		    "namespace with an interface of its own)\n");
		return;
	}
	fflush(stdout);
	fflush(stderr);
	CU_ASSERT_FATAL((pid = fork()) >= 0);
	if (pid == 0)
		_exit(join_child());
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return;
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

CTP_TEST_SUITE(mld, suite_init, suite_clean,
    CTP_TEST(test_mld_plain),
    CTP_TEST(test_mld_presence_vector),
    CTP_TEST(test_mld_malformed),
    CTP_TEST(test_mld_plugin),
    CTP_TEST(test_mld_config),
    CTP_TEST(test_mld_vectors),
    CTP_TEST(test_mld_config_interfaces),
    CTP_TEST(test_mld_command),
    CTP_TEST(test_mld_limit),
    CTP_TEST(test_mld_source_ops),
    CTP_TEST(test_mld_sink_ops),
    CTP_TEST(test_mld_engine_move),
    CTP_TEST(test_mld_engine_refused),
    CTP_TEST(test_mld_engine_join),
)
