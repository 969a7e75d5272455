/* initfail.c: passes every gate, then its init refuses to start. */
#define TP_NAME "initfail"
#include "plugin.h"

static int
initfail_init(const struct ctp_host_ops *ops, struct ctp_host *host,
    const struct ctp_val *config, void **state, struct ctp_err *err)
{
	struct tp_state s = { ops, host };

	tp_log(&s, "initfail_init", "init refused");
	return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "initfail: refusing to start (test)");
}

static const uint16_t fpts[] = { 0x7f0f };
const struct ctp_feature ctp_feature = {
	.abi_version = CTP_FEATURE_ABI_VERSION, .size = sizeof(struct ctp_feature),
	.name = TP_NAME, .version = "0.0-test", .fpts = fpts, .nfpts = 1,
	.init = initfail_init, .fini = tp_fini, .cdb_check = tp_check, .cdb_describe = tp_describe,
	.cdb_build = tp_build,
};
