/*
 * ctp_feature.h: the feature plugin ABI, the only way a plugin sees the daemon.
 *
 * A plugin is a shared object exporting one symbol, CTP_FEATURE_SYMBOL, a
 * const struct ctp_feature.  The loader (src/ctp/ctp_registry.c) opens it
 * with RTLD_NOW | RTLD_LOCAL and, before touching anything else, checks
 * abi_version == CTP_FEATURE_ABI_VERSION and size == sizeof(struct
 * ctp_feature); then that every FPT it claims is free (0xFF00 belongs to the
 * core).  Any failure unloads it again.
 *
 * Plugins do not link against the daemon.  They link the codec library
 * (cursor, TLV tables, values) statically and reach the daemon only through
 * the host operations they are given at init, so a unit test can load a
 * plugin with a fake host.
 *
 * Threading: every operation runs on the daemon's single loop thread.
 * Memory: what an operation returns in a struct ctp_val belongs to the
 * caller; a plugin's state belongs to the plugin until fini.
 */
#ifndef CTP_FEATURE_H
#define CTP_FEATURE_H

#include <stddef.h>
#include <stdint.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_val.h"

#define CTP_FEATURE_ABI_VERSION 3
#define CTP_FEATURE_SYMBOL      "ctp_feature"
#define CTP_FEATURE_MAX_FPTS    16

struct ctp_host;   /* opaque: the daemon, or a test's fake */
struct uv_loop_s;  /* libuv's uv_loop_t */

/* A control-socket command a plugin offers (ctp_ctl.h): fill reply, or
 * return CTP_E_* with err->what for the client.  Replies never hold keys. */
typedef int (*ctp_host_cmd_fn)(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err);

/* What the daemon offers a plugin.  size lets the table grow compatibly:
 * a plugin checks size before using a member added after log/now_ms. */
struct ctp_host_ops {
	uint32_t size;
	/* Log a line (level as in ctp_log.h); func names the caller. */
	void (*log)(struct ctp_host *host, int level, const char *func, const char *msg);
	/* Milliseconds on the loop's monotonic clock. */
	uint64_t (*now_ms)(struct ctp_host *host);
	/* Offer a control command ("sas", "mld", ...).  CTP_E_EXIST when the
	 * name is taken.  A command lives as long as the host: register it
	 * last in init (a failed init fails the daemon's start). */
	int (*register_cmd)(struct ctp_host *host, const char *name, ctp_host_cmd_fn fn,
	    void *state);
	/* This node's name and its own addresses (for path and endpoint logic). */
	const char *(*node_name)(struct ctp_host *host);
	size_t (*node_addrs)(struct ctp_host *host, struct ctp_addr *out, size_t max);
	/* The configured peer called name: its address and roles (1 = ar,
	 * 2 = sg); CTP_E_NOTFOUND when there is none.  And the reverse. */
	int (*peer_info)(struct ctp_host *host, const char *name, struct ctp_addr *addr,
	    unsigned *roles);
	const char *(*peer_by_addr)(struct ctp_host *host, const struct ctp_addr *addr);
	/* The daemon's loop, for a plugin's own sockets and timers (an SA
	 * database's datapath); NULL when the host has none (ctpctl).  Added
	 * after the members above: check size before using it. */
	struct uv_loop_s *(*loop)(struct ctp_host *host);
	/* Nonzero when a line at level would be written (or seen by a log
	 * hook): a plugin skips formatting lines that would be dropped.  The
	 * answer may change between calls (the operator sets the level).
	 * Added after loop: check size before using it; without it, log
	 * everything and let the host drop it. */
	int (*log_enabled)(struct ctp_host *host, int level);
};

/* ---- transfers (the engine's side of the ABI) ------------------------- */

enum ctp_xfer_outcome {
	CTP_XFER_COMMIT = 1,     /* the receiving side holds the contexts: drop ours */
	CTP_XFER_ABORT_CLEAN,    /* it refused or cancelled and never used them: resume */
	CTP_XFER_ABORT_UNKNOWN,  /* no answer (timeout, lost peer): it may have used
	                            them; keep ours out of the datapath (PROFILE 5.1) */
};

