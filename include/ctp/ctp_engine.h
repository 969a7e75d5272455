/*
 * ctp_engine.h: the CXTP engine: per-MN transfer state machines at pAR and
 * nAR for the four sequences of RFC 4067 (network- and mobile-controlled,
 * predictive and reactive), and the relay chain of PROFILE 3 at every
 * node (source: answers CT-Req with CTD/PCTD and keeps its copy until the
 * commit; sink: answers CTD with CTDR).  It knows contexts only through the
 * plugin ABI (ctp_feature.h) and peers only through the node (ctp_node.h).
 *
 * One transfer per MN previous address at a time.  A transfer has one role
 * at this node:
 *   PAR     holds the MN's key; pushes (PCTD) or answers (CTD/PCTD) nAR;
 *           may first fetch contexts from its SGs (CT-Req, token 0);
 *   NAR     receives the contexts (asked for with CT-Req, or pushed), checks
 *           the MN's token, installs, relays to its SGs, answers CTAA/CTDR,
 *           and notifies the MN (CTN) when a plugin asks;
 *   SOURCE  an SG asked by its AR: collects and answers with a CTD;
 *   SINK    an SG its AR relays to: installs and answers with a CTDR.
 * Every state change is logged "transfer mn=ADDR id=ID: old -> new (event)".
 *
 * Timers (T = CT_MAX_TRANSFER_TIME, H = CT_MAX_HANDOVER_TIME): a fetch or a
 * relay waits 2T; nAR waits 4T for the CTD it asked for; pAR waits 4T for
 * the CTDR after a CTD and H + 4T after a PCTD (nAR holds a pushed context
 * for H); an SG source waits H + 6T for its AR's verdict.  The safety
 * rules for what a timeout means are in proto/DECISIONS.md.
 */
#ifndef CTP_ENGINE_H
#define CTP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_mnio.h"
#include "ctp/ctp_node.h"

struct ctp_engine;

/* Where messages to mobile nodes go (the daemon: ctp_mnio; tests: a fake). */
struct ctp_engine_mn_ops {
	int (*send)(void *io, const struct sockaddr *to, enum ctp_mnio_carrier carrier,
	    const uint8_t *msg, size_t len);
	void *io;
};

/* The engine takes over the node's handler; it registers its control
 * commands (transfers, trigger, mn-key, ...) on the node's control socket. */
int ctp_engine_new(struct ctp_node *node, struct ctp_engine **out, struct ctp_err *err);
/* Abort every live transfer (the plugins hear done with ABORT_UNKNOWN for
 * what they handed over), stop timers; memory goes when their handles
 * have closed (run the loop after).  NULL is fine. */
void ctp_engine_free(struct ctp_engine *e);

void ctp_engine_set_mn_ops(struct ctp_engine *e, const struct ctp_engine_mn_ops *ops);
/* A message from a mobile node (ctp_mnio's input callback fits). */
void ctp_engine_mn_input(void *engine, const struct sockaddr *from,
    enum ctp_mnio_carrier carrier, const uint8_t *msg, size_t len);

/*
 * The MN-pAR keys (RFC 4067 2.7).  How an MN's key reaches its AR is out
 * of scope there; ctpd takes it from the operator or AAA through the
 * control socket ("mn-key").  The key is wiped when replaced, deleted,
 * or used for a transfer (RFC 4067: an AR never reuses it).
 */
int ctp_engine_mn_key_set(struct ctp_engine *e, const struct ctp_addr *mn, const uint8_t *key,
    size_t len);
int ctp_engine_mn_key_del(struct ctp_engine *e, const struct ctp_addr *mn);

enum ctp_trigger_kind {
	CTP_TRIGGER_PUSH = 1,    /* at pAR: predictive, PCTD to `peer` (network-controlled) */
	CTP_TRIGGER_PULL,        /* at nAR: reactive, CT-Req with token 0 to `peer` */
	CTP_TRIGGER_MOVE,        /* at an SG: hand the MN's contexts to the SG `peer`
	                            (load balancing, fail-over); no MN involved */
};

struct ctp_trigger {
	enum ctp_trigger_kind kind;
	struct ctp_addr       mn;
	const char           *peer;
	const uint16_t       *fpts;   /* features; nfpts 0 = all */
	size_t                nfpts;
};

/* Start a transfer on a network trigger (ctpctl trigger). */
int ctp_engine_trigger(struct ctp_engine *e, const struct ctp_trigger *t, struct ctp_err *err);

/*
 * A whole node's fail-over at an SG (ctpctl trigger move-all): every MN
 * the plugins hold context for (their source_mns) moves to the SG peer as
 * one SOURCE transfer each, at most half of limits.transfers-per-peer at a
 * time.  One batch at a time (CTP_E_STATE while one runs); *count is the
 * number of MNs queued; progress shows in the status ("moves").
 */
int ctp_engine_move_all(struct ctp_engine *e, const char *peer, const uint16_t *fpts,
    size_t nfpts, size_t *count, struct ctp_err *err);

struct ctp_engine_move {
	char     peer[64];
	int      running;
	size_t   mns, queued;     /* MNs in the batch, not started yet */
	unsigned live;
	uint64_t committed, failed, skipped, elapsed_ms;
};
/* The current or last move-all; CTP_E_NOTFOUND before the first. */
int ctp_engine_move_status(const struct ctp_engine *e, struct ctp_engine_move *out);

struct ctp_engine_stats {
	uint64_t started, committed, aborted, timed_out, refused;
	uint64_t ctar_in, ctar_dropped_rate, ctar_duplicate, ctar_bad_token;
	uint64_t live;
	uint64_t held;   /* contexts pushed to us, waiting for the MN's CTAR */
};
void ctp_engine_stats(const struct ctp_engine *e, struct ctp_engine_stats *out);

#endif
