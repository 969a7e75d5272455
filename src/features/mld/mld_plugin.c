/*
 * mld_plugin.c: the MLD feature's descriptor (ctp_feature.h), serving FPT
 * 0x0001 (RFC 4067 appendix B).  A codec for now: check, describe, build.
 *
 * describe gives "prefix" (when it was on the wire) and "group" as IPv6
 * text; build is its reverse and honours "length", "p", "pv" and
 * "reserved", so describe then build gives back the same octets.
 */
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_feature.h"
#include "features/mld/mld_cdb.h"

#ifndef CTP_VERSION_STR
#define CTP_VERSION_STR "0"
#endif

struct mld_plugin_state {
	const struct ctp_host_ops *ops;
	struct ctp_host           *host;
};

static const uint16_t mld_plugin_fpts[] = { CTP_FPT_MLD };

static int
mld_plugin_init(const struct ctp_host_ops *ops, struct ctp_host *host,
    const struct ctp_val *config, void **state, struct ctp_err *err)
{
	struct mld_plugin_state *st;

	if (!config || config->kind != CTP_V_OBJ)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "mld: configuration is not an object");
	if (config->n > 0)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "mld: unknown configuration key \"%s\"",
		    config->members[0].key);
	if ((st = calloc(1, sizeof *st)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "mld: out of memory");
	st->ops = ops;
	st->host = host;
	*state = st;
	return 0;
}

static void
mld_plugin_fini(void *state)
{
	free(state);
}

static int
mld_plugin_check(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_err *err)
{
	struct mld_ctx ctx;

	/* family is not used: the context is IPv6 whatever carries it */
	return mld_cdb_decode(cdb, &ctx, err);
}

static int
mld_plugin_set_addr(struct ctp_val *obj, const char *key, const uint8_t *a)
{
	char buf[CTP_ADDRSTRLEN];
	struct ctp_addr addr;

	(void)ctp_addr_set(&addr, 6, a);
	return ctp_val_set_str(obj, key, ctp_addr_fmt(&addr, buf, sizeof buf));
}

static int
mld_plugin_describe(void *state, const struct ctp_cdb *cdb, unsigned family,
    struct ctp_val *obj, struct ctp_err *err)
{
	struct mld_ctx ctx;
	int rc;

	if ((rc = mld_cdb_decode(cdb, &ctx, err)) < 0)
		return rc;
	if (ctx.has_prefix)
		rc = mld_plugin_set_addr(obj, "prefix", ctx.prefix);
	if (rc == 0)
		rc = mld_plugin_set_addr(obj, "group", ctx.group);
	if (rc < 0)
		return ctp_err_set(err, rc, cdb->off, 0, "out of memory");
	return 0;
}

/* An IPv6 address from obj[key]: 1 when present, 0 when absent, or CTP_E_*. */
static int
mld_plugin_get_addr(const struct ctp_val *obj, const char *key, uint8_t *out,
    struct ctp_err *err)
{
	struct ctp_addr a;
	const char *s;
	int rc;

	if ((rc = ctp_val_get_str(obj, key, &s, err)) == CTP_E_NOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (ctp_addr_parse(&a, s) < 0 || a.family != 6)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0, "MLD \"%s\": \"%s\" is not an IPv6 address",
		    key, s);
	memcpy(out, a.a, 16);
	return 1;
}

static int
mld_plugin_build(void *state, uint16_t fpt, const struct ctp_val *obj, struct ctp_wbuf *w,
    struct ctp_err *err)
{
	uint64_t units = 0, p = 0, pv = 0, rsv = 0;
	uint8_t prefix[16] = { 0 }, group[16] = { 0 };
	int has_prefix, has_group, rc;
	size_t start = w->len, at;
	uint8_t flags;

	if (fpt != CTP_FPT_MLD)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "mld: FPT 0x%04x is not served here", fpt);
	if (((rc = ctp_val_get_u64(obj, "length", 255, &units, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_u64(obj, "p", 1, &p, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_u64(obj, "reserved", CTP_CDB_RESERVED, &rsv, err)) < 0 &&
	    rc != CTP_E_NOTFOUND))
		return rc;
	if ((has_prefix = mld_plugin_get_addr(obj, "prefix", prefix, err)) < 0)
		return has_prefix;
	if ((has_group = mld_plugin_get_addr(obj, "group", group, err)) < 0)
		return has_group;
	flags = (uint8_t)((p ? CTP_CDB_P : 0) | rsv);
	if (p) {
		/* the vector says which fields follow: derive it unless given */
		rc = ctp_val_get_u64(obj, "pv", UINT32_MAX, &pv, err);
		if (rc == CTP_E_NOTFOUND)
			pv = (has_prefix ? MLD_PV_PREFIX : 0) | (has_group ? MLD_PV_GROUP : 0);
		else if (rc < 0)
			return rc;
	} else if (!has_group)
		return ctp_err_set(err, CTP_E_MISSING, 0, 0,
		    "MLD CDB: \"group\" is missing (it has no default)");

	at = ctp_cdb_begin(w, CTP_FPT_MLD, flags, (uint32_t)pv);
	/* without P both fields are on the wire; the prefix defaults to :: */
	if (has_prefix || !p)
		ctp_wbuf_bytes(w, prefix, sizeof prefix);
	if (has_group)
		ctp_wbuf_bytes(w, group, sizeof group);
	if ((rc = ctp_cdb_end(w, at, (uint8_t)units, 0)) < 0) {
		if (!w->err)
			w->len = start;
		return ctp_err_set(err, rc, 0, 0, "MLD CDB does not fit Length %u", (unsigned)units);
	}
	return 0;
}

const struct ctp_feature ctp_feature = {
	.abi_version  = CTP_FEATURE_ABI_VERSION,
	.size         = sizeof(struct ctp_feature),
	.name         = "mld",
	.version      = CTP_VERSION_STR,
	.fpts         = mld_plugin_fpts,
	.nfpts        = sizeof mld_plugin_fpts / sizeof mld_plugin_fpts[0],
	.init         = mld_plugin_init,
	.fini         = mld_plugin_fini,
	.cdb_check    = mld_plugin_check,
	.cdb_describe = mld_plugin_describe,
	.cdb_build    = mld_plugin_build,
};
