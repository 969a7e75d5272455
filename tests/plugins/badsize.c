/* badsize.c: the right ABI version, but a descriptor of another size (as if
 * built against headers with one operation fewer). */
#define TP_NAME "badsize"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f0d };
const struct ctp_feature ctp_feature = {
	.abi_version = CTP_FEATURE_ABI_VERSION, .size = sizeof(struct ctp_feature) - sizeof(void *),
	.name = TP_NAME, .version = "0.0-test", .fpts = fpts, .nfpts = 1,
	.init = tp_init, .fini = tp_fini, .cdb_check = tp_check, .cdb_describe = tp_describe,
	.cdb_build = tp_build,
};
