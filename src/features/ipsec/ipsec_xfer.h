/*
 * ipsec_xfer.h: what happens to an MN's IPsec SAs during a transfer: the
 * IPsec plugin's engine operations (ctp_feature.h ABI 2) and its control
 * commands.  ipsec_plugin.c only wires these into the descriptor, so the
 * unit tests call them directly, with a fake host and a fake SAD.
 *
 * THE SOURCE (pAR, or an SG asked by its AR).  collect lists the MN's SAs
 * in the SAD; each is frozen first (an outbound SA stops sending: PROFILE
 * 5.1), then snapshot, and handed over as one SA CDB with
 *   SEQ_OUT.next = max(snapshot next, highest sent + 1) + seq-margin,
 *   SEQ_OUT.margin = seq-margin, SNAPSHOT_AGE, SA type 0, moves 0x01
 * (the sender cannot tell the type: nAR classifies).  A node with paths
 * configured (an AR) adds one profile CDB (PATH per plane: the previous
 * paths; ENCR_PREF/INTEG_PREF of the default profile) and asks the engine
 * to fetch FPT 0xFF01 from every hop marked sg that is a configured peer.
 * done applies each SA's verdict (ctp_xfer_status_outcome): commit ->
 * remove, clean refusal (0x8A "left in place" included) -> thaw, no
 * verdict -> quarantine (the MN must re-key it).
 *
 * THE SINK (nAR, or an SG its AR relays to).  With a profile CDB (nAR):
 * every SA is classified (ipsec_classify_list) against the previous paths
 * and this node's paths with the <sg-replace> map, and goes where its
 * holder goes (the holder is the SA's local end as it arrived, the node
 * that held that copy):
 *
 *   classification refused (code < 0)   its status (0x82, 0x84)
 *   nothing moves (types 1, 2; or the holder's end stays)    0x8A
 *   the holder's new place is this node     install here (below)
 *   ... is another node                     relay the rewritten CDB to the
 *                                           peer at that address (0x85
 *                                           when there is none)
 *
 * ENDPOINTS is rewritten from the holder's view: local = the new holder
 * (or the VIRTUAL_SG address, which stays), peer = the other end's new
 * address (the MN's stays), the classified type, moves.  A failure of one
 * member fails its whole bundle, and both copies of a type 4 SA (0x82).
 * Without a profile at nAR the previous path of every plane is taken to be
 * pAR alone (only pAR's own SAs can then move, to nAR).  Without a profile
 * at an SG (a relay from its AR): every SA is installed as it came.
 *
 * Installing here: forbid (0x89), supports (0x83), lifetimes aged by the
 * CTD's elapsed time + USAGE.add_ms + SNAPSHOT_AGE (0x87 when a hard limit
 * has passed, else the remaining limits are installed), PMTU capped by the
 * policy, then the SPI at its new place (spi_in_use on the lookup triple):
 * deny 0x80, renegotiate 0x82, reassign 0x81 only at nAR (it alone can tell
 * the MN) for an SA inbound at its holder whose other end is the MN;
 * elsewhere reassign degrades to deny and nAR's review reassigns.  Bundles
 * are checked whole and installed in position order, outermost first.
 *
 * What the MN must learn goes into the CTN (nAR only), one SA CDB per SA of
 * the MN ("notify form": SA_ID as the MN knows it, direction from the MN's
 * view; ENDPOINTS local = the MN, peer = the SG address it must use, SA
 * type 5, moves 0x02 when that address changed; PREV_SPI when the SPI was
 * reassigned; PMTU when it shrank; never keys), followed by a profile CDB
 * when the new endpoint can offer algorithms the user prefers (an upgrade
 * offer).  Notifications for relayed SAs are written when they are sent
 * and taken back when the relay refuses them (in review, or in sink_done
 * when it could not even be sent to), so a CTN never names an SA that
 * stayed where it was; one whose relay never answered stays named (its
 * source quarantines it: the new SG may hold it).
 *
 * Review (after the relays answered; only where another round can still
 * be reviewed): 0x80 under the reassign policy at nAR -> a random unused
 * SPI, the CDB again, 0x81 and a CTN on success; 0x83 -> the next <sg-
 * replace> candidate for the same remote SG that lies on this node's path
 * before G, else 0x84.
 *
 * Threading: the loop thread only, like every plugin operation.  Memory:
 * slots hold copies of CDBs (keys included): wiped when freed.
 */
#ifndef IPSEC_XFER_H
#define IPSEC_XFER_H

#include "ctp/ctp_feature.h"
#include "features/ipsec/ipsec_conf.h"
#include "features/ipsec/ipsec_sad.h"

