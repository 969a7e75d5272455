/*
 * plugin.h: the body shared by the test plugins of test_registry.c.
 *
 * Each tests/plugins/X.c defines TP_NAME, includes this, and exports its own
 * descriptor (or a broken one, which is the point of most of them).  The
 * plugin serves raw CDB data: describe puts it under "payload" (so that
 * ctp_msg_build has to call cdb_build), check refuses data starting with 0xEE
 * with status 0x80, and init/fini/build say what they do through the host's
 * log callback, which is how the test observes them.
 */
#ifndef TP_PLUGIN_H
#define TP_PLUGIN_H

#include <stdio.h>
#include <stdlib.h>

#include "ctp/ctp_feature.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_val.h"

#define TP_UNUSED __attribute__((unused))

struct tp_state {
	const struct ctp_host_ops *ops;
	struct ctp_host           *host;
};

static TP_UNUSED void
tp_log(const struct tp_state *s, const char *func, const char *what)
{
	char line[160];

	snprintf(line, sizeof line, "%s: %s", TP_NAME, what);
	if (s->ops && s->ops->log)
		s->ops->log(s->host, 6, func, line);
}

static TP_UNUSED int
tp_init(const struct ctp_host_ops *ops, struct ctp_host *host, const struct ctp_val *config,
    void **state, struct ctp_err *err)
{
	struct tp_state *s;
	const char *tag = "-";
	char line[96];

	if (!config || config->kind != CTP_V_OBJ)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s: config is not an object", TP_NAME);
	if ((s = calloc(1, sizeof *s)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", TP_NAME);
	s->ops = ops;
	s->host = host;
	(void)ctp_val_get_str(config, "tag", &tag, NULL);
	snprintf(line, sizeof line, "init tag=%s", tag);
	tp_log(s, "tp_init", line);
	*state = s;
	return 0;
}

static TP_UNUSED void
tp_fini(void *state)
{
	struct tp_state *s = state;

	tp_log(s, "tp_fini", "fini");
	free(s);
}

static TP_UNUSED int
tp_check(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_err *err)
{
	if (cdb->len && cdb->data[0] == 0xee)
		return ctp_err_set(err, CTP_E_VALUE, cdb->off + CTP_CDB_HDR_LEN +
		    (cdb->flags & CTP_CDB_P ? 4 : 0), 0x80,
		    "%s: CDB data starts with 0xee (IPv%u)", TP_NAME, family);
	return 0;
}

static TP_UNUSED int
tp_describe(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_val *obj,
    struct ctp_err *err)
{
	int rc = ctp_val_set_hex(obj, "payload", cdb->data, cdb->len);

	return rc ? ctp_err_set(err, rc, cdb->off, 0, "%s: describe", TP_NAME) : 0;
}

static TP_UNUSED int
tp_build(void *state, uint16_t fpt, const struct ctp_val *obj, struct ctp_wbuf *w,
    struct ctp_err *err)
{
	uint64_t units = 0, p = 0, pv = 0, rsv = 0;
	uint8_t data[2040];
	size_t n = 0, at;
	int rc;

	tp_log(state, "tp_build", "build");
	if (((rc = ctp_val_get_u64(obj, "length", 255, &units, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_u64(obj, "p", 1, &p, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_u64(obj, "pv", UINT32_MAX, &pv, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_u64(obj, "reserved", 0x7f, &rsv, err)) < 0 && rc != CTP_E_NOTFOUND) ||
	    ((rc = ctp_val_get_hex(obj, "payload", data, sizeof data, &n, err)) < 0 &&
	    rc != CTP_E_NOTFOUND))
		return rc;
	at = ctp_cdb_begin(w, fpt, (uint8_t)((p ? CTP_CDB_P : 0) | rsv), (uint32_t)pv);
	ctp_wbuf_bytes(w, data, n);
	if ((rc = ctp_cdb_end(w, at, (uint8_t)units, 0)) < 0)
		return ctp_err_set(err, rc, 0, 0, "%s: build", TP_NAME);
	return 0;
}

/* A well-formed descriptor over the operations above. */
#define TP_FEATURE(fpts_, nfpts_) {                                           \
	.abi_version = CTP_FEATURE_ABI_VERSION, .size = sizeof(struct ctp_feature), \
	.name = TP_NAME, .version = "0.0-test", .fpts = fpts_, .nfpts = nfpts_,   \
	.init = tp_init, .fini = tp_fini, .cdb_check = tp_check,                   \
	.cdb_describe = tp_describe, .cdb_build = tp_build }

#endif
