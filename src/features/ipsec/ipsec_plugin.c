/*
 * ipsec_plugin.c: the IPsec feature's descriptor (ctp_feature.h), serving
 * FPT 0xFF01 (one SA per CDB) and 0xFF02 (one user profile per CDB).
 *
 * Only ctp_feature is exported (src/features/plugin.map); the codec and the
 * tables are linked in and hidden.  For now the plugin is a codec: check,
 * describe and build.  The SA database backends and the engine hooks come
 * with later ABI versions.
 */
#include <stdlib.h>

#include "ctp/ctp_defs.h"
#include "ctp/ctp_feature.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_tlv.h"
#include "features/ipsec/ipsec_profile.h"
#include "features/ipsec/ipsec_sa.h"

#ifndef CTP_VERSION_STR
#define CTP_VERSION_STR "0"
#endif

struct ipsec_plugin_state {
	const struct ctp_host_ops *ops;
	struct ctp_host           *host;
};

static const uint16_t ipsec_plugin_fpts[] = { CTP_FPT_IPSEC_SA, CTP_FPT_IPSEC_PROFILE };

static void
ipsec_plugin_log(const struct ipsec_plugin_state *st, int level, const char *func,
    const char *msg)
{
	/* the table may be older (smaller) than ours: look before calling */
	if (st->ops && st->ops->size >= offsetof(struct ctp_host_ops, log) + sizeof st->ops->log &&
	    st->ops->log)
		st->ops->log(st->host, level, func, msg);
}

static int
ipsec_plugin_init(const struct ctp_host_ops *ops, struct ctp_host *host,
    const struct ctp_val *config, void **state, struct ctp_err *err)
{
	struct ipsec_plugin_state *st;

	if (!config || config->kind != CTP_V_OBJ)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: configuration is not an object");
	/* no keys yet: a typo must not pass silently */
	if (config->n > 0)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "ipsec: unknown configuration key \"%s\"",
		    config->members[0].key);
	if ((st = calloc(1, sizeof *st)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "ipsec: out of memory");
	st->ops = ops;
	st->host = host;
	ipsec_plugin_log(st, CTP_LOG_DEBUG, __func__, "serving FPT 0xff01 (SA), 0xff02 (profile)");
	*state = st;
	return 0;
}

static void
ipsec_plugin_fini(void *state)
{
	free(state);
}

static int
ipsec_plugin_check(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_err *err)
{
	int rc;

	/* family is not used: an SA names its own (PROFILE 6 ENDPOINTS) */
	if (cdb->fpt == CTP_FPT_IPSEC_SA) {
		struct ipsec_sa sa;

		rc = ipsec_sa_decode(cdb, &sa, err);
		ipsec_sa_clear(&sa);
	} else if (cdb->fpt == CTP_FPT_IPSEC_PROFILE) {
		struct ipsec_profile p;

		rc = ipsec_profile_decode(cdb, &p, err);
		ipsec_profile_clear(&p);
	} else
		rc = ctp_err_set(err, CTP_E_INVAL, cdb->off, CTP_ST_UNSUPPORTED_FPT,
		    "ipsec: FPT 0x%04x is not served here", cdb->fpt);
	return rc;
}

static int
ipsec_plugin_describe(void *state, const struct ctp_cdb *cdb, unsigned family,
    struct ctp_val *obj, struct ctp_err *err)
{
	struct ctp_val *tlvs;
	int rc;

	/* only what passed every check is described field by field */
	if ((rc = ipsec_plugin_check(state, cdb, family, err)) < 0)
		return rc;
	if ((tlvs = ctp_val_arr()) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, cdb->off, 0, "out of memory");
	if ((rc = ctp_tlv_describe(ctp_fpt_def(cdb->fpt), cdb->data, cdb->len,
	    cdb->off + CTP_CDB_HDR_LEN, tlvs, err)) < 0) {
		ctp_val_free(tlvs);
		return rc;
	}
	if ((rc = ctp_val_obj_set(obj, "tlvs", tlvs)) < 0)
		return ctp_err_set(err, rc, cdb->off, 0, "out of memory");
	return 0;
}

static int
ipsec_plugin_build(void *state, uint16_t fpt, const struct ctp_val *obj, struct ctp_wbuf *w,
    struct ctp_err *err)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(fpt);
	uint64_t units = 0, p = 0, rsv = 0;
	const struct ctp_val *tlvs;
	size_t start = w->len, at;
	int rc;

	if (fpt != CTP_FPT_IPSEC_SA && fpt != CTP_FPT_IPSEC_PROFILE)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ipsec: FPT 0x%04x is not served here", fpt);
	if (((rc = ctp_val_get_u64(obj, "length", 255, &units, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_u64(obj, "p", 1, &p, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_u64(obj, "reserved", CTP_CDB_RESERVED, &rsv, err)) < 0 &&
	    rc != CTP_E_NOTFOUND))
		return rc;
	if (p)
		return ctp_err_set(err, CTP_E_VALUE, 0, 0,
		    "FPT 0x%04x: \"p\" is 1, but IPsec CDBs have no presence vector (PROFILE 6)", fpt);
	if ((tlvs = ctp_val_get(obj, "tlvs")) == NULL)
		return ctp_err_set(err, CTP_E_MISSING, 0, 0, "FPT 0x%04x: \"tlvs\" is missing", fpt);
	at = ctp_cdb_begin(w, fpt, (uint8_t)rsv, 0);
	if ((rc = ctp_tlv_build(fd, tlvs, w, err)) < 0)
		return rc == CTP_E_NOSPACE ?
		    ctp_err_set(err, rc, 0, 0, "FPT 0x%04x: output buffer full", fpt) : rc;
	if ((rc = ctp_cdb_end(w, at, (uint8_t)units, 0)) < 0) {
		if (!w->err)
			w->len = start;
		return ctp_err_set(err, rc, 0, 0, "FPT 0x%04x: the TLVs do not fit %s%u", fpt,
		    units ? "Length " : "one CDB: Length ", units ? (unsigned)units : 255u);
	}
	return 0;
}

const struct ctp_feature ctp_feature = {
	.abi_version  = CTP_FEATURE_ABI_VERSION,
	.size         = sizeof(struct ctp_feature),
	.name         = "ipsec",
	.version      = CTP_VERSION_STR,
	.fpts         = ipsec_plugin_fpts,
	.nfpts        = sizeof ipsec_plugin_fpts / sizeof ipsec_plugin_fpts[0],
	.init         = ipsec_plugin_init,
	.fini         = ipsec_plugin_fini,
	.cdb_check    = ipsec_plugin_check,
	.cdb_describe = ipsec_plugin_describe,
	.cdb_build    = ipsec_plugin_build,
};
