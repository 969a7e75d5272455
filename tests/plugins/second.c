/* second.c: another good plugin (FPT 0x7F03), for load and unload order. */
#define TP_NAME "second"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f03 };
const struct ctp_feature ctp_feature = TP_FEATURE(fpts, 1);
