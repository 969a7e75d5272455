/*
 * ctp_xfrm_policy.h: does an ESP policy of the kernel's SPD cover the
 * traffic to a peer?  The check behind security mode `ipsec` with the
 * kernel transport (PROFILE 2: "the daemon checks that an ESP policy covers
 * the peer and refuses the peer otherwise").
 *
 * A flow is one SCTP association as the kernel sees its packets: the local
 * and the peer address, IP protocol 132 (or 17, UDP, when SCTP travels in
 * RFC 6951 encapsulation) and the two ports.  It is covered when, in BOTH
 * directions (out: local -> peer; in: peer -> local), the policy the kernel
 * would apply to its packets requires ESP:
 *
 *   - a policy applies when its selector matches the flow (family,
 *     prefixes, upper-layer protocol 0 or the flow's, ports under their
 *     masks), its mark matches an unmarked packet (value 0) and it has no
 *     if_id (those serve XFRM interfaces only);
 *   - the kernel consults sub policies before main ones and, within a type,
 *     prefers the lowest priority value: the first applicable policy in
 *     that order decides;
 *   - it requires ESP when its action is allow and one of its templates is
 *     ESP (protocol 50) and not optional ("level use" would let plaintext
 *     through inbound).
 *
 * Conservative where the SPD alone cannot tell: a policy bound to an
 * interface (selector ifindex) may apply, so it can defeat coverage but
 * never provide it; two applicable policies of the same type and priority
 * cover only when both require ESP.  Per-socket policies are invisible in
 * the SPD and not considered (ctpd sets none on its SCTP socket).
 *
 * Threading: any; no state.  The dump is read with one blocking
 * NETLINK_XFRM exchange (2 s timeout), like the xfrm SAD backend's.
 */
#ifndef CTP_XFRM_POLICY_H
#define CTP_XFRM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_err.h"

struct ctp_xfrm_flow {
	struct ctp_addr local, peer;       /* same family */
	uint8_t         proto;             /* 132 SCTP, 17 UDP (encapsulated SCTP) */
	uint16_t        local_port, peer_port;   /* host order */
};

/* The verdict, per direction, and one line saying what is missing. */
struct ctp_xfrm_cover {
	int  out_ok, in_ok;
	char why[384];      /* "" when covered */
};

/*
 * Judge flow f against an SPD dump: dump holds whole netlink messages as a
 * XFRM_MSG_GETPOLICY dump returns them (NLMSG_DONE may be left out; other
 * message types are skipped).  1 covered, 0 not covered (cov->why says
 * what is missing in which direction), or CTP_E_LENGTH / CTP_E_INVAL with
 * err filled when the dump is malformed or f is.
 */
int ctp_xfrm_policy_match(const uint8_t *dump, size_t len, const struct ctp_xfrm_flow *f,
    struct ctp_xfrm_cover *cov, struct ctp_err *err);

/*
 * The same against this network namespace's SPD, read over NETLINK_XFRM.
 * CTP_E_IO (err says why: no XFRM in the kernel, not permitted, timeout)
 * when it cannot be read: the caller refuses the peer then, too.
 */
int ctp_xfrm_policy_check(const struct ctp_xfrm_flow *f, struct ctp_xfrm_cover *cov,
    struct ctp_err *err);

#endif