/*
 * What one CDB's status means for the side that handed it over (PROFILE
 * 5.1, proto/DECISIONS.md "Safety"): success (0, or 0x81 SPI reassigned)
 * commits it; "timed out" means nobody knows whether the receiver used
 * it; any other status is a refusal by a receiver that never installed it.
 */
static inline int
ctp_xfer_status_outcome(uint8_t status)
{
	if (status == 0x00 || status == 0x81)
		return CTP_XFER_COMMIT;
	return status == 0x04 ? CTP_XFER_ABORT_UNKNOWN : CTP_XFER_ABORT_CLEAN;
}

/*
 * One transfer as a plugin sees it, valid for the duration of a call.
 * slot is this plugin's per-transfer state: NULL when the transfer starts,
 * owned by the plugin, released by it in the matching done call (which
 * always comes, also after a timeout or a shutdown).
 */
struct ctp_xfer {
	uint64_t          id;          /* TRANSFER_ID: the same on every node */
	struct ctp_addr   mn;          /* the MN's previous address */
	const char       *peer;        /* the peer this side of the exchange talks to;
	                                  NULL when an operator or the MN started it */
	uint32_t          elapsed_ms;  /* age of the contexts (CTD Elapsed Time) */
	const uint16_t   *fpts;        /* the features asked for; nfpts 0 = all */
	size_t            nfpts;
	void            **slot;
};

#define CTP_COLLECT_MAX_FETCH 8
#define CTP_XFER_MAX_ROUNDS   3

/*
 * What a source hands over: whole CDBs appended to out (ctp_cdb_begin /
 * ctp_cdb_end), keys set when they carry key material, and the remote
 * sources the engine must fetch from first (a CT-Req with token 0 for fpt
 * to each; their CDBs follow ours in the message).
 */
struct ctp_collect {
	struct ctp_wbuf *out;
	unsigned         keys;
	struct {
		const char *peer;   /* a configured peer name; must stay valid */
		uint16_t    fpt;
	}                fetch[CTP_COLLECT_MAX_FETCH];
	size_t           nfetch;
};

/*
 * What a sink is given: this plugin's CDBs in message order, and per CDB a
 * status to fill (CTP_ST_*; 0 or 0x81 count as installed) or a peer to relay
 * it to (then the engine sends it on and the relay's answer becomes its
 * status).  Contexts the MN must learn about (a new SPI, a new SG address,
 * an offer) go into notify as whole CDBs; the engine sends them in a CTN.
 */
struct ctp_install {
	const struct ctp_cdb *cdb;
	size_t                n;
	uint8_t              *status;
	const char          **relay;
	/* per CDB, optional: the octets (one whole CDB) to relay instead of
	 * the received ones, e.g. with endpoints rewritten for the new path;
	 * they must stay valid until sink_done (keep them in the slot) */
	const uint8_t       **relay_cdb;
	size_t               *relay_len;
	unsigned              relay_keys; /* set: relayed CDBs carry key material */
	/* NULL when no CTN can be sent.  The same buffer in install and review;
	 * it stays valid until sink_done returns, and the CTN leaves after it,
	 * so a plugin may take back whole CDBs it wrote (a relay refused). */
	struct ctp_wbuf      *notify;
};

struct ctp_feature {
	uint32_t        abi_version;   /* CTP_FEATURE_ABI_VERSION */
	uint32_t        size;          /* sizeof(struct ctp_feature) */
	const char     *name;          /* "ipsec": also the name in configuration */
	const char     *version;
	const uint16_t *fpts;          /* the FPTs this plugin serves */
	size_t          nfpts;         /* 1 .. CTP_FEATURE_MAX_FPTS */