struct ipsec_xfer;   /* the plugin's state */

/*
 * Parse config (ipsec_conf.h), open the SA database (sad, or the
 * configured backend when NULL: tests pass a fake) and offer the control
 * commands "sas", "sa-add" and "sa-del" when the host has a control
 * socket.  0, or CTP_E_* with err filled.
 */
int ipsec_xfer_new(const struct ctp_host_ops *ops, struct ctp_host *host,
    const struct ctp_val *config, const struct ipsec_sad_ops *sad, struct ipsec_xfer **out,
    struct ctp_err *err);
void ipsec_xfer_free(struct ipsec_xfer *s);

/* For an SA database's log lines: nonzero when env's log callback would
 * write a line at level (when env comes from ipsec_xfer_new, its host's
 * log_enabled decides; any other callback gets every line).  0 without a
 * callback.  Lets a backend skip formatting lines that would be dropped. */
int ipsec_xfer_sad_log_on(const struct ipsec_sad_env *env, int level);

const struct ipsec_conf *ipsec_xfer_conf(const struct ipsec_xfer *s);
/* The SA database the plugin uses (for tests and the demo). */
void ipsec_xfer_sad(struct ipsec_xfer *s, const struct ipsec_sad_ops **ops,
    struct ipsec_sad **sad);

/* ---- the feature operations (state is a struct ipsec_xfer) ------------------ */

int  ipsec_xfer_init(const struct ctp_host_ops *ops, struct ctp_host *host,
    const struct ctp_val *config, void **state, struct ctp_err *err);
void ipsec_xfer_fini(void *state);
/* The whole check of an SA (0xFF01) or profile (0xFF02) CDB. */
int  ipsec_xfer_check(void *state, const struct ctp_cdb *cdb, unsigned family,
    struct ctp_err *err);
/* The MNs of this node's SAs, for ctpctl trigger move-all (ctp_feature.h). */
int  ipsec_xfer_source_mns(void *state, void (*fn)(void *arg, const struct ctp_addr *mn),
    void *arg);
int  ipsec_xfer_source_collect(void *state, struct ctp_xfer *x, struct ctp_collect *c,
    struct ctp_err *err);
void ipsec_xfer_source_done(void *state, struct ctp_xfer *x, int outcome,
    const uint8_t *status, size_t n);
int  ipsec_xfer_sink_install(void *state, struct ctp_xfer *x, struct ctp_install *in,
    struct ctp_err *err);
int  ipsec_xfer_sink_review(void *state, struct ctp_xfer *x, struct ctp_install *in,
    struct ctp_err *err);
void ipsec_xfer_sink_done(void *state, struct ctp_xfer *x, int outcome,
    const uint8_t *status, size_t n);

/*
 * ---- control commands (ctp_host_cmd_fn) --------------------------------------
 *
 * sas      {} -> {"backend": str, "sas": [the backend's describe objects]}
 *          (lookup triple, state, algorithm names, counters; never keys)
 * sa-add   {"sa": SA} or {"sa": [SA, ...]}, SA = one SA CDB as `ctpctl
 *          decode --json` prints it: {"fpt": 65281, "tlvs": [...]} ("fpt"
 *          optional) -> {"count": n, "sas": [{"spi", "protocol", "dst",
 *          "direction"}]}; all or nothing: the first SA that does not
 *          decode or install refuses the request, and the ones installed
 *          before it are removed again.
 *          {"sa": SA, "count": N, "mn": ADDR} installs N SAs (1 to
 *          IPSEC_XFER_ADD_COUNT_MAX) made from the one template SA, for
 *          load tests and capacity planning: SA i (from 0) has SPI + i,
 *          the address mn + i wherever the template has mn (ENDPOINTS,
 *          SELECTOR; "mn" absent: the template's peer address), and fresh
 *          random ENCR and INTEG keys of the template's lengths ->
 *          {"count": N, "first": {...}, "last": {...}} (spi, protocol,
 *          dst, direction); all or nothing as above, one log line.  The
 *          loop does nothing else meanwhile (a few µs an SA on the mem
 *          SAD): give a million in chunks that fit ctpctl's 5 s wait.
 * sa-del   {"spi": n, "dst": ADDR, "protocol": "esp" | "ah" | 50 | 51}
 *          (protocol esp when absent) -> {"count": 1}
 */
#define IPSEC_XFER_ADD_COUNT_MAX (1u << 20)   /* the mem SAD's own limit */

int ipsec_xfer_cmd_sas(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err);
int ipsec_xfer_cmd_sa_add(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err);
int ipsec_xfer_cmd_sa_del(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err);

#endif
