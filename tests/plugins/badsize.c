/* badsize.c: the right ABI version, but a descriptor of another size (as if
 * built against headers with one operation fewer). */
#define TP_NAME "badsize"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f0d };
const struct ctp_feature ctp_feature = {
	CTP_FEATURE_ABI_VERSION, sizeof(struct ctp_feature) - sizeof(void *), TP_NAME, "0.0-test",
	fpts, 1, tp_init, tp_fini, tp_check, tp_describe, tp_build
};