	/*
	 * Lifecycle.  config is the plugin's part of the configuration (an
	 * object, possibly empty; never NULL).  init returns 0 and sets
	 * *state, or CTP_E_* with err filled.
	 */
	int  (*init)(const struct ctp_host_ops *ops, struct ctp_host *host,
	    const struct ctp_val *config, void **state, struct ctp_err *err);
	void (*fini)(void *state);

	/*
	 * Codec.  check validates a received CDB completely (structure and
	 * meaning); family is the message's address family (4 or 6).  On
	 * failure it returns CTP_E_* with err->off in message offsets and
	 * err->status the CXTP status to report for this CDB.
	 */
	int (*cdb_check)(void *state, const struct ctp_cdb *cdb, unsigned family,
	    struct ctp_err *err);
	/*
	 * describe adds the CDB's fields to obj (an object that already holds
	 * "fpt", "feature", "length", "p" and, when P, "pv").  The keys are
	 * the field names of proto/cxtp.def and RFC 4067 in snake_case.
	 */
	int (*cdb_describe)(void *state, const struct ctp_cdb *cdb, unsigned family,
	    struct ctp_val *obj, struct ctp_err *err);
	/*
	 * build is describe's reverse: writes one whole CDB (header included,
	 * with ctp_cdb_begin/ctp_cdb_end) from obj into w.  The "length" and
	 * "p"/"pv" keys of obj, when present, must be honoured so that
	 * describe then build reproduces the bytes.
	 */
	int (*cdb_build)(void *state, uint16_t fpt, const struct ctp_val *obj,
	    struct ctp_wbuf *w, struct ctp_err *err);

	/*
	 * Source side (pAR, or an SG asked by its AR).  collect freezes what
	 * must not change while it moves (an outbound SA stops sending) and
	 * snapshots it; a plugin with nothing for this MN appends nothing.
	 * done reports the outcome for each CDB collected, in order (status
	 * per CDB: 0 committed; otherwise see outcome).  Either may be NULL
	 * for a plugin that only receives.
	 */
	int  (*source_collect)(void *state, struct ctp_xfer *x, struct ctp_collect *c,
	    struct ctp_err *err);
	void (*source_done)(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status,
	    size_t n);

	/*
	 * Sink side (nAR, or an SG its AR relays to).  install runs only after
	 * the transfer is authorised (the MN's token checked), with the CDBs
	 * that passed cdb_check; it installs what this node holds and names a
	 * peer for what belongs elsewhere.  done reports the final status of
	 * EVERY CDB of this plugin in message order (those cdb_check refused
	 * and the relayed ones included);
	 * outcome is CTP_XFER_ABORT_UNKNOWN when the engine could not finish
	 * (a relay never answered).  Either may be NULL for a plugin that
	 * only sends.
	 */
	int  (*sink_install)(void *state, struct ctp_xfer *x, struct ctp_install *in,
	    struct ctp_err *err);
	/*
	 * Once every relay has answered: status[] holds their verdicts.  The
	 * plugin may send some CDBs on again (set relay[i], and relay_cdb[i]
	 * for new octets: a fresh SPI after an SPI conflict, the next candidate
	 * SG after "algorithm not supported") and return 1 for another round;
	 * 0 when it is done (it may still change statuses and add to notify).
	 * At most CTP_XFER_MAX_ROUNDS rounds.  May be NULL.
	 */
	int  (*sink_review)(void *state, struct ctp_xfer *x, struct ctp_install *in,
	    struct ctp_err *err);
	void (*sink_done)(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status,
	    size_t n);

	/*
	 * A whole node's fail-over (ctpctl trigger move-all, added in ABI 3):
	 * call fn once for each MN this plugin holds context for as a source
	 * (the same address may come more than once; the engine keeps one).
	 * Returns 0, or CTP_E_* when the list could not be made.  May be NULL
	 * for a plugin whose contexts never leave with a fail-over.
	 */
	int  (*source_mns)(void *state, void (*fn)(void *arg, const struct ctp_addr *mn),
	    void *arg);
};

#endif
