/* corefpt.c: claims FPT 0xFF00, which belongs to the core. */
#define TP_NAME "corefpt"
#include "plugin.h"

static const uint16_t fpts[] = { 0x7f0b, 0xff00 };
const struct ctp_feature ctp_feature = TP_FEATURE(fpts, 2);
