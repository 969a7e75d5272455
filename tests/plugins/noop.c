/* noop.c: cdb_build is missing. */
#define TP_NAME "noop"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f0e };
const struct ctp_feature ctp_feature = {
	.abi_version = CTP_FEATURE_ABI_VERSION, .size = sizeof(struct ctp_feature),
	.name = TP_NAME, .version = "0.0-test", .fpts = fpts, .nfpts = 1,
	.init = tp_init, .fini = tp_fini, .cdb_check = tp_check, .cdb_describe = tp_describe,
	.cdb_build = NULL,
};
