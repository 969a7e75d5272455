/* dupname.c: a free FPT, but the name of good.so. */
#define TP_NAME "good"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f0a };
const struct ctp_feature ctp_feature = TP_FEATURE(fpts, 1);
