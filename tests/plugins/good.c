/* good.c: a plugin that passes every gate; serves FPTs 0x7F01 and 0x7F02. */
#define TP_NAME "good"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f01, 0x7f02 };
const struct ctp_feature ctp_feature = TP_FEATURE(fpts, 2);
