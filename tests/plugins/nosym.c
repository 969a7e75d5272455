/* nosym.c: a shared object without the ctp_feature symbol. */
#include "ctp/ctp_feature.h"

const struct ctp_feature ctp_feature_v0 = { 0, 0, "nosym", NULL, NULL, 0,
	NULL, NULL, NULL, NULL, NULL };
