/* badabi.c: built for another ABI version. */
#define TP_NAME "badabi"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f0c };
const struct ctp_feature ctp_feature = {
	CTP_FEATURE_ABI_VERSION + 1, sizeof(struct ctp_feature), TP_NAME, "0.0-test",
	fpts, 1, tp_init, tp_fini, tp_check, tp_describe, tp_build
};
