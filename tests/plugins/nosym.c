/* nosym.c: a shared object without the ctp_feature symbol. */
#include "ctp/ctp_feature.h"

const struct ctp_feature ctp_feature_v0 = { .name = "nosym" };
