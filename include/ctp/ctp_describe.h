/*
 * ctp_describe.h: whole messages to and from the value tree (and so JSON).
 *
 * ctp_msg_describe() turns a decoded message into an object whose keys are
 * the field names of RFC 4067 and PROFILE.md in snake_case ("type" holds the
 * message name, e.g. "CTAR").  CDBs are described by the plugin serving
 * their FPT, the control CDB (0xFF00) by the core, and any other CDB as
 * "data" in hex.  ctp_msg_build() is the reverse; describe then build
 * reproduces the original bytes exactly.
 */
#ifndef CTP_DESCRIBE_H
#define CTP_DESCRIBE_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_val.h"

/* Check every CDB of m with its owner (plugin or core); 0 or CTP_E_*. */
int ctp_msg_check_cdbs(const struct ctp_msg *m, const struct ctp_registry *reg,
    struct ctp_err *err);

/* reg may be NULL: CDBs are then shown as raw data. */
int ctp_msg_describe(const struct ctp_msg *m, const struct ctp_registry *reg,
    struct ctp_val **out, struct ctp_err *err);

/* Encode the message described by v into buf. */
int ctp_msg_build(const struct ctp_val *v, const struct ctp_registry *reg,
    uint8_t *buf, size_t cap, size_t *len, struct ctp_err *err);

/* The core's own control CDB (FPT 0xFF00). */
int ctp_control_check(const struct ctp_cdb *cdb, struct ctp_err *err);

#endif
