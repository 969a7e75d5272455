/* badabi.c: built for another ABI version. */
#define TP_NAME "badabi"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f0c };
const struct ctp_feature ctp_feature = {
	.abi_version = CTP_FEATURE_ABI_VERSION + 1, .size = sizeof(struct ctp_feature),
	.name = TP_NAME, .version = "0.0-test", .fpts = fpts, .nfpts = 1,
	.init = tp_init, .fini = tp_fini, .cdb_check = tp_check, .cdb_describe = tp_describe,
	.cdb_build = tp_build,
};
