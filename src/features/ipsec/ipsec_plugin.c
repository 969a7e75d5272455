/*
 * ipsec_plugin.c: the IPsec feature's descriptor (ctp_feature.h), serving
 * FPT 0xFF01 (one SA per CDB) and 0xFF02 (one user profile per CDB).
 *
 * Only ctp_feature is exported (src/features/plugin.map); the codec, the
 * tables, the SA databases and the transfer logic are linked in and hidden.
 * The operations live in ipsec_xfer.c (the unit tests call them there);
 * this file adds describe and build, which only ctpctl and ctpmn need.
 */
#include "ctp/ctp_defs.h"
#include "ctp/ctp_feature.h"
#include "ctp/ctp_tlv.h"
#include "features/ipsec/ipsec_xfer.h"

#ifndef CTP_VERSION_STR
#define CTP_VERSION_STR "0"
#endif

static const uint16_t ipsec_plugin_fpts[] = { CTP_FPT_IPSEC_SA, CTP_FPT_IPSEC_PROFILE };

static int
ipsec_plugin_describe(void *state, const struct ctp_cdb *cdb, unsigned family,
    struct ctp_val *obj, struct ctp_err *err)
{
	struct ctp_val *tlvs;
	int rc;

	/* only what passed every check is described field by field */
	if ((rc = ipsec_xfer_check(state, cdb, family, err)) < 0)
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
	.abi_version    = CTP_FEATURE_ABI_VERSION,
	.size           = sizeof(struct ctp_feature),
	.name           = "ipsec",
	.version        = CTP_VERSION_STR,
	.fpts           = ipsec_plugin_fpts,
	.nfpts          = sizeof ipsec_plugin_fpts / sizeof ipsec_plugin_fpts[0],
	.init           = ipsec_xfer_init,
	.fini           = ipsec_xfer_fini,
	.cdb_check      = ipsec_xfer_check,
	.cdb_describe   = ipsec_plugin_describe,
	.cdb_build      = ipsec_plugin_build,
	.source_collect = ipsec_xfer_source_collect,
	.source_done    = ipsec_xfer_source_done,
	.sink_install   = ipsec_xfer_sink_install,
	.sink_review    = ipsec_xfer_sink_review,
	.sink_done      = ipsec_xfer_sink_done,
	.source_mns     = ipsec_xfer_source_mns,
};
