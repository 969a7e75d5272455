/* noop.c: cdb_build is missing. */
#define TP_NAME "noop"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f0e };
const struct ctp_feature ctp_feature = {
	CTP_FEATURE_ABI_VERSION, sizeof(struct ctp_feature), TP_NAME, "0.0-test",
	fpts, 1, tp_init, tp_fini, tp_check, tp_describe, NULL
};
