/*
 * ctp_priv.h: least privilege.  ctpd starts as root to open what needs root
 * (raw ICMP sockets, the control socket under /run, the XFRM netlink
 * socket), then becomes an unprivileged user that keeps only the
 * capabilities it still needs at run time: CAP_NET_RAW (answering mobile
 * nodes over raw ICMP) and CAP_NET_ADMIN (XFRM messages: the kernel checks
 * it per message).  No new privileges can be gained afterwards.
 */
#ifndef CTP_PRIV_H
#define CTP_PRIV_H

#include <stdint.h>

#include "ctp/ctp_err.h"

#define CTP_PRIV_NET_ADMIN (UINT64_C(1) << 12)   /* CAP_NET_ADMIN */
#define CTP_PRIV_NET_RAW   (UINT64_C(1) << 13)   /* CAP_NET_RAW */

/*
 * Become user (its uid, gid and only that group) keeping the capabilities
 * in keep (CTP_PRIV_* bits), and set no_new_privs.  CTP_E_INVAL for an
 * unknown user, CTP_E_STATE when not running as root, CTP_E_IO when a
 * system call refuses; err names the step.
 */
int ctp_priv_drop(const char *user, uint64_t keep, struct ctp_err *err);

/* The effective capability set of this process, as a bit mask. */
uint64_t ctp_priv_effective(void);

#endif
