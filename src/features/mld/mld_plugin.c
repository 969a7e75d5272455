/*
 * mld_plugin.c: the MLD feature's descriptor (ctp_feature.h), serving FPT
 * 0x0001 (RFC 4067 appendix B), and the one symbol mld.so exports
 * (src/features/plugin.map).
 *
 * Its contents are MLD_OPS_FEATURE (mld_ops.h), written once there: the
 * unit tests link every feature source but the *_plugin.c descriptors, and
 * register that same initialiser as a built-in, so they run exactly the
 * operations this object exports.
 */
#include "features/mld/mld_ops.h"

const struct ctp_feature ctp_feature = MLD_OPS_FEATURE;
