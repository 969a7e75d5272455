/* dupfpt.c: claims 0x7F02, which good.so already serves. */
#define TP_NAME "dupfpt"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f09, 0x7f02 };
const struct ctp_feature ctp_feature = TP_FEATURE(fpts, 2);
