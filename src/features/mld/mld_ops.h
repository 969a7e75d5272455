/*
 * mld_ops.h: the MLD feature's operations (ctp_feature.h, ABI 2): the
 * configuration, the "mld" control command, the codec, and the transfer
 * operations over the table of mld_state.h.  The plugin's state is a
 * struct mld_state.
 *
 * Configuration (the <plugin name="mld"> value tree, ctp_conf.h):
 *
 *   {"interface": [{"name": "veth-mn"}, ...]}
 *
 * the interfaces facing mobile nodes, where the router joins the groups it
 * takes over (at most MLD_STATE_MAX_IFS; none: it only tracks and moves
 * contexts).  Any other key is refused with CTP_E_CONFIG naming it.
 *
 * The control command "mld" (ctpctl call mld '{"op": "list"}'):
 *
 *   {"op": "add", "mn": ADDR, "group": V6[, "prefix": V6]}
 *        the MN listens to group (an MLD snooper or a lab says so); an
 *        entry there is already becomes active again.  -> {"created": BOOL}
 *   {"op": "del", "mn": ADDR[, "group": V6]}
 *        forget one group of the MN, or all of them.  -> {"deleted": N}
 *   {"op": "list"[, "mn": ADDR]}
 *        -> {"interfaces": [NAME...], "groups": [{"mn", "group", "prefix"
 *           (when known), "state": "active"|"frozen", "joined": BOOL}...]}
 *
 * Only mld_plugin.c's descriptor is exported from mld.so; these functions
 * are hidden there (src/features/plugin.map).  The unit tests link them
 * directly, as they link every feature source but the *_plugin.c files.
 */
#ifndef MLD_OPS_H
#define MLD_OPS_H

#include "ctp/ctp_feature.h"
#include "ctp/ctp_proto.h"
#include "features/mld/mld_state.h"

#ifndef CTP_VERSION_STR
#define CTP_VERSION_STR "0"
#endif

/* The most groups of one MN that one transfer carries (the default
 * cdbs-per-message of a receiver); the others stay active here. */
#define MLD_OPS_XFER_MAX 64

extern const uint16_t mld_ops_fpts[1];

int mld_ops_init(const struct ctp_host_ops *ops, struct ctp_host *host,
    const struct ctp_val *config, void **state, struct ctp_err *err);
void mld_ops_fini(void *state);

int mld_ops_check(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_err *err);
int mld_ops_describe(void *state, const struct ctp_cdb *cdb, unsigned family,
    struct ctp_val *obj, struct ctp_err *err);
int mld_ops_build(void *state, uint16_t fpt, const struct ctp_val *obj, struct ctp_wbuf *w,
    struct ctp_err *err);

int mld_ops_collect(void *state, struct ctp_xfer *x, struct ctp_collect *c,
    struct ctp_err *err);
void mld_ops_source_done(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status,
    size_t n);
int mld_ops_install(void *state, struct ctp_xfer *x, struct ctp_install *in,
    struct ctp_err *err);
void mld_ops_sink_done(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status,
    size_t n);

/* The "mld" control command (ctp_host_cmd_fn), registered by init. */
int mld_ops_cmd(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err);

/*
 * The descriptor, written once.  mld_plugin.c exports it as ctp_feature;
 * a test registers the same as a built-in (ctp_node_add_plugin), so both
 * run the very same operations.
 */
#define MLD_OPS_FEATURE {                                  \
	.abi_version    = CTP_FEATURE_ABI_VERSION,         \
	.size           = sizeof(struct ctp_feature),      \
	.name           = "mld",                           \
	.version        = CTP_VERSION_STR,                 \
	.fpts           = mld_ops_fpts,                    \
	.nfpts          = 1,                               \
	.init           = mld_ops_init,                    \
	.fini           = mld_ops_fini,                    \
	.cdb_check      = mld_ops_check,                   \
	.cdb_describe   = mld_ops_describe,                \
	.cdb_build      = mld_ops_build,                   \
	.source_collect = mld_ops_collect,                 \
	.source_done    = mld_ops_source_done,             \
	.sink_install   = mld_ops_install,                 \
	.sink_done      = mld_ops_sink_done,               \
}

#endif
