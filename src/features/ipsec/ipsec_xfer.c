/*
 * ipsec_xfer.c: the IPsec feature during a transfer (ipsec_xfer.h has the
 * whole picture; the decisions below cite it, PROFILE 5 and 6, the IPsec CT
 * draft and proto/DECISIONS.md 30 to 36).
 *
 * Decisions where the draft and PROFILE 6 are silent (proto/DECISIONS.md
 * "The IPsec feature" repeats the ones a peer can see):
 *
 *  - Every SA of the MN is frozen before its snapshot, inbound ones too: an
 *    inbound SA sends nothing, so freezing it only records "handed over,
 *    waiting for the verdict", which remove, thaw and quarantine expect.
 *  - SNAPSHOT_AGE counts from the snapshot to the encoding; the engine
 *    sends right after, except while pAR waits for its SGs (at most 2T),
 *    and the CTD's Elapsed Time covers retransmissions.
 *  - The plane of an SA (it carries none) is the first plane whose previous
 *    path holds one of its ends.
 *  - An SA with VIRTUAL_SG keeps the virtual address as its local end at
 *    every holder (the network redirects it: draft 6.2, indirect); on the
 *    way to nAR its ENDPOINTS carry the holder's real address, which the
 *    classification needs, and the sink puts the virtual one back.
 *  - The holder of a copy whose own end stays (the classification keeps it,
 *    or it sits beyond G) keeps its copy: 0x8A.  Only moving copies move.
 *  - Lifetimes: the remaining add-time and use-time limits are installed
 *    (rounded down: a limit is never extended; under one second left of a
 *    hard limit is expired, as 0 would mean "none"; a soft limit already
 *    passed becomes 1 s) and USAGE's times restart, so a backend that ages
 *    an SA by USAGE does not age it twice.  Byte and packet counts travel
 *    in USAGE and keep counting against their limits.
 *  - PMTU: the policy caps the PMTU of every SA this node installs and, at
 *    nAR, of every SA of the MN it relays (the MN's traffic crosses nAR
 *    whichever SG holds the SA).  Only nAR can tell the MN.
 *  - SPI reassignment needs an SA inbound at its holder (the receiver
 *    chooses the SPI, RFC 4303 2.1) whose other end is the MN (only the MN
 *    can be told).  Otherwise "reassign" is "deny".
 *  - Upgrade offers are made for SAs of the MN installed at nAR itself: the
 *    new endpoint must know what it supports, and nAR knows only its own
 *    SAD.  The offer lists the user's preferences (the received profile,
 *    else the configured default) ranked above the SA's algorithm that this
 *    endpoint supports and does not forbid; it follows the SA's CDB in the
 *    CTN, which identifies the SA.
 *  - The next candidate after 0x83 is tried only for SAs outside bundles
 *    whose other end does not move (a type 4 copy's partner already went to
 *    the first candidate's neighbour), and only while another relay round
 *    can still be reviewed (CTP_XFER_MAX_ROUNDS); otherwise 0x83 stays.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tlv.h"
#include "features/ipsec/ipsec_alg.h"
#include "features/ipsec/ipsec_classify.h"
#include "features/ipsec/ipsec_profile.h"
#include "features/ipsec/ipsec_sa.h"
#include "features/ipsec/ipsec_xfer.h"

#define IPSEC_XFER_SRC      0x69707372u   /* "ipsr": a source slot */
#define IPSEC_XFER_SNK      0x6970736bu   /* "ipsk": a sink slot */
#define IPSEC_XFER_CDB_MAX  2048          /* one CDB: 255 x 8 octets, and then some */
#define IPSEC_XFER_OWN_MAX  8
#define IPSEC_XFER_SPI_TRIES 32

/* Does the host's table have member m (it may be older and smaller)? */
#define IPSEC_XFER_HOST_HAS(ops, m)                                           \
	((ops) != NULL && (ops)->size >= offsetof(struct ctp_host_ops, m) + sizeof((ops)->m) && \
	 (ops)->m != NULL)

struct ipsec_xfer {
	const struct ctp_host_ops  *ops;
	struct ctp_host            *host;
	struct ipsec_conf           conf;
	const struct ipsec_sad_ops *sad_ops;
	struct ipsec_sad           *sad;
	/*
	 * Decode scratch, reused from one transfer to the next instead of a
	 * calloc'd and wiped 2.7 KiB struct per CDB (issue 8): nscratch
	 * structs for sink_install (grown to its largest CDB count, at most
	 * CTP_MAX_CDBS), one for cdb_check.  Clean between uses: each is
	 * handed back with ipsec_sa_reset(), which wipes its keys.
	 */
	struct ipsec_sa            *scratch;
	size_t                      nscratch;
	bool                        scratch_busy;
	struct ipsec_sa            *chk;
};

static int ipsec_xfer_cmd_esp_send(void *state, const struct ctp_val *req,
    struct ctp_val *reply, struct ctp_err *err);

/* ---- small helpers ------------------------------------------------------------ */

static void ipsec_xfer_logf(const struct ipsec_xfer *s, int level, const char *func,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Would a line at level be written?  A host without log_enabled (older
 * than the member) gets every line and drops what it does not want. */
static int
ipsec_xfer_log_on(const struct ipsec_xfer *s, int level)
{
	if (!IPSEC_XFER_HOST_HAS(s->ops, log))
		return 0;
	return !IPSEC_XFER_HOST_HAS(s->ops, log_enabled) || s->ops->log_enabled(s->host, level);
}

/* The arguments (an address or SA name formatted for the line) are
 * evaluated only when the line is written: a bulk move logs per SA at info
 * level, which the default level drops (issue 8). */
#define ipsec_xfer_log(s, level, func, ...)                                    \
	(ipsec_xfer_log_on((s), (level)) ? ipsec_xfer_logf((s), (level), (func), __VA_ARGS__) : \
	 (void)0)

static void
ipsec_xfer_logf(const struct ipsec_xfer *s, int level, const char *func, const char *fmt, ...)
{
	char line[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	s->ops->log(s->host, level, func, line);
}

static void
ipsec_xfer_sad_log(void *arg, int level, const char *func, const char *msg)
{
	const struct ipsec_xfer *s = arg;

	if (IPSEC_XFER_HOST_HAS(s->ops, log))
		s->ops->log(s->host, level, func, msg);
}

int
ipsec_xfer_sad_log_on(const struct ipsec_sad_env *env, int level)
{
	if (!env->log)
		return 0;
	return env->log != ipsec_xfer_sad_log || ipsec_xfer_log_on(env->log_arg, level);
}

static uint64_t
ipsec_xfer_now(const struct ipsec_xfer *s)
{
	return IPSEC_XFER_HOST_HAS(s->ops, now_ms) ? s->ops->now_ms(s->host) : 0;
}

static uint64_t
ipsec_xfer_sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static const char *
ipsec_xfer_addr(const struct ctp_addr *a, char *buf)
{
	return ctp_addr_fmt(a, buf, CTP_ADDRSTRLEN);
}

/* The MN's address for a log line, formatted on first use: buf starts as "". */
static const char *
ipsec_xfer_mnstr(const struct ctp_xfer *x, char *buf)
{
	return buf[0] ? buf : ipsec_xfer_addr(&x->mn, buf);
}

/* This node's own addresses (the host's <node> addresses). */
static size_t
ipsec_xfer_own(const struct ipsec_xfer *s, struct ctp_addr *out, size_t max)
{
	return IPSEC_XFER_HOST_HAS(s->ops, node_addrs) ? s->ops->node_addrs(s->host, out, max) : 0;
}

static bool
ipsec_xfer_is_own(const struct ipsec_xfer *s, const struct ctp_addr *a)
{
	struct ctp_addr own[IPSEC_XFER_OWN_MAX];
	size_t n = ipsec_xfer_own(s, own, IPSEC_XFER_OWN_MAX);

	for (size_t i = 0; i < n; i++)
		if (ctp_addr_eq(&own[i], a))
			return true;
	return false;
}

/* This node's address of a family: its first hop where it has a path,
 * else its first <node> address of that family. */
static bool
ipsec_xfer_own_of(const struct ipsec_xfer *s, unsigned family, struct ctp_addr *out)
{
	struct ctp_addr own[IPSEC_XFER_OWN_MAX];
	size_t n;

	for (unsigned p = 0; p < IPSEC_PROFILE_PLANES; p++)
		if (s->conf.path[p].present && s->conf.path[p].family == family) {
			*out = s->conf.path[p].nodes[0];
			return true;
		}
	n = ipsec_xfer_own(s, own, IPSEC_XFER_OWN_MAX);
	for (size_t i = 0; i < n; i++)
		if (own[i].family == family) {
			*out = own[i];
			return true;
		}
	return false;
}

/*
 * The configured peer that reaches the node at a: the peer an <sg-replace>
 * names for it (when that peer exists), else the peer at that address.
 */
static const char *
ipsec_xfer_peer_for(const struct ipsec_xfer *s, const struct ctp_addr *a)
{
	for (size_t i = 0; i < s->conf.nreplace; i++) {
		const struct ipsec_conf_replace *r = &s->conf.replace[i];

		if (r->peer[0] && ctp_addr_eq(&r->local, a) &&
		    IPSEC_XFER_HOST_HAS(s->ops, peer_info) &&
		    s->ops->peer_info(s->host, r->peer, NULL, NULL) == 0)
			return r->peer;
	}
	return IPSEC_XFER_HOST_HAS(s->ops, peer_by_addr) ? s->ops->peer_by_addr(s->host, a) : NULL;
}

/* A random SPI of at least 256 (RFC 4303 2.1) that is free at dst. */
static int
ipsec_xfer_new_spi(const struct ipsec_xfer *s, uint32_t old, uint8_t protocol,
    const struct ctp_addr *dst, uint32_t *out)
{
	for (int i = 0; i < IPSEC_XFER_SPI_TRIES; i++) {
		uint32_t v = 0;

		if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
			return CTP_E_CRYPTO;
		if (v < 256 || v == old)
			continue;
		if (s->sad_ops->spi_in_use(s->sad, v, protocol, dst) == 0) {
			*out = v;
			return 0;
		}
	}
	return CTP_E_EXIST;
}

/* "0x00001234 in 192.0.2.7" for log lines. */
static const char *
ipsec_xfer_sa_name(const struct ipsec_sa_ref *ref, uint8_t direction, char *buf, size_t len)
{
	char a[CTP_ADDRSTRLEN];

	snprintf(buf, len, "0x%08x%s %s", ref->spi,
	    direction == CTP_DIRECTION_OUT ? " out" : direction == CTP_DIRECTION_IN ? " in" : "",
	    ipsec_xfer_addr(&ref->dst, a));
	return buf;
}

/* An SA's name for a log line (in an argument of ipsec_xfer_log: only
 * formatted when the line is written); needs a char id[80] in scope. */
#define IPSEC_XFER_ID(ref, direction) ipsec_xfer_sa_name((ref), (direction), id, sizeof id)

/* ---- life cycle --------------------------------------------------------------- */

int
ipsec_xfer_new(const struct ctp_host_ops *ops, struct ctp_host *host,
    const struct ctp_val *config, const struct ipsec_sad_ops *sad, struct ipsec_xfer **out,
    struct ctp_err *err)
{
	static const struct {
		const char     *name;
		ctp_host_cmd_fn fn;
	} cmds[] = {
		{ "sas", ipsec_xfer_cmd_sas },
		{ "sa-add", ipsec_xfer_cmd_sa_add },
		{ "sa-del", ipsec_xfer_cmd_sa_del },
		{ "esp-send", ipsec_xfer_cmd_esp_send },
	};
	struct ctp_addr own[IPSEC_XFER_OWN_MAX];
	struct ipsec_sad_env env;
	struct ipsec_xfer *s;
	size_t nown;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "ipsec: out of memory");
	s->ops = ops;
	s->host = host;
	nown = ipsec_xfer_own(s, own, IPSEC_XFER_OWN_MAX);
	if ((rc = ipsec_conf_parse(config, own, nown, &s->conf, err)) < 0) {
		free(s);
		return rc;
	}
	s->sad_ops = sad ? sad : s->conf.backend;
	memset(&env, 0, sizeof env);
	env.loop = IPSEC_XFER_HOST_HAS(ops, loop) ? ops->loop(host) : NULL;
	env.log = ipsec_xfer_sad_log;
	env.log_arg = s;
	env.naddrs = nown < sizeof env.addrs / sizeof env.addrs[0] ? nown :
	    sizeof env.addrs / sizeof env.addrs[0];
	memcpy(env.addrs, own, env.naddrs * sizeof own[0]);
	if ((rc = s->sad_ops->open(s->conf.sad, &env, &s->sad, err)) < 0) {
		ipsec_conf_clear(&s->conf);
		free(s);
		return rc;
	}
	/* last: the host cannot take a command back, so nothing may fail after
	 * the first; a name taken is worth a warning, not a dead plugin */
	for (size_t i = 0; IPSEC_XFER_HOST_HAS(ops, register_cmd) && i < sizeof cmds /
	    sizeof cmds[0]; i++)
		if ((rc = ops->register_cmd(host, cmds[i].name, cmds[i].fn, s)) < 0)
			ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "ipsec: control command \"%s\" not "
			    "offered: %s", cmds[i].name, ctp_strerror(rc));
	ipsec_xfer_log(s, CTP_LOG_INFO, __func__, "ipsec: serving FPT 0xff01 (SA), 0xff02 (profile); "
	    "SAD %s, SPI conflicts: %s, margin %u, SG identity %s, %s, %zu <sg-replace>",
	    s->sad_ops->name,
	    ipsec_conf_spi_name(s->conf.spi_conflict), s->conf.seq_margin,
	    s->conf.sg_identity == IPSEC_SG_DIRECT ? "direct" : "indirect",
	    s->conf.has_paths ? "an AR (paths configured)" : "no paths", s->conf.nreplace);
	*out = s;
	return 0;
}

void
ipsec_xfer_free(struct ipsec_xfer *s)
{
	if (!s)
		return;
	if (s->sad)
		s->sad_ops->close(s->sad);
	ipsec_conf_clear(&s->conf);
	/* clean (keys wiped) since each use: plain frees */
	free(s->scratch);
	free(s->chk);
	free(s);
}

const struct ipsec_conf *
ipsec_xfer_conf(const struct ipsec_xfer *s)
{
	return &s->conf;
}

void
ipsec_xfer_sad(struct ipsec_xfer *s, const struct ipsec_sad_ops **ops, struct ipsec_sad **sad)
{
	*ops = s->sad_ops;
	*sad = s->sad;
}

int
ipsec_xfer_init(const struct ctp_host_ops *ops, struct ctp_host *host,
    const struct ctp_val *config, void **state, struct ctp_err *err)
{
	struct ipsec_xfer *s;
	int rc;

	if ((rc = ipsec_xfer_new(ops, host, config, NULL, &s, err)) < 0)
		return rc;
	*state = s;
	return 0;
}

void
ipsec_xfer_fini(void *state)
{
	ipsec_xfer_free(state);
}

int
ipsec_xfer_check(void *state, const struct ctp_cdb *cdb, unsigned family, struct ctp_err *err)
{
	int rc;

	(void)family;   /* an SA names its own (PROFILE 6 ENDPOINTS) */
	if (cdb->fpt == CTP_FPT_IPSEC_SA) {
		struct ipsec_xfer *s = state;
		struct ipsec_sa *sa;

		/* describe may run without an instance: then one of its own */
		if (s && !s->chk)
			s->chk = calloc(1, sizeof *s->chk);
		if (s && s->chk) {
			rc = ipsec_sa_decode_reuse(cdb, s->chk, err);
			ipsec_sa_reset(s->chk);
			return rc;
		}
		if ((sa = calloc(1, sizeof *sa)) == NULL)
			return ctp_err_set(err, CTP_E_NOMEM, cdb->off, CTP_ST_NO_RESOURCES,
			    "ipsec: out of memory");
		rc = ipsec_sa_decode_reuse(cdb, sa, err);
		ipsec_sa_reset(sa);
		free(sa);
	} else if (cdb->fpt == CTP_FPT_IPSEC_PROFILE) {
		struct ipsec_profile p;

		rc = ipsec_profile_decode(cdb, &p, err);
		ipsec_profile_clear(&p);
	} else
		rc = ctp_err_set(err, CTP_E_INVAL, cdb->off, CTP_ST_UNSUPPORTED_FPT,
		    "ipsec: FPT 0x%04x is not served here", cdb->fpt);
	return rc;
}

/* ---- the source side ------------------------------------------------------------- */

struct ipsec_xfer_src {
	uint32_t magic;
	size_t   n;
	struct {
		bool                profile;
		uint8_t             direction;
		struct ipsec_sa_ref ref;
	}        item[IPSEC_SAD_MAX_LIST + 1];
};

/* The profile CDB of an AR: its paths (the PFP at nAR) and preferences. */
static int
ipsec_xfer_profile_cdb(const struct ipsec_xfer *s, struct ctp_wbuf *w)
{
	struct ipsec_profile p = s->conf.profile;

	memcpy(p.path, s->conf.path, sizeof p.path);
	return ipsec_profile_encode(&p, w);
}

/* Freeze, snapshot, encode one SA; 1 when it went into c->out. */
static int
ipsec_xfer_collect_one(struct ipsec_xfer *s, struct ctp_collect *c,
    const struct ipsec_sa_ref *ref, struct ipsec_sa *sa)
{
	uint64_t highest = 0, next, t0;
	char id[80];
	int rc;

	id[0] = '\0';
	/* PROFILE 5.1: stop first, then copy */
	if ((rc = s->sad_ops->freeze(s->sad, ref, &highest)) < 0) {
		ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "SA %s cannot be frozen (%s): it stays here",
		    IPSEC_XFER_ID(ref, 0), ctp_strerror(rc));
		return 0;
	}
	t0 = ipsec_xfer_now(s);
	if ((rc = s->sad_ops->snapshot(s->sad, ref, sa)) < 0) {
		ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "SA %s: no snapshot (%s): it stays here",
		    IPSEC_XFER_ID(ref, 0), ctp_strerror(rc));
		(void)s->sad_ops->thaw(s->sad, ref);
		return 0;
	}
	if (sa->direction == CTP_DIRECTION_OUT) {
		/* the sink starts where nobody has been: past what the datapath
		 * sent and what the snapshot says, plus the margin */
		next = sa->has_seq_out ? sa->seq_out.next : 1;
		if (highest == UINT64_MAX)
			next = UINT64_MAX;
		else if (highest + 1 > next)
			next = highest + 1;
		sa->has_seq_out = true;
		sa->seq_out.next = ipsec_xfer_sat_add(next, s->conf.seq_margin);
		sa->seq_out.margin = s->conf.seq_margin;
	}
	/* the sender cannot tell the type: nAR classifies (PROFILE 6) */
	sa->sa_type = CTP_SA_TYPE_UNKNOWN;
	sa->moves = IPSEC_MOVES_LOCAL;
	/* indirect SG: the classification needs the holder's real address */
	if (sa->has_virtual_sg && ctp_addr_eq(&sa->local, &sa->virtual_sg) &&
	    !ipsec_xfer_own_of(s, sa->family, &sa->local))
		ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "SA %s: no own IPv%u address to stand for "
		    "its virtual SG address", IPSEC_XFER_ID(ref, 0), sa->family);
	sa->has_snapshot_age = true;
	sa->snapshot_age_ms = (uint32_t)(ipsec_xfer_now(s) - t0);
	if ((rc = ipsec_sa_encode(sa, c->out)) < 0) {
		ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "SA %s cannot be encoded (%s): it stays "
		    "here", IPSEC_XFER_ID(ref, 0), ctp_strerror(rc));
		(void)s->sad_ops->thaw(s->sad, ref);
		return 0;
	}
	return 1;
}

/* Undo a collect whose CDBs will not leave: every SA resumes. */
static void
ipsec_xfer_collect_undo(struct ipsec_xfer *s, struct ipsec_xfer_src *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (!src->item[i].profile)
			(void)s->sad_ops->thaw(s->sad, &src->item[i].ref);
	src->n = 0;
}

int
ipsec_xfer_source_collect(void *state, struct ctp_xfer *x, struct ctp_collect *c,
    struct ctp_err *err)
{
	struct ipsec_xfer *s = state;
	struct ipsec_sa_ref refs[IPSEC_SAD_MAX_LIST];
	struct ipsec_xfer_src *src;
	struct ipsec_sa *sa;
	char mn[CTP_ADDRSTRLEN];
	size_t n = 0, nsa = 0;
	int rc;

	mn[0] = '\0';
	if ((src = calloc(1, sizeof *src)) == NULL || (sa = malloc(sizeof *sa)) == NULL) {
		free(src);
		return ctp_err_set(err, CTP_E_NOMEM, 0, CTP_ST_NO_RESOURCES, "ipsec: out of memory");
	}
	src->magic = IPSEC_XFER_SRC;
	*x->slot = src;
	if (s->conf.has_paths) {
		if ((rc = ipsec_xfer_profile_cdb(s, c->out)) < 0) {
			free(sa);
			return ctp_err_set(err, rc, 0, CTP_ST_NO_RESOURCES,
			    "ipsec: the profile CDB does not fit (%s)", ctp_strerror(rc));
		}
		src->item[src->n++].profile = true;
	}
	rc = s->sad_ops->list(s->sad, &x->mn, refs, IPSEC_SAD_MAX_LIST, &n);
	if (rc == CTP_E_LIMIT)
		ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "mn %s: more than %d SAs: the first %zu move, "
		    "the rest stay", ipsec_xfer_mnstr(x, mn), IPSEC_SAD_MAX_LIST, n);
	else if (rc < 0) {
		ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "mn %s: the SAD cannot list its SAs: %s",
		    ipsec_xfer_mnstr(x, mn),
		    ctp_strerror(rc));
		n = 0;
	}
	for (size_t i = 0; i < n && i < IPSEC_SAD_MAX_LIST; i++) {
		if (!ipsec_xfer_collect_one(s, c, &refs[i], sa)) {
			ipsec_sa_clear(sa);
			continue;
		}
		src->item[src->n].ref = refs[i];
		src->item[src->n].direction = sa->direction;
		src->n++;
		nsa++;
		ipsec_sa_clear(sa);
	}
	free(sa);
	if (c->out->err) {
		/* the engine drops all of it: nothing left, nothing may stay frozen */
		ipsec_xfer_collect_undo(s, src);
		return ctp_err_set(err, CTP_E_NOSPACE, 0, CTP_ST_NO_RESOURCES,
		    "ipsec: mn %s: the SAs do not fit one message", ipsec_xfer_mnstr(x, mn));
	}
	c->keys = nsa > 0;
	/* an AR collects from the SGs on its paths (IPsec CT draft 6.1) */
	for (unsigned p = 0; s->conf.has_paths && p < IPSEC_PROFILE_PLANES; p++)
		for (unsigned h = 0; h < s->conf.path[p].node_count; h++) {
			const char *peer;
			size_t k;

			if (!s->conf.sg[p][h] || !s->conf.path[p].present ||
			    !IPSEC_XFER_HOST_HAS(s->ops, peer_by_addr) ||
			    (peer = s->ops->peer_by_addr(s->host, &s->conf.path[p].nodes[h])) == NULL)
				continue;
			for (k = 0; k < c->nfetch; k++)
				if (strcmp(c->fetch[k].peer, peer) == 0)
					break;
			if (k < c->nfetch)
				continue;
			if (c->nfetch == CTP_COLLECT_MAX_FETCH) {
				ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "mn %s: more than %d SGs to "
				    "collect from: %s skipped", ipsec_xfer_mnstr(x, mn),
				    CTP_COLLECT_MAX_FETCH, peer);
				continue;
			}
			c->fetch[c->nfetch].peer = peer;
			c->fetch[c->nfetch].fpt = CTP_FPT_IPSEC_SA;
			c->nfetch++;
		}
	ipsec_xfer_log(s, CTP_LOG_INFO, __func__, "mn %s: %zu SAs frozen and handed over%s, %zu "
	    "SGs asked", ipsec_xfer_mnstr(x, mn), nsa, s->conf.has_paths ? " with the profile" : "",
	    c->nfetch);
	return 0;
}

void
ipsec_xfer_source_done(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status,
    size_t n)
{
	struct ipsec_xfer *s = state;
	struct ipsec_xfer_src *src = *x->slot;
	char mn[CTP_ADDRSTRLEN], id[80];

	if (!src || src->magic != IPSEC_XFER_SRC)
		return;
	mn[0] = '\0';
	for (size_t k = 0; k < src->n; k++) {
		const struct ipsec_sa_ref *ref = &src->item[k].ref;
		int o, rc;

		if (src->item[k].profile)
			continue;
		/* no statuses at all: the CDBs never left (see collect_undo) */
		o = n == 0 ? CTP_XFER_ABORT_CLEAN : k < n ? ctp_xfer_status_outcome(status[k]) :
		    outcome;
		switch (o) {
		case CTP_XFER_COMMIT:
			rc = s->sad_ops->remove(s->sad, ref);
			ipsec_xfer_log(s, rc < 0 ? CTP_LOG_WARN : CTP_LOG_INFO, __func__,
			    "mn %s: SA %s moved: removed here%s%s", ipsec_xfer_mnstr(x, mn),
			    IPSEC_XFER_ID(ref, src->item[k].direction), rc < 0 ? ": " : "",
			    rc < 0 ? ctp_strerror(rc) : "");
			break;
		case CTP_XFER_ABORT_CLEAN:
			rc = s->sad_ops->thaw(s->sad, ref);
			ipsec_xfer_log(s, rc < 0 ? CTP_LOG_WARN : CTP_LOG_INFO, __func__,
			    "mn %s: SA %s not taken (status 0x%02x): resumed here%s%s",
			    ipsec_xfer_mnstr(x, mn), IPSEC_XFER_ID(ref, src->item[k].direction),
			    k < n ? status[k] : 0, rc < 0 ? ": " : "", rc < 0 ? ctp_strerror(rc) : "");
			break;
		default:
			/* PROFILE 5.1: nobody knows whether the sink used it */
			rc = s->sad_ops->quarantine(s->sad, ref);
			ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "mn %s: SA %s: no verdict: quarantined, "
			    "the MN must re-key it%s%s", ipsec_xfer_mnstr(x, mn), IPSEC_XFER_ID(ref,
			    src->item[k].direction), rc < 0 ? ": " : "",
			    rc < 0 ? ctp_strerror(rc) : "");
			break;
		}
	}
	ctp_wipe(src, sizeof *src);
	free(src);
	*x->slot = NULL;
}

/* ---- the sink side: the slot --------------------------------------------------------- */

enum { IPSEC_XFER_W_NONE = 0, IPSEC_XFER_W_LOCAL, IPSEC_XFER_W_RELAY };

/* One CDB of this plugin at the sink. */
struct ipsec_xfer_ent {
	uint8_t        *orig;        /* the CDB as received: finds it again in review */
	size_t          orig_len;
	uint16_t        fpt;
	bool            sa_ok;       /* an SA CDB that decoded */
	uint8_t         status;
	uint8_t         where;       /* IPSEC_XFER_W_* */
	bool            pending;     /* relayed in the round under way */
	bool            reassigned;
	bool            mn_peer;     /* the other end is the MN (type 5) */
	bool            vsg;         /* VIRTUAL_SG: the local end stays that address */
	bool            pmtu_cut;
	bool            present;     /* already here, the same SA: not installed again */
	uint8_t         plane;
	uint8_t         type;        /* as classified (0: not classified here) */
	uint8_t         moves;       /* as rewritten */
	uint8_t         direction;   /* at the holder */
	uint8_t         protocol;
	uint32_t        spi;         /* as installed or relayed now */
	uint32_t        spi_mn;      /* as the MN knows it */
	bool            has_bundle;
	uint32_t        bundle_id;
	uint8_t         position;
	struct ctp_addr holder;      /* the node that held this copy */
	struct ctp_addr holder_new;  /* the node that holds it next */
	struct ctp_addr other;       /* the SA's other end, before and after */
	struct ctp_addr other_new;
	int             replace;     /* the <sg-replace> holder_new came from, or -1 */
	char            peer[IPSEC_CONF_PEER_MAX];
	uint8_t        *rcdb, *rcdb_old;   /* what goes to the relay (kept to sink_done) */
	size_t          rlen, rlen_old;
	uint8_t        *note;        /* the notification written for a relayed SA */
	size_t          note_len;
};

struct ipsec_xfer_sink {
	uint32_t               magic;
	size_t                 n;
	struct ipsec_xfer_ent *e;
	unsigned               reviews;
	struct ctp_wbuf       *notify;     /* the CTN's CDBs (nAR), sent after sink_done */
	bool                   classify;   /* nAR: previous paths known, SAs classified */
	bool                   have_prof;  /* the user's profile came */
	struct ipsec_profile   prof;       /* as received: preferences */
	struct ipsec_path      prev[IPSEC_PROFILE_PLANES];
	struct ipsec_path      next[IPSEC_PROFILE_PLANES];
};

static void
ipsec_xfer_buf_free(uint8_t **p, size_t *len)
{
	if (*p)
		ctp_wipe(*p, *len);
	free(*p);
	*p = NULL;
	*len = 0;
}

static void
ipsec_xfer_sink_free(struct ipsec_xfer_sink *sl)
{
	if (!sl)
		return;
	for (size_t i = 0; sl->e && i < sl->n; i++) {
		struct ipsec_xfer_ent *e = &sl->e[i];

		ipsec_xfer_buf_free(&e->orig, &e->orig_len);
		ipsec_xfer_buf_free(&e->rcdb, &e->rlen);
		ipsec_xfer_buf_free(&e->rcdb_old, &e->rlen_old);
		ipsec_xfer_buf_free(&e->note, &e->note_len);
	}
	free(sl->e);
	/* no key in the slot (the CDBs, keys and all, were wiped above): only
	 * the user's profile, his identity, is wiped, and only when it came;
	 * wiping all of the slot's 4 KiB per transfer was a tenth of the
	 * sink's ipsec work in a bulk move (issue 8) */
	if (sl->have_prof)
		ipsec_profile_clear(&sl->prof);
	sl->magic = 0;
	free(sl);
}

static uint8_t *
ipsec_xfer_dup(const uint8_t *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);

	if (q && len)
		memcpy(q, p, len);
	return q;
}

/* ---- notifications for the MN (nAR only) ----------------------------------------------- */

/* Append one whole CDB to the CTN's buffer, never half (its error would
 * cost the whole CTN). */
static bool
ipsec_xfer_note_put(const struct ipsec_xfer *s, struct ctp_wbuf *w, const uint8_t *cdb,
    size_t len)
{
	if (w->err || w->cap - w->len < len) {
		ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "the CTN is full: a notification for the MN "
		    "is dropped");
		return false;
	}
	ctp_wbuf_bytes(w, cdb, len);
	return true;
}

/*
 * Take back a notification written earlier (its relay refused the SA).
 * The buffer is the engine's CTN under construction, not a received
 * message: only whole CDBs this plugin wrote are taken out of it.
 */
static void
ipsec_xfer_note_drop(struct ctp_wbuf *w, struct ipsec_xfer_ent *e)
{
	struct ctp_cur c;
	struct ctp_cdb cdb;

	if (!e->note || !w)
		return;
	ctp_cur_init(&c, w->p, w->len, 0);
	while (ctp_cdb_next(&c, 0, &cdb, NULL) == 1) {
		size_t at = (size_t)(cdb.raw - w->p);

		if (cdb.raw_len != e->note_len || memcmp(cdb.raw, e->note, e->note_len) != 0)
			continue;
		memmove(w->p + at, w->p + at + e->note_len, w->len - at - e->note_len);
		w->len -= e->note_len;
		break;
	}
	ipsec_xfer_buf_free(&e->note, &e->note_len);
}

/*
 * The SA as the MN must now see it (notify form, never keys): SA_ID with
 * the SPI the MN uses from now on and the direction from its side,
 * ENDPOINTS local = the MN, peer = the SG address to use, PREV_SPI, PMTU.
 */
static int
ipsec_xfer_note_sa(const struct ipsec_xfer_ent *e, const struct ipsec_sa *held, bool moved,
    uint8_t *buf, size_t cap, size_t *len)
{
	struct ipsec_sa *n = calloc(1, sizeof *n);
	struct ctp_wbuf w;
	int rc;

	if (!n)
		return CTP_E_NOMEM;
	n->spi = held->spi;
	n->protocol = held->protocol;
	n->mode = held->mode;
	n->direction = held->direction == CTP_DIRECTION_IN ? CTP_DIRECTION_OUT : CTP_DIRECTION_IN;
	/* ESN and overflow are the SA's; anti-replay is the holder's receiving */
	n->flags = held->flags & (IPSEC_SA_F_ESN | IPSEC_SA_F_SEQ_OVERFLOW);
	n->family = held->family;
	n->sa_type = CTP_SA_TYPE_TYPE5;
	n->moves = moved ? IPSEC_MOVES_PEER : 0;
	n->local = held->peer;
	n->peer = held->local;   /* the new SG, or the virtual address that stays */
	if (e->reassigned) {
		n->has_prev_spi = true;
		n->prev_spi = e->spi_mn;
	}
	if (e->pmtu_cut && held->has_pmtu) {
		n->has_pmtu = true;
		n->pmtu = held->pmtu;
	}
	ctp_wbuf_init(&w, buf, cap);
	rc = ipsec_sa_encode(n, &w);
	*len = w.len;
	free(n);
	return rc;
}

/* Does the MN need to hear about this SA (besides an upgrade offer)? */
static bool
ipsec_xfer_note_moved(const struct ipsec_xfer *s, const struct ipsec_xfer_ent *e)
{
	/* direct SG communication (draft 6.2): the MN addresses its SG */
	return s->conf.sg_identity == IPSEC_SG_DIRECT && !e->vsg &&
	    !ctp_addr_eq(&e->holder, &e->holder_new);
}

/*
 * A relayed SA's notification, written when it leaves (a relay that never
 * answers leaves the SA quarantined at its source: the MN had better use
 * the new SG) and taken back if the relay refuses it.
 */
static void
ipsec_xfer_note_relay(const struct ipsec_xfer *s, struct ctp_wbuf *w, struct ipsec_xfer_ent *e,
    const struct ipsec_sa *held)
{
	uint8_t buf[IPSEC_XFER_CDB_MAX];
	bool moved = ipsec_xfer_note_moved(s, e);
	size_t len;

	if (!w || !e->mn_peer || !(moved || e->reassigned || e->pmtu_cut))
		return;
	if (ipsec_xfer_note_sa(e, held, moved, buf, sizeof buf, &len) < 0 ||
	    !ipsec_xfer_note_put(s, w, buf, len))
		return;
	ipsec_xfer_buf_free(&e->note, &e->note_len);
	if ((e->note = ipsec_xfer_dup(buf, len)) != NULL)
		e->note_len = len;
}

/*
 * An upgrade offer (draft 7.1): the user's preferences ranked above what
 * the SA uses that this endpoint supports and its policy allows.
 */
static size_t
ipsec_xfer_offer(const struct ipsec_xfer *s, const struct ipsec_xfer_sink *sl,
    const struct ipsec_sa *sa, struct ipsec_profile *offer)
{
	const struct ipsec_profile *pref = sl->have_prof && (sl->prof.nencr || sl->prof.ninteg) ?
	    &sl->prof : &s->conf.profile;
	size_t rank;

	memset(offer, 0, sizeof *offer);
	if (sa->has_encr) {
		for (rank = 0; rank < pref->nencr; rank++)
			if (pref->encr[rank].id == sa->encr.id &&
			    pref->encr[rank].key_bits == sa->encr.key_bits)
				break;
		for (size_t k = 0; k < rank; k++) {
			const struct ipsec_encr_pref *p = &pref->encr[k];

			if (s->sad_ops->supports(s->sad, IPSEC_ALG_ENCR, p->id, p->key_bits) == 1 &&
			    !ipsec_conf_forbidden(&s->conf, IPSEC_ALG_ENCR, p->id))
				offer->encr[offer->nencr++] = *p;
		}
	}
	if (sa->has_integ && sa->integ.id != CTP_INTEG_NONE) {
		for (rank = 0; rank < pref->ninteg; rank++)
			if (pref->integ[rank].id == sa->integ.id)
				break;
		for (size_t k = 0; k < rank; k++) {
			const struct ipsec_integ_pref *p = &pref->integ[k];

			if (s->sad_ops->supports(s->sad, IPSEC_ALG_INTEG, p->id, 0) == 1 &&
			    !ipsec_conf_forbidden(&s->conf, IPSEC_ALG_INTEG, p->id))
				offer->integ[offer->ninteg++] = *p;
		}
	}
	for (size_t k = 0; k < offer->nencr; k++)
		offer->encr[k].off = 0;
	for (size_t k = 0; k < offer->ninteg; k++)
		offer->integ[k].off = 0;
	return offer->nencr + offer->ninteg;
}

/* An SA of the MN installed here: what it must learn, and an offer. */
static void
ipsec_xfer_note_local(const struct ipsec_xfer *s, const struct ipsec_xfer_sink *sl,
    struct ctp_wbuf *w, const struct ipsec_xfer_ent *e, const struct ipsec_sa *held)
{
	uint8_t buf[IPSEC_XFER_CDB_MAX], pbuf[IPSEC_XFER_CDB_MAX];
	struct ipsec_profile offer;
	bool moved = ipsec_xfer_note_moved(s, e), offered = false;
	struct ctp_wbuf pw;
	size_t len;

	if (!w || !e->mn_peer)
		return;
	ctp_wbuf_init(&pw, pbuf, sizeof pbuf);
	if (s->conf.offer_upgrade && ipsec_xfer_offer(s, sl, held, &offer) > 0)
		offered = ipsec_profile_encode(&offer, &pw) == 0;
	if (!(moved || e->reassigned || e->pmtu_cut || offered))
		return;
	/* the offer follows the SA it is about (the SA CDB names it) */
	if (ipsec_xfer_note_sa(e, held, moved, buf, sizeof buf, &len) < 0)
		return;
	if (w->err || w->cap - w->len < len + (offered ? pw.len : 0)) {
		ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "the CTN is full: a notification for the "
		    "MN is dropped");
		return;
	}
	(void)ipsec_xfer_note_put(s, w, buf, len);
	if (offered)
		(void)ipsec_xfer_note_put(s, w, pw.p, pw.len);
}

/* ---- the sink side: installing here ---------------------------------------------- */

/*
 * Remaining time of a limit of limit_s seconds after age_ms: 0 (expired),
 * or whole seconds rounded down.  *left_s = 0 means expired for a hard
 * limit; a soft one that passed becomes 1 s (0 would mean "no limit").
 */
static uint32_t
ipsec_xfer_left(uint32_t limit_s, uint64_t age_ms, bool hard)
{
	uint64_t limit_ms = (uint64_t)limit_s * 1000, left;

	if (!limit_s)
		return 0;
	left = age_ms >= limit_ms ? 0 : (limit_ms - age_ms) / 1000;
	return left ? (uint32_t)left : hard ? 0 : 1;
}

/* Lifetimes aged by the transfer (see the head of this file): 0 or 0x87. */
static uint8_t
ipsec_xfer_age(const struct ctp_xfer *x, struct ipsec_sa *sa, char *why, size_t whylen)
{
	uint64_t age = 0, use = 0;
	bool used = sa->has_usage && sa->usage.use_ms;
	uint32_t hard_add, hard_use, soft_add, soft_use;

	if (!sa->has_lifetime)
		return 0;
	age = ipsec_xfer_sat_add(sa->has_usage ? sa->usage.add_ms : 0,
	    ipsec_xfer_sat_add(sa->has_snapshot_age ? sa->snapshot_age_ms : 0, x->elapsed_ms));
	if (used)
		use = ipsec_xfer_sat_add(sa->usage.use_ms,
		    ipsec_xfer_sat_add(sa->has_snapshot_age ? sa->snapshot_age_ms : 0, x->elapsed_ms));
	hard_add = ipsec_xfer_left(sa->lifetime.hard_add_s, age, true);
	hard_use = used ? ipsec_xfer_left(sa->lifetime.hard_use_s, use, true) :
	    sa->lifetime.hard_use_s;
	if (sa->lifetime.hard_add_s && !hard_add) {
		snprintf(why, whylen, "added %llu ms ago, hard add-time %u s",
		    (unsigned long long)age, sa->lifetime.hard_add_s);
		return CTP_ST_IPSEC_LIFETIME_EXPIRED;
	}
	if (used && sa->lifetime.hard_use_s && !hard_use) {
		snprintf(why, whylen, "first used %llu ms ago, hard use-time %u s",
		    (unsigned long long)use, sa->lifetime.hard_use_s);
		return CTP_ST_IPSEC_LIFETIME_EXPIRED;
	}
	soft_add = ipsec_xfer_left(sa->lifetime.soft_add_s, age, false);
	soft_use = used ? ipsec_xfer_left(sa->lifetime.soft_use_s, use, false) :
	    sa->lifetime.soft_use_s;
	if (hard_add && soft_add > hard_add)
		soft_add = hard_add;
	if (hard_use && soft_use > hard_use)
		soft_use = hard_use;
	sa->lifetime.hard_add_s = hard_add;
	sa->lifetime.soft_add_s = soft_add;
	sa->lifetime.hard_use_s = hard_use;
	sa->lifetime.soft_use_s = soft_use;
	/* the age is in the limits now: the backend must not add it again */
	if (sa->has_usage) {
		sa->usage.add_ms = 0;
		sa->usage.use_ms = used ? 1 : 0;
	}
	sa->has_snapshot_age = false;
	sa->snapshot_age_ms = 0;
	return 0;
}

/* The lookup triple of an SA at its holder (RFC 4301 4.4.2). */
static void
ipsec_xfer_ref(const struct ipsec_sa *sa, struct ipsec_sa_ref *ref)
{
	memset(ref, 0, sizeof *ref);
	ref->spi = sa->spi;
	ref->protocol = sa->protocol;
	ref->dst = sa->direction == CTP_DIRECTION_IN ? sa->local : sa->peer;
}

/*
 * Is the SA holding ref's SPI here this very SA: the same direction,
 * ends, algorithms and keys?  It is when a relay came twice: NR installed it
 * here, died before its verdict reached PR, and, restarted, relayed PR's
 * resent CTD again (tests/faults/run.sh, "killrestart nr relay").  Taking
 * that for an SPI conflict made NR give the MN's SA a second SPI, and this
 * node held two active copies of one SA (PROFILE 5).  The same SA is
 * counted as installed by this transfer instead: its verdict decides, and
 * an abort removes it like any other.
 */
static bool
ipsec_xfer_same_sa(struct ipsec_xfer *s, const struct ipsec_sa_ref *ref,
    const struct ipsec_sa *sa)
{
	struct ipsec_sa *cur = malloc(sizeof *cur);   /* rare: a conflict */
	bool same;

	if (!cur)
		return false;
	same = s->sad_ops->snapshot(s->sad, ref, cur) == 0 && cur->direction == sa->direction &&
	    ctp_addr_eq(&cur->local, &sa->local) && ctp_addr_eq(&cur->peer, &sa->peer) &&
	    cur->has_encr == sa->has_encr && cur->has_integ == sa->has_integ &&
	    (!sa->has_encr || (cur->encr.id == sa->encr.id &&
	    cur->encr.key_len == sa->encr.key_len &&
	    CRYPTO_memcmp(cur->encr.key, sa->encr.key, sa->encr.key_len) == 0)) &&
	    (!sa->has_integ || (cur->integ.id == sa->integ.id &&
	    cur->integ.key_len == sa->integ.key_len &&
	    CRYPTO_memcmp(cur->integ.key, sa->integ.key, sa->integ.key_len) == 0));
	ctp_wipe(cur, sizeof *cur);
	free(cur);
	return same;
}

/* May this node give the SA a new SPI and tell the MN (DECISIONS 36)? */
static bool
ipsec_xfer_may_reassign(const struct ipsec_xfer *s, const struct ctp_install *in,
    const struct ipsec_xfer_ent *e)
{
	return s->conf.spi_conflict == IPSEC_SPI_REASSIGN && in->notify != NULL && e->mn_peer &&
	    e->direction == CTP_DIRECTION_IN;
}

/*
 * Everything but the install itself: the policy, the algorithms, the
 * lifetimes, the PMTU, the SPI at its new place.  Changes sa (aged limits,
 * PMTU, a new SPI); returns the status it would install with (0, 0x81) or
 * the refusal.
 */
static uint8_t
ipsec_xfer_local_check(struct ipsec_xfer *s, const struct ctp_xfer *x,
    const struct ctp_install *in, struct ipsec_xfer_ent *e, struct ipsec_sa *sa, char *why,
    size_t whylen)
{
	struct ipsec_sa_ref ref;
	uint8_t st;
	int used;

	if ((sa->has_encr && ipsec_conf_forbidden(&s->conf, IPSEC_ALG_ENCR, sa->encr.id)) ||
	    (sa->has_integ && ipsec_conf_forbidden(&s->conf, IPSEC_ALG_INTEG, sa->integ.id))) {
		snprintf(why, whylen, "its algorithm is forbidden here");
		return CTP_ST_IPSEC_POLICY;
	}
	if ((sa->has_encr &&
	    s->sad_ops->supports(s->sad, IPSEC_ALG_ENCR, sa->encr.id, sa->encr.key_bits) != 1) ||
	    (sa->has_integ && s->sad_ops->supports(s->sad, IPSEC_ALG_INTEG, sa->integ.id, 0) != 1)) {
		snprintf(why, whylen, "its algorithm is not supported here");
		return CTP_ST_IPSEC_ALG_UNSUPPORTED;
	}
	if ((st = ipsec_xfer_age(x, sa, why, whylen)) != 0)
		return st;
	if (s->conf.pmtu && sa->has_pmtu) {
		/* RFC 8200 5: IPv6 links carry 1280 whatever the policy says */
		uint16_t cap = sa->family == CTP_FAMILY_IPV6 && s->conf.pmtu < 1280 ? 1280 :
		    s->conf.pmtu;

		if (cap < sa->pmtu.pmtu) {
			sa->pmtu.pmtu = cap;
			e->pmtu_cut = true;
		}
	}
	ipsec_xfer_ref(sa, &ref);
	if ((used = s->sad_ops->spi_in_use(s->sad, sa->spi, sa->protocol, &ref.dst)) < 0) {
		snprintf(why, whylen, "the SAD cannot tell whether its SPI is free");
		return CTP_ST_NO_RESOURCES;
	}
	e->present = used && ipsec_xfer_same_sa(s, &ref, sa);
	if (!used || e->present)
		return e->reassigned ? CTP_ST_IPSEC_SPI_REASSIGNED : CTP_ST_SUCCESS;
	if (s->conf.spi_conflict == IPSEC_SPI_RENEGOTIATE) {
		snprintf(why, whylen, "its SPI is taken here: the MN must re-negotiate");
		return CTP_ST_IPSEC_RENEGOTIATE;
	}
	/* reassign only where the MN can be told (DECISIONS 36), else deny */
	if (ipsec_xfer_may_reassign(s, in, e)) {
		uint32_t spi;

		if (ipsec_xfer_new_spi(s, sa->spi, sa->protocol, &ref.dst, &spi) < 0) {
			snprintf(why, whylen, "its SPI is taken and no free one was found");
			return CTP_ST_IPSEC_SPI_CONFLICT;
		}
		sa->spi = spi;
		e->spi = spi;
		e->reassigned = true;
		return CTP_ST_IPSEC_SPI_REASSIGNED;
	}
	snprintf(why, whylen, "its SPI is taken here");
	return CTP_ST_IPSEC_SPI_CONFLICT;
}

static bool
ipsec_xfer_ok(uint8_t st)
{
	return ctp_xfer_status_outcome(st) == CTP_XFER_COMMIT;
}

/*
 * Install the SAs of one group here: one SA, or the members of a bundle in
 * position order (outermost first, RFC 4301 4.3), all or none.
 */
static void
ipsec_xfer_install_group(struct ipsec_xfer *s, const struct ctp_xfer *x,
    struct ctp_install *in, struct ipsec_xfer_sink *sl, struct ipsec_sa *sas,
    const size_t *g, size_t ng)
{
	char why[160], id[80], mn[CTP_ADDRSTRLEN];
	size_t bad = ng, done = 0;
	struct ctp_err ierr;

	mn[0] = '\0';
	for (size_t k = 0; k < ng; k++) {
		struct ipsec_xfer_ent *e = &sl->e[g[k]];

		why[0] = 0;
		e->status = ipsec_xfer_local_check(s, x, in, e, &sas[g[k]], why, sizeof why);
		if (!ipsec_xfer_ok(e->status) && bad == ng) {
			struct ipsec_sa_ref ref;

			ipsec_xfer_ref(&sas[g[k]], &ref);
			ipsec_xfer_log(s, CTP_LOG_NOTICE, __func__, "mn %s: SA %s refused (0x%02x): %s",
			    ipsec_xfer_mnstr(x, mn), ipsec_xfer_sa_name(&ref, e->direction, id,
			    sizeof id), e->status, why);
			bad = k;
		}
	}
	for (done = 0; bad == ng && done < ng; done++) {
		struct ipsec_xfer_ent *e = &sl->e[g[done]];

		ctp_err_clear(&ierr);
		if (e->present)
			continue;   /* installed by the first relay of this context */
		if (s->sad_ops->install(s->sad, &sas[g[done]], &ierr) < 0) {
			e->status = ierr.status && !ipsec_xfer_ok(ierr.status) ? ierr.status :
			    CTP_ST_NO_RESOURCES;
			ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "mn %s: SA 0x%08x not installed "
			    "(0x%02x): %s", ipsec_xfer_mnstr(x, mn), sas[g[done]].spi, e->status,
			    ierr.what);
			bad = done;
			break;
		}
	}
	if (bad < ng) {
		/* a bundle moves whole or not at all (draft 5.3) */
		for (size_t k = 0; k < done; k++) {
			struct ipsec_sa_ref ref;

			ipsec_xfer_ref(&sas[g[k]], &ref);
			(void)s->sad_ops->remove(s->sad, &ref);
		}
		for (size_t k = 0; k < ng; k++) {
			struct ipsec_xfer_ent *e = &sl->e[g[k]];

			/* a member refused for its own reason keeps it */
			e->where = IPSEC_XFER_W_NONE;
			if (k != bad && ipsec_xfer_ok(e->status))
				e->status = CTP_ST_IPSEC_RENEGOTIATE;
			e->reassigned = false;
		}
		return;
	}
	for (size_t k = 0; k < ng; k++) {
		struct ipsec_xfer_ent *e = &sl->e[g[k]];
		struct ipsec_sa_ref ref;

		e->where = IPSEC_XFER_W_NONE;
		ipsec_xfer_ref(&sas[g[k]], &ref);
		ipsec_xfer_log(s, CTP_LOG_INFO, __func__, "mn %s: SA %s installed here%s",
		    ipsec_xfer_mnstr(x, mn),
		    ipsec_xfer_sa_name(&ref, e->direction, id, sizeof id),
		    e->reassigned ? " with a new SPI" : "");
		ipsec_xfer_note_local(s, sl, in->notify, e, &sas[g[k]]);
	}
}

/* Every SA bound for this node, bundles together. */
static void
ipsec_xfer_install_local(struct ipsec_xfer *s, const struct ctp_xfer *x, struct ctp_install *in,
    struct ipsec_xfer_sink *sl, struct ipsec_sa *sas)
{
	size_t *g = malloc((sl->n ? sl->n : 1) * sizeof *g);

	if (!g) {
		for (size_t i = 0; i < sl->n; i++)
			if (sl->e[i].where == IPSEC_XFER_W_LOCAL) {
				sl->e[i].where = IPSEC_XFER_W_NONE;
				sl->e[i].status = CTP_ST_NO_RESOURCES;
			}
		return;
	}
	for (size_t i = 0; i < sl->n; i++) {
		const struct ipsec_xfer_ent *e = &sl->e[i];
		size_t ng = 0;

		if (e->where != IPSEC_XFER_W_LOCAL)
			continue;
		g[ng++] = i;
		for (size_t j = i + 1; e->has_bundle && j < sl->n; j++)
			if (sl->e[j].where == IPSEC_XFER_W_LOCAL && sl->e[j].has_bundle &&
			    sl->e[j].bundle_id == e->bundle_id)
				g[ng++] = j;
		/* position order: insertion sort, a bundle is small */
		for (size_t a = 1; a < ng; a++)
			for (size_t b = a; b > 0 && sl->e[g[b - 1]].position > sl->e[g[b]].position; b--) {
				size_t t = g[b];

				g[b] = g[b - 1];
				g[b - 1] = t;
			}
		ipsec_xfer_install_group(s, x, in, sl, sas, g, ng);
	}
	free(g);
}

/* ---- the sink side: where each SA goes --------------------------------------------- */

/* The first plane whose previous path holds one of the SA's ends. */
static uint8_t
ipsec_xfer_plane(const struct ipsec_path *prev, const struct ipsec_sa *sa)
{
	for (unsigned p = 0; p < IPSEC_PROFILE_PLANES; p++)
		for (unsigned k = 0; prev[p].present && k < prev[p].node_count; k++)
			if (ctp_addr_eq(&prev[p].nodes[k], &sa->local) ||
			    ctp_addr_eq(&prev[p].nodes[k], &sa->peer))
				return (uint8_t)(p + 1);
	for (unsigned p = 0; p < IPSEC_PROFILE_PLANES; p++)
		if (prev[p].present)
			return (uint8_t)(p + 1);
	return CTP_PLANE_DATA;
}

/* One node as a path of one node. */
static void
ipsec_xfer_path1(struct ipsec_path *p, const struct ctp_addr *a)
{
	memset(p, 0, sizeof *p);
	p->present = true;
	p->family = a->family;
	p->node_count = 1;
	p->nodes[0] = *a;
}

/*
 * The paths to classify against.  With a profile: its PATHs and ours.
 * Without one at nAR: pAR alone was the previous path of every plane (its
 * own SAs may move, to nAR); ours, or nAR alone.  false: nothing to
 * classify against (an SG: install as it comes).
 */
static bool
ipsec_xfer_paths(struct ipsec_xfer *s, const struct ctp_xfer *x, const struct ctp_install *in,
    struct ipsec_xfer_sink *sl)
{
	struct ctp_addr par;

	memcpy(sl->next, s->conf.path, sizeof sl->next);
	if (sl->have_prof) {
		memcpy(sl->prev, sl->prof.path, sizeof sl->prev);
		return true;
	}
	if (!in->notify)
		return false;
	memset(sl->prev, 0, sizeof sl->prev);
	if (!x->peer || !IPSEC_XFER_HOST_HAS(s->ops, peer_info) ||
	    s->ops->peer_info(s->host, x->peer, &par, NULL) < 0)
		return true;   /* no previous path at all: nothing classifies */
	for (unsigned p = 0; p < IPSEC_PROFILE_PLANES; p++) {
		struct ctp_addr own;

		ipsec_xfer_path1(&sl->prev[p], &par);
		if (!sl->next[p].present && ipsec_xfer_own_of(s, par.family, &own))
			ipsec_xfer_path1(&sl->next[p], &own);
	}
	return true;
}

/* The <sg-replace> entry that sent remote's contexts to local, or -1. */
static int
ipsec_xfer_replace_of(const struct ipsec_xfer *s, const struct ctp_addr *remote,
    const struct ctp_addr *local)
{
	for (size_t i = 0; i < s->conf.nreplace; i++)
		if (ctp_addr_eq(&s->conf.replace[i].remote, remote) &&
		    ctp_addr_eq(&s->conf.replace[i].local, local))
			return (int)i;
	return -1;
}

/*
 * Where SA i goes, from its classification: sets e->where (or a status)
 * and rewrites sas[i]'s ENDPOINTS from its holder's view.
 */
static void
ipsec_xfer_route(struct ipsec_xfer *s, const struct ctp_xfer *x, struct ipsec_xfer_ent *e,
    struct ipsec_sa *sa, const struct ipsec_classify_out *o)
{
	char mn[CTP_ADDRSTRLEN], a[CTP_ADDRSTRLEN], b[CTP_ADDRSTRLEN];
	const char *peer;

	mn[0] = '\0';
	e->type = o->type;
	if (o->code < 0) {
		e->status = o->status ? o->status : CTP_ST_IPSEC_RENEGOTIATE;
		ipsec_xfer_log(s, CTP_LOG_NOTICE, __func__, "mn %s: SA 0x%08x (%s - %s) does not move "
		    "(0x%02x): %s", ipsec_xfer_mnstr(x, mn), sa->spi, ipsec_xfer_addr(&sa->local,
		    a),
		    ipsec_xfer_addr(&sa->peer, b), e->status, o->why);
		return;
	}
	e->holder = sa->local;
	if (ctp_addr_eq(&sa->local, &o->local)) {
		e->holder_new = o->local_new;
		e->other = o->peer;
		e->other_new = o->peer_new;
	} else {
		e->holder_new = o->peer_new;
		e->other = o->local;
		e->other_new = o->local_new;
	}
	e->mn_peer = o->type == IPSEC_CLASSIFY_TYPE5;
	if (o->moves == 0 || ctp_addr_eq(&e->holder_new, &e->holder)) {
		/* types 1 and 2, or a holder that stays where it is */
		e->status = CTP_ST_IPSEC_LEFT_IN_PLACE;
		ipsec_xfer_log(s, CTP_LOG_INFO, __func__, "mn %s: SA 0x%08x at %s stays: %s",
		    ipsec_xfer_mnstr(x, mn),
		    sa->spi, ipsec_xfer_addr(&e->holder, a), o->moves ?
		    "its holder's end does not move" : o->why);
		return;
	}
	/* ENDPOINTS from the new holder's view */
	sa->local = e->vsg ? sa->virtual_sg : e->holder_new;
	sa->peer = e->other_new;
	sa->sa_type = o->type;
	sa->moves = (uint8_t)(IPSEC_MOVES_LOCAL |
	    (ctp_addr_eq(&e->other_new, &e->other) ? 0 : IPSEC_MOVES_PEER));
	e->moves = sa->moves;
	e->replace = ipsec_xfer_replace_of(s, &e->holder, &e->holder_new);
	if (ipsec_xfer_is_own(s, &e->holder_new)) {
		e->where = IPSEC_XFER_W_LOCAL;
		return;
	}
	if ((peer = ipsec_xfer_peer_for(s, &e->holder_new)) == NULL) {
		e->status = CTP_ST_IPSEC_UNREACHABLE;
		ipsec_xfer_log(s, CTP_LOG_NOTICE, __func__, "mn %s: SA 0x%08x should go to %s, which is "
		    "not a configured peer (0x85)", ipsec_xfer_mnstr(x, mn), sa->spi,
		    ipsec_xfer_addr(&e->holder_new, a));
		return;
	}
	snprintf(e->peer, sizeof e->peer, "%s", peer);
	e->where = IPSEC_XFER_W_RELAY;
}

/* Refused members fail their bundle and the other copy of a type 4 SA. */
static void
ipsec_xfer_propagate(struct ipsec_xfer_sink *sl)
{
	bool changed = true;

	while (changed) {
		changed = false;
		for (size_t i = 0; i < sl->n; i++) {
			const struct ipsec_xfer_ent *f = &sl->e[i];

			if (!f->sa_ok || ipsec_xfer_ok(f->status) ||
			    f->status == CTP_ST_IPSEC_LEFT_IN_PLACE)
				continue;
			for (size_t j = 0; j < sl->n; j++) {
				struct ipsec_xfer_ent *e = &sl->e[j];
				bool bundle = f->has_bundle && e->has_bundle && e->bundle_id == f->bundle_id;
				bool pair = f->type == IPSEC_CLASSIFY_TYPE4 && e->type == IPSEC_CLASSIFY_TYPE4 &&
				    e->spi == f->spi && e->protocol == f->protocol &&
				    ctp_addr_eq(&e->holder, &f->other) && ctp_addr_eq(&e->other, &f->holder);

				if (j == i || !e->sa_ok || e->where == IPSEC_XFER_W_NONE || !(bundle || pair))
					continue;
				e->where = IPSEC_XFER_W_NONE;
				e->status = CTP_ST_IPSEC_RENEGOTIATE;
				changed = true;
			}
		}
	}
}

/* Encode sa as the octets to relay for e (the previous ones kept). */
static int
ipsec_xfer_relay_cdb(struct ipsec_xfer_ent *e, const struct ipsec_sa *sa)
{
	uint8_t *buf = malloc(IPSEC_XFER_CDB_MAX);
	struct ctp_wbuf w;
	int rc;

	if (!buf)
		return CTP_E_NOMEM;
	ctp_wbuf_init(&w, buf, IPSEC_XFER_CDB_MAX);
	if ((rc = ipsec_sa_encode(sa, &w)) < 0) {
		ctp_wipe(buf, IPSEC_XFER_CDB_MAX);
		free(buf);
		return rc;
	}
	ipsec_xfer_buf_free(&e->rcdb_old, &e->rlen_old);
	e->rcdb_old = e->rcdb;
	e->rlen_old = e->rlen;
	e->rcdb = buf;
	e->rlen = w.len;
	return 0;
}

/* Hand SA i to its relay; the MN hears of it now, taken back on refusal. */
static void
ipsec_xfer_relay(struct ipsec_xfer *s, struct ctp_install *in, struct ipsec_xfer_sink *sl,
    size_t i, struct ipsec_sa *sa)
{
	struct ipsec_xfer_ent *e = &sl->e[i];

	/* nAR: the MN's packets cross this node whichever SG holds the SA */
	if (in->notify && e->mn_peer && s->conf.pmtu && sa->has_pmtu) {
		uint16_t cap = sa->family == CTP_FAMILY_IPV6 && s->conf.pmtu < 1280 ? 1280 :
		    s->conf.pmtu;

		if (cap < sa->pmtu.pmtu) {
			sa->pmtu.pmtu = cap;
			e->pmtu_cut = true;
		}
	}
	if (ipsec_xfer_relay_cdb(e, sa) < 0) {
		e->where = IPSEC_XFER_W_NONE;
		e->status = CTP_ST_NO_RESOURCES;
		return;
	}
	in->relay[i] = e->peer;
	in->relay_cdb[i] = e->rcdb;
	in->relay_len[i] = e->rlen;
	in->relay_keys = 1;
	e->pending = true;
	ipsec_xfer_note_relay(s, in->notify, e, sa);
}

/* Fill the entry's facts from its decoded SA. */
static void
ipsec_xfer_ent_of(struct ipsec_xfer_ent *e, const struct ipsec_sa *sa)
{
	e->sa_ok = true;
	e->direction = sa->direction;
	e->protocol = sa->protocol;
	e->spi = e->spi_mn = sa->spi;
	e->has_bundle = sa->has_bundle;
	e->bundle_id = sa->bundle.id;
	e->position = sa->bundle.position;
	e->vsg = sa->has_virtual_sg;
	e->holder = e->holder_new = sa->local;
	e->other = e->other_new = sa->peer;
	e->type = sa->sa_type;
	e->mn_peer = sa->sa_type == CTP_SA_TYPE_TYPE5;
	e->moves = sa->moves;
	e->replace = -1;
}

/* nAR: classify, then route each SA. */
static int
ipsec_xfer_classify(struct ipsec_xfer *s, const struct ctp_xfer *x, struct ipsec_xfer_sink *sl,
    struct ipsec_sa *sas)
{
	struct ipsec_classify_map map[IPSEC_CONF_MAX_REPLACE];
	struct ipsec_classify_in *cin = calloc(sl->n ? sl->n : 1, sizeof *cin);
	struct ipsec_classify_out *out = calloc(sl->n ? sl->n : 1, sizeof *out);
	size_t *idx = calloc(sl->n ? sl->n : 1, sizeof *idx), k = 0;
	struct ipsec_classify_env env;
	int rc = 0;

	if (!cin || !out || !idx) {
		rc = CTP_E_NOMEM;
		goto out;
	}
	memset(&env, 0, sizeof env);
	env.mn_prev = x->mn;
	for (size_t i = 0; i < s->conf.nreplace; i++) {
		map[i].prev = s->conf.replace[i].remote;
		map[i].next = s->conf.replace[i].local;
	}
	env.map = map;
	env.nmap = s->conf.nreplace;
	for (size_t i = 0; i < sl->n; i++) {
		if (!sl->e[i].sa_ok || sl->e[i].status)
			continue;
		sl->e[i].plane = ipsec_xfer_plane(sl->prev, &sas[i]);
		ipsec_classify_in_of(&sas[i], sl->e[i].plane, &cin[k]);
		idx[k++] = i;
	}
	if (k > IPSEC_CLASSIFY_MAX_SAS) {
		/* more than one MN can have at one node: move none rather than some */
		for (size_t j = 0; j < k; j++)
			sl->e[idx[j]].status = CTP_ST_NO_RESOURCES;
		goto out;
	}
	rc = ipsec_classify_list(&env, sl->prev, sl->next, cin, k, out, NULL);
	if (rc == CTP_E_INVAL || rc == CTP_E_LIMIT) {
		for (size_t j = 0; j < k; j++)
			sl->e[idx[j]].status = CTP_ST_IPSEC_RENEGOTIATE;
		goto out;
	}
	rc = 0;
	for (size_t j = 0; j < k; j++)
		ipsec_xfer_route(s, x, &sl->e[idx[j]], &sas[idx[j]], &out[j]);
out:
	free(cin);
	free(out);
	free(idx);
	return rc;
}

/*
 * n clean structs to decode into: the instance's scratch, grown when n is
 * larger than ever before (a new array: the old one is clean, its keys
 * wiped, so a plain free), or, should install ever nest, an array of its
 * own.  Give it back with ipsec_xfer_scratch_put.
 */
static struct ipsec_sa *
ipsec_xfer_scratch_get(struct ipsec_xfer *s, size_t n)
{
	struct ipsec_sa *a;

	if (n == 0)
		n = 1;
	if (s->scratch_busy || n > CTP_MAX_CDBS)
		return calloc(n, sizeof *a);
	if (n > s->nscratch) {
		if ((a = calloc(n, sizeof *a)) == NULL)
			return NULL;
		free(s->scratch);
		s->scratch = a;
		s->nscratch = n;
	}
	s->scratch_busy = true;
	return s->scratch;
}

/* Wipe the n structs used (ipsec_sa_reset: keys, and back to clean). */
static void
ipsec_xfer_scratch_put(struct ipsec_xfer *s, struct ipsec_sa *a, size_t n)
{
	if (!a)
		return;
	for (size_t i = 0; i < n; i++)
		ipsec_sa_reset(&a[i]);
	if (a == s->scratch)
		s->scratch_busy = false;
	else
		free(a);
}

int
ipsec_xfer_sink_install(void *state, struct ctp_xfer *x, struct ctp_install *in,
    struct ctp_err *err)
{
	struct ipsec_xfer *s = state;
	struct ipsec_xfer_sink *sl = calloc(1, sizeof *sl);
	struct ipsec_sa *sas = NULL;
	char mn[CTP_ADDRSTRLEN];
	size_t nrelay = 0, nlocal = 0, nok = 0;
	int rc = 0;

	mn[0] = '\0';
	if (!sl || (sl->e = calloc(in->n ? in->n : 1, sizeof *sl->e)) == NULL ||
	    (sas = ipsec_xfer_scratch_get(s, in->n)) == NULL) {
		ipsec_xfer_sink_free(sl);
		return ctp_err_set(err, CTP_E_NOMEM, 0, CTP_ST_NO_RESOURCES, "ipsec: out of memory");
	}
	sl->magic = IPSEC_XFER_SNK;
	sl->n = in->n;
	sl->notify = in->notify;
	*x->slot = sl;
	/* the CDBs as they came, and the user's profile */
	for (size_t i = 0; i < in->n; i++) {
		struct ipsec_xfer_ent *e = &sl->e[i];
		struct ctp_err derr;

		e->fpt = in->cdb[i].fpt;
		e->replace = -1;
		if ((e->orig = ipsec_xfer_dup(in->cdb[i].raw, in->cdb[i].raw_len)) == NULL) {
			e->status = CTP_ST_NO_RESOURCES;
			continue;
		}
		e->orig_len = in->cdb[i].raw_len;
		ctp_err_clear(&derr);
		if (e->fpt == CTP_FPT_IPSEC_PROFILE) {
			struct ipsec_profile p;

			/* consumed here: its status is success (the source skips it) */
			if (ipsec_profile_decode(&in->cdb[i], &p, &derr) < 0)
				e->status = derr.status ? derr.status : CTP_ST_MALFORMED_CDB;
			else if (!sl->have_prof) {
				sl->prof = p;
				sl->have_prof = true;
			}
			continue;
		}
		if (ipsec_sa_decode_reuse(&in->cdb[i], &sas[i], &derr) < 0) {
			e->status = derr.status ? derr.status : CTP_ST_MALFORMED_CDB;
			continue;
		}
		ipsec_xfer_ent_of(e, &sas[i]);
	}
	sl->classify = ipsec_xfer_paths(s, x, in, sl);
	if (sl->classify)
		rc = ipsec_xfer_classify(s, x, sl, sas);
	else
		/* a relay from our AR: it rewrote the SAs for us */
		for (size_t i = 0; i < sl->n; i++)
			if (sl->e[i].sa_ok && !sl->e[i].status) {
				sl->e[i].where = IPSEC_XFER_W_LOCAL;
				if (!ipsec_xfer_is_own(s, &sas[i].local) && !sl->e[i].vsg)
					ipsec_xfer_log(s, CTP_LOG_WARN, __func__, "mn %s: SA 0x%08x has "
					    "a local end that is not this node's address",
					    ipsec_xfer_mnstr(x, mn), sas[i].spi);
			}
	if (rc < 0) {
		for (size_t i = 0; i < sl->n; i++)
			if (sl->e[i].sa_ok && !sl->e[i].status)
				sl->e[i].status = CTP_ST_NO_RESOURCES;
	}
	ipsec_xfer_propagate(sl);
	for (size_t i = 0; i < sl->n; i++)
		if (sl->e[i].where == IPSEC_XFER_W_RELAY) {
			ipsec_xfer_relay(s, in, sl, i, &sas[i]);
			nrelay += sl->e[i].where == IPSEC_XFER_W_RELAY;
		} else
			nlocal += sl->e[i].where == IPSEC_XFER_W_LOCAL;
	ipsec_xfer_install_local(s, x, in, sl, sas);
	for (size_t i = 0; i < sl->n; i++) {
		in->status[i] = sl->e[i].status;
		nok += sl->e[i].sa_ok && ipsec_xfer_ok(sl->e[i].status) && !sl->e[i].pending;
	}
	ipsec_xfer_scratch_put(s, sas, sl->n);
	ipsec_xfer_log(s, CTP_LOG_INFO, __func__, "mn %s: %zu CDBs: %zu SAs installed here (of %zu "
	    "for this node), %zu relayed%s", ipsec_xfer_mnstr(x, mn), sl->n, nok, nlocal, nrelay,
	    sl->have_prof ? ", the user's profile came" : sl->classify ? ", no profile" : "");
	return 0;
}

/* ---- the sink side: after the relays answered -------------------------------------- */

/* The next <sg-replace> candidate for e's holder on this node's path
 * before G; its index, or -1. */
static int
ipsec_xfer_next_candidate(const struct ipsec_xfer *s, const struct ipsec_xfer_sink *sl,
    const struct ipsec_xfer_ent *e, size_t from)
{
	const struct ipsec_path *next;
	size_t gp, gn;

	if (e->plane < 1 || e->plane > IPSEC_PROFILE_PLANES)
		return -1;
	next = &sl->next[e->plane - 1];
	if (ipsec_classify_gateway(&sl->prev[e->plane - 1], next, &gp, &gn) < 0)
		return -1;
	for (size_t k = from; k < s->conf.nreplace; k++) {
		const struct ipsec_conf_replace *r = &s->conf.replace[k];
		size_t j;

		if (!ctp_addr_eq(&r->remote, &e->holder) || ctp_addr_eq(&r->local, &e->other_new))
			continue;
		for (j = 0; j < next->node_count; j++)
			if (ctp_addr_eq(&next->nodes[j], &r->local))
				break;
		if (j < gn && j < next->node_count)
			return (int)k;
	}
	return -1;
}

/* The relayed SA again, as it last left (keys included). */
static int
ipsec_xfer_relayed_sa(const struct ipsec_xfer_ent *e, struct ipsec_sa *sa)
{
	struct ctp_cur c;
	struct ctp_cdb cdb;

	ctp_cur_init(&c, e->rcdb, e->rlen, 0);
	if (!e->rcdb || ctp_cdb_next(&c, 0, &cdb, NULL) != 1)
		return CTP_E_CDB;
	return ipsec_sa_decode(&cdb, sa, NULL);
}

/* 0x80 at a relay, reassign at nAR: the same SA with a fresh SPI. */
static bool
ipsec_xfer_review_reassign(struct ipsec_xfer *s, struct ctp_install *in,
    struct ipsec_xfer_ent *e, size_t j, struct ipsec_sa *sa)
{
	uint32_t spi = 0;

	if (ipsec_xfer_relayed_sa(e, sa) < 0)
		return false;
	/* the relay's SAD is not ours to ask: a random SPI is free there but
	 * for a 2^-32 chance, and a second refusal stays a refusal */
	for (int t = 0; t < IPSEC_XFER_SPI_TRIES && (spi < 256 || spi == e->spi_mn ||
	    spi == sa->spi); t++)
		if (RAND_bytes((unsigned char *)&spi, sizeof spi) != 1)
			return false;
	if (spi < 256 || spi == e->spi_mn || spi == sa->spi)
		return false;
	sa->spi = spi;
	if (ipsec_xfer_relay_cdb(e, sa) < 0)
		return false;
	e->spi = spi;
	e->reassigned = true;
	in->relay[j] = e->peer;
	in->relay_cdb[j] = e->rcdb;
	in->relay_len[j] = e->rlen;
	in->relay_keys = 1;
	e->pending = true;
	ipsec_xfer_note_relay(s, in->notify, e, sa);
	return true;
}

/*
 * 0x83 at a relay: the next candidate SG (same remote SG, the next local
 * one of <sg-replace>).  1: sent there (or installed here); 0: none, e's
 * status is final; the caller sets 0x84 when there was no candidate.
 */
static int
ipsec_xfer_review_candidate(struct ipsec_xfer *s, const struct ctp_xfer *x,
    struct ctp_install *in, struct ipsec_xfer_sink *sl, size_t i, size_t j, struct ipsec_sa *sas)
{
	struct ipsec_xfer_ent *e = &sl->e[i];
	struct ipsec_sa *sa = &sas[i];
	int k = e->replace;

	if (ipsec_xfer_relayed_sa(e, sa) < 0)
		return -1;
	while (k >= 0 && (k = ipsec_xfer_next_candidate(s, sl, e, (size_t)k + 1)) >= 0) {
		const struct ipsec_conf_replace *r = &s->conf.replace[k];
		const char *peer;

		e->holder_new = r->local;
		e->replace = k;
		if (!e->vsg)
			sa->local = r->local;
		if (ipsec_xfer_is_own(s, &r->local)) {
			size_t g[1] = { i };

			e->where = IPSEC_XFER_W_LOCAL;
			ipsec_xfer_install_group(s, x, in, sl, sas, g, 1);
			in->status[j] = e->status;
			return 1;
		}
		if ((peer = ipsec_xfer_peer_for(s, &r->local)) == NULL)
			continue;
		snprintf(e->peer, sizeof e->peer, "%s", peer);
		if (ipsec_xfer_relay_cdb(e, sa) < 0)
			return -1;
		in->relay[j] = e->peer;
		in->relay_cdb[j] = e->rcdb;
		in->relay_len[j] = e->rlen;
		in->relay_keys = 1;
		e->pending = true;
		ipsec_xfer_note_relay(s, in->notify, e, sa);
		return 1;
	}
	return 0;
}

int
ipsec_xfer_sink_review(void *state, struct ctp_xfer *x, struct ctp_install *in,
    struct ctp_err *err)
{
	struct ipsec_xfer *s = state;
	struct ipsec_xfer_sink *sl = *x->slot;
	struct ipsec_sa *sa;
	bool *used;
	bool round;
	char mn[CTP_ADDRSTRLEN];
	int again = 0;

	if (!sl || sl->magic != IPSEC_XFER_SNK)
		return 0;
	mn[0] = '\0';
	sl->reviews++;
	sl->notify = in->notify;
	/* another round only when its answers will be reviewed too: a refusal
	 * must be able to take its notification back */
	round = sl->reviews + 1 < CTP_XFER_MAX_ROUNDS;
	if ((used = calloc(sl->n ? sl->n : 1, sizeof *used)) == NULL ||
	    (sa = calloc(sl->n ? sl->n : 1, sizeof *sa)) == NULL) {
		free(used);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "ipsec: out of memory");
	}
	for (size_t j = 0; j < in->n; j++) {
		struct ipsec_xfer_ent *e = NULL;
		size_t i;
		uint8_t st;

		for (i = 0; i < sl->n; i++)
			if (!used[i] && sl->e[i].orig && sl->e[i].orig_len == in->cdb[j].raw_len &&
			    memcmp(sl->e[i].orig, in->cdb[j].raw, sl->e[i].orig_len) == 0) {
				used[i] = true;
				e = &sl->e[i];
				break;
			}
		if (!e || !e->pending)
			continue;
		e->pending = false;
		st = in->status[j];
		switch (ctp_xfer_status_outcome(st)) {
		case CTP_XFER_COMMIT:
			if (e->reassigned)
				in->status[j] = CTP_ST_IPSEC_SPI_REASSIGNED;
			continue;
		case CTP_XFER_ABORT_UNKNOWN:
			continue;   /* its notification stays: see note_relay */
		default:
			break;
		}
		ipsec_xfer_note_drop(in->notify, e);
		if (st == CTP_ST_IPSEC_SPI_CONFLICT && round && !e->reassigned &&
		    ipsec_xfer_may_reassign(s, in, e) &&
		    ipsec_xfer_review_reassign(s, in, e, j, &sa[i])) {
			ipsec_xfer_log(s, CTP_LOG_INFO, __func__, "mn %s: SA 0x%08x: SPI taken at %s: "
			    "sent again as 0x%08x", ipsec_xfer_mnstr(x, mn), e->spi_mn, e->peer,
			    e->spi);
			again = 1;
		} else if (st == CTP_ST_IPSEC_ALG_UNSUPPORTED && !e->has_bundle &&
		    !(e->moves & IPSEC_MOVES_PEER)) {
			int k = e->replace < 0 ? -1 :
			    ipsec_xfer_next_candidate(s, sl, e, (size_t)e->replace + 1), r = 0;

			if (k >= 0 && round)
				r = ipsec_xfer_review_candidate(s, x, in, sl, i, j, sa);
			if (r > 0 && e->pending) {
				ipsec_xfer_log(s, CTP_LOG_INFO, __func__, "mn %s: SA 0x%08x: not supported "
				    "there, sent to the next candidate SG, %s", ipsec_xfer_mnstr(x,
				    mn), e->spi, e->peer);
				again = 1;
			} else if (k < 0 || (round && r == 0)) {
				/* nothing (reachable) left to try: no candidate SG (PROFILE 6) */
				in->status[j] = CTP_ST_IPSEC_NO_CANDIDATE;
				ipsec_xfer_log(s, CTP_LOG_NOTICE, __func__, "mn %s: SA 0x%08x: not "
				    "supported at %s and no other candidate SG (0x84)",
				    ipsec_xfer_mnstr(x, mn), e->spi, e->peer);
			}
			/* else: a candidate, but no round left to try it: 0x83 stays */
		}
		ipsec_sa_clear(&sa[i]);
	}
	for (size_t i = 0; i < sl->n; i++)
		ipsec_sa_clear(&sa[i]);
	free(sa);
	free(used);
	return again;
}

void
ipsec_xfer_sink_done(void *state, struct ctp_xfer *x, int outcome, const uint8_t *status,
    size_t n)
{
	struct ipsec_xfer *s = state;
	struct ipsec_xfer_sink *sl = *x->slot;
	size_t ok = 0;

	if (!sl || sl->magic != IPSEC_XFER_SNK)
		return;
	for (size_t i = 0; i < n; i++)
		ok += ipsec_xfer_ok(status[i]);
	/*
	 * A relay that refused without a review (it could not even be sent
	 * to): its notification goes, before the engine sends the CTN.  The
	 * statuses follow our CDBs one to one unless some failed the check
	 * before install (then n differs, and what is left stays).
	 */
	for (size_t i = 0; sl->notify && n == sl->n && i < n; i++)
		if (sl->e[i].note && ctp_xfer_status_outcome(status[i]) == CTP_XFER_ABORT_CLEAN)
			ipsec_xfer_note_drop(sl->notify, &sl->e[i]);
	ipsec_xfer_log(s, outcome == CTP_XFER_COMMIT ? CTP_LOG_INFO : CTP_LOG_WARN, __func__,
	    "transfer %016llx: %zu of %zu IPsec CDBs taken%s", (unsigned long long)x->id, ok, n,
	    outcome == CTP_XFER_COMMIT ? "" : " (a relay never answered)");
	ipsec_xfer_sink_free(sl);
	*x->slot = NULL;
}

/* ---- control commands ------------------------------------------------------------- */

int
ipsec_xfer_cmd_sas(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err)
{
	struct ipsec_xfer *s = state;
	struct ctp_val *arr = ctp_val_arr();
	int rc;

	(void)req;
	if (!arr)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	if ((rc = s->sad_ops->describe(s->sad, arr)) < 0) {
		ctp_val_free(arr);
		return ctp_err_set(err, rc, 0, 0, "the SAD cannot describe its SAs: %s",
		    ctp_strerror(rc));
	}
	if ((rc = ctp_val_set_str(reply, "backend", s->sad_ops->name)) < 0 ||
	    (rc = ctp_val_obj_set(reply, "sas", arr)) < 0)
		return ctp_err_set(err, rc, 0, 0, "out of memory");
	if (s->sad_ops == &ipsec_sad_mem) {
		/* the datapath's counters that belong to no SA (unknown SPIs...) */
		struct ctp_val *c = ctp_val_obj();

		if (!c || ipsec_sad_mem_counters(s->sad, c) < 0 ||
		    ctp_val_obj_set(reply, "counters", c) < 0)
			return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	}
	return 0;
}

/*
 * esp-send {"spi": n, "dst": ADDR, "count": n (default 1)} -> {"sent": n}
 * (and "error" when the datapath stopped before count): a gateway
 * originates dummy ESP packets on one of its active outbound SAs (the mem
 * backend only; ipsec_sad.h, ipsec_sad_mem_esp_send).  For SAs whose both
 * ends are gateways (type 4), which no MN can drive.
 */
static int
ipsec_xfer_cmd_esp_send(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err)
{
	struct ipsec_xfer *s = state;
	struct ipsec_sa_ref ref;
	struct ctp_err e2;
	const char *dst;
	uint64_t spi = 0, count = 1;
	int rc;

	if (s->sad_ops != &ipsec_sad_mem)
		return ctp_err_set(err, CTP_E_UNSUPPORTED, 0, 0, "esp-send: the %s SAD sends "
		    "nothing itself (the mem backend only)", s->sad_ops->name);
	memset(&ref, 0, sizeof ref);
	ref.protocol = CTP_IPPROTO_ESP;
	if (ctp_val_get_u64(req, "spi", UINT32_MAX, &spi, NULL) < 0 ||
	    ctp_val_get_str(req, "dst", &dst, NULL) < 0 || ctp_addr_parse(&ref.dst, dst) < 0 ||
	    ((rc = ctp_val_get_u64(req, "count", IPSEC_SAD_MEM_SEND_MAX, &count, NULL)) < 0 &&
	    rc != CTP_E_NOTFOUND) || count == 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "\"spi\" (a number) and \"dst\" (the "
		    "SA's destination address) are needed; \"count\" is 1 to %u (default 1)",
		    IPSEC_SAD_MEM_SEND_MAX);
	ref.spi = (uint32_t)spi;
	ctp_err_clear(&e2);
	if ((rc = ipsec_sad_mem_esp_send(s->sad, &ref, (unsigned)count, &e2)) < 0)
		return ctp_err_set(err, rc, 0, 0, "esp-send: %s", e2.what[0] ? e2.what :
		    ctp_strerror(rc));
	ipsec_xfer_log(s, CTP_LOG_NOTICE, __func__, "SA 0x%08x to %s: %d ESP packets sent by the "
	    "operator", ref.spi, dst, rc);
	if (ctp_val_set_u64(reply, "sent", (uint64_t)rc) < 0 ||
	    ((uint64_t)rc < count && ctp_val_set_str(reply, "error", e2.what) < 0))
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	return 0;
}

/* One SA as `ctpctl decode --json` prints an SA CDB, into *sa. */
static int
ipsec_xfer_sa_of_json(const struct ctp_val *o, size_t i, struct ipsec_sa *sa,
    struct ctp_err *err)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	const struct ctp_val *tlvs = ctp_val_get(o, "tlvs");
	uint8_t *buf = malloc(IPSEC_XFER_CDB_MAX);
	struct ctp_err e2;
	struct ctp_wbuf w;
	struct ctp_cur c;
	struct ctp_cdb cdb;
	uint64_t fpt = CTP_FPT_IPSEC_SA;
	size_t at;
	int rc;

	if (!buf)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	ctp_err_clear(&e2);
	if (o->kind != CTP_V_OBJ || !tlvs || tlvs->kind != CTP_V_ARR)
		rc = ctp_err_set(err, CTP_E_INVAL, 0, 0, "SA %zu: an object with \"tlvs\" "
		    "(as ctpctl decode --json prints an SA CDB)", i);
	else if (((rc = ctp_val_get_u64(o, "fpt", 0xffff, &fpt, &e2)) < 0 && rc != CTP_E_NOTFOUND) ||
	    fpt != CTP_FPT_IPSEC_SA)
		rc = ctp_err_set(err, CTP_E_INVAL, 0, 0, "SA %zu: \"fpt\" must be 65281 "
		    "(0xff01)", i);
	else {
		ctp_wbuf_init(&w, buf, IPSEC_XFER_CDB_MAX);
		at = ctp_cdb_begin(&w, CTP_FPT_IPSEC_SA, 0, 0);
		if ((rc = ctp_tlv_build(fd, tlvs, &w, &e2)) < 0 ||
		    (rc = ctp_cdb_end(&w, at, 0, 0)) < 0)
			rc = ctp_err_set(err, rc, 0, 0, "SA %zu: %s", i,
			    e2.what[0] ? e2.what : ctp_strerror(rc));
		else {
			ctp_cur_init(&c, buf, w.len, 0);
			if ((rc = ctp_cdb_next(&c, 0, &cdb, &e2)) != 1 ||
			    (rc = ipsec_sa_decode(&cdb, sa, &e2)) < 0)
				rc = ctp_err_set(err, rc < 0 ? rc : CTP_E_CDB, 0, e2.status,
				    "SA %zu: %s", i, e2.what);
		}
	}
	ctp_wipe(buf, IPSEC_XFER_CDB_MAX);
	free(buf);
	return rc < 0 ? rc : 0;
}

/* sa-add {"sa": SA} or {"sa": [SA, ...]}: each SA as given. */
static int
ipsec_xfer_sa_add_list(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err)
{
	struct ipsec_xfer *s = state;
	const struct ctp_val *v = ctp_val_get(req, "sa");
	struct ipsec_sa_ref done[IPSEC_SAD_MAX_LIST];
	struct ctp_val *list = ctp_val_arr();
	struct ipsec_sa *sa = malloc(sizeof *sa);
	size_t n, ndone = 0;
	int rc = 0;

	if (!sa || !list) {
		free(sa);
		ctp_val_free(list);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	}
	n = !v ? 0 : v->kind == CTP_V_ARR ? v->n : 1;
	if (!v || (v->kind != CTP_V_OBJ && v->kind != CTP_V_ARR) || n == 0 ||
	    n > IPSEC_SAD_MAX_LIST)
		rc = ctp_err_set(err, CTP_E_INVAL, 0, 0, "\"sa\" is needed: one SA CDB as "
		    "ctpctl decode --json prints it, or an array of up to %d", IPSEC_SAD_MAX_LIST);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct ctp_val *o = v->kind == CTP_V_ARR ? v->items[i] : v;
		struct ctp_err e2;
		struct ctp_val *r;
		char a[CTP_ADDRSTRLEN];

		if ((rc = ipsec_xfer_sa_of_json(o, i, sa, err)) < 0)
			break;
		ctp_err_clear(&e2);
		if ((rc = s->sad_ops->install(s->sad, sa, &e2)) < 0) {
			rc = ctp_err_set(err, rc, 0, e2.status, "SA %zu (0x%08x): %s", i,
			    sa->spi, e2.what[0] ? e2.what : ctp_strerror(rc));
			break;
		}
		ipsec_xfer_ref(sa, &done[ndone++]);
		if ((r = ctp_val_obj()) == NULL) {
			rc = ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
			break;
		}
		ctp_val_set_u64(r, "spi", sa->spi);
		ctp_val_set_str(r, "protocol", sa->protocol == CTP_IPPROTO_AH ? "ah" : "esp");
		ctp_val_set_str(r, "dst", ipsec_xfer_addr(&done[ndone - 1].dst, a));
		ctp_val_set_str(r, "direction", sa->direction == CTP_DIRECTION_IN ? "in" : "out");
		ctp_val_arr_push(list, r);
		ipsec_xfer_log(s, CTP_LOG_NOTICE, __func__, "SA 0x%08x %s %s added by the operator",
		    sa->spi, sa->direction == CTP_DIRECTION_IN ? "in" : "out", a);
		ipsec_sa_clear(sa);
	}
	ipsec_sa_clear(sa);
	free(sa);
	if (rc < 0) {
		/* all or nothing */
		for (size_t i = 0; i < ndone; i++)
			(void)s->sad_ops->remove(s->sad, &done[i]);
		ctp_val_free(list);
		return rc;
	}
	if ((rc = ctp_val_set_u64(reply, "count", ndone)) < 0 ||
	    (rc = ctp_val_obj_set(reply, "sas", list)) < 0)
		return ctp_err_set(err, rc, 0, 0, "out of memory");
	return 0;
}

/* a + i within a's family, in place; CTP_E_LIMIT past the end of its space. */
static int
ipsec_xfer_addr_add(struct ctp_addr *a, uint64_t i)
{
	unsigned carry = 0;

	for (size_t k = ctp_addr_len(a->family); k-- > 0 && (i || carry); i >>= 8) {
		unsigned v = a->a[k] + (unsigned)(i & 0xff) + carry;

		a->a[k] = (uint8_t)v;
		carry = v >> 8;
	}
	return i || carry ? CTP_E_LIMIT : 0;
}

/* SA i of a counted sa-add: the template with SPI + i and mn + i for mn
 * (ipsec_xfer.h); keys as in the template. */
static void
ipsec_xfer_sa_nth(const struct ipsec_sa *tpl, const struct ctp_addr *mn, uint64_t i,
    struct ipsec_sa *sa)
{
	struct ctp_addr to = *mn;

	*sa = *tpl;
	sa->spi = tpl->spi + (uint32_t)i;
	(void)ipsec_xfer_addr_add(&to, i);   /* checked for the last one first */
	if (ctp_addr_eq(&sa->local, mn))
		sa->local = to;
	if (ctp_addr_eq(&sa->peer, mn))
		sa->peer = to;
	for (size_t k = 0; k < sa->nsel; k++) {
		if (ctp_addr_eq(&sa->sel[k].src, mn))
			sa->sel[k].src = to;
		if (ctp_addr_eq(&sa->sel[k].dst, mn))
			sa->sel[k].dst = to;
	}
}

static struct ctp_val *
ipsec_xfer_ref_val(const struct ipsec_sa *sa)
{
	struct ctp_val *r = ctp_val_obj();
	struct ipsec_sa_ref ref;
	char a[CTP_ADDRSTRLEN];

	ipsec_xfer_ref(sa, &ref);
	if (r && (ctp_val_set_u64(r, "spi", sa->spi) < 0 ||
	    ctp_val_set_str(r, "protocol", sa->protocol == CTP_IPPROTO_AH ? "ah" : "esp") < 0 ||
	    ctp_val_set_str(r, "dst", ipsec_xfer_addr(&ref.dst, a)) < 0 ||
	    ctp_val_set_str(r, "direction", sa->direction == CTP_DIRECTION_IN ? "in" : "out") < 0)) {
		ctp_val_free(r);
		r = NULL;
	}
	return r;
}

/* sa-add {"sa": SA, "count": N, "mn": ADDR}: N SAs from one template
 * (ipsec_xfer.h).  Installing is the SAD's usual install, one SA at a time;
 * only the JSON is read once. */
static int
ipsec_xfer_sa_add_count(struct ipsec_xfer *s, const struct ctp_val *req, uint64_t count,
    struct ctp_val *reply, struct ctp_err *err)
{
	const struct ctp_val *v = ctp_val_get(req, "sa");
	struct ipsec_sa *tpl = malloc(sizeof *tpl), *sa = malloc(sizeof *sa);
	struct ctp_val *first = NULL, *last = NULL;
	struct ctp_addr mn, end;
	const char *mnstr;
	char a[CTP_ADDRSTRLEN];
	uint64_t i = 0;
	int rc = 0;

	if (!tpl || !sa) {
		free(tpl);
		free(sa);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory");
	}
	memset(tpl, 0, sizeof *tpl);
	if (!v || v->kind != CTP_V_OBJ)
		rc = ctp_err_set(err, CTP_E_INVAL, 0, 0, "with \"count\", \"sa\" is one SA CDB "
		    "(the template), as ctpctl decode --json prints it");
	else if ((rc = ipsec_xfer_sa_of_json(v, 0, tpl, err)) == 0) {
		mn = tpl->peer;
		end = mn;
		if (ctp_val_get_str(req, "mn", &mnstr, NULL) == 0 &&
		    (ctp_addr_parse(&mn, mnstr) < 0 || mn.family != tpl->peer.family))
			rc = ctp_err_set(err, CTP_E_INVAL, 0, 0, "\"mn\": \"%s\" is not an IPv%u "
			    "address (the template's family)", mnstr, tpl->peer.family);
		else if ((uint64_t)tpl->spi + count - 1 > UINT32_MAX)
			rc = ctp_err_set(err, CTP_E_INVAL, 0, 0, "SPI 0x%08x + %llu SAs runs past "
			    "0xffffffff", tpl->spi, (unsigned long long)count);
		else if ((end = mn, ipsec_xfer_addr_add(&end, count - 1)) < 0)
			rc = ctp_err_set(err, CTP_E_INVAL, 0, 0, "%s + %llu runs past the end of the "
			    "address space", ipsec_xfer_addr(&mn, a), (unsigned long long)count - 1);
	}
	for (i = 0; rc == 0 && i < count; i++) {
		struct ctp_err e2;

		ipsec_xfer_sa_nth(tpl, &mn, i, sa);
		/* fresh keys: no two SAs of the batch share one */
		if ((sa->has_encr && sa->encr.key_len &&
		    RAND_bytes(sa->encr.key, sa->encr.key_len) != 1) ||
		    (sa->has_integ && sa->integ.key_len &&
		    RAND_bytes(sa->integ.key, sa->integ.key_len) != 1)) {
			rc = ctp_err_set(err, CTP_E_CRYPTO, 0, 0, "SA %llu: no random key",
			    (unsigned long long)i);
			break;
		}
		ctp_err_clear(&e2);
		if ((rc = s->sad_ops->install(s->sad, sa, &e2)) < 0) {
			rc = ctp_err_set(err, rc, 0, e2.status, "SA %llu (0x%08x): %s",
			    (unsigned long long)i, sa->spi, e2.what[0] ? e2.what : ctp_strerror(rc));
			break;
		}
	}
	if (rc < 0) {
		/* all or nothing: SAs 0 .. i-1 went in */
		for (uint64_t j = 0; j < i; j++) {
			struct ipsec_sa_ref ref;

			ipsec_xfer_sa_nth(tpl, &mn, j, sa);
			ipsec_xfer_ref(sa, &ref);
			(void)s->sad_ops->remove(s->sad, &ref);
		}
	} else {
		ipsec_xfer_sa_nth(tpl, &mn, 0, sa);
		first = ipsec_xfer_ref_val(sa);
		ipsec_xfer_sa_nth(tpl, &mn, count - 1, sa);
		last = ipsec_xfer_ref_val(sa);
		ipsec_xfer_log(s, CTP_LOG_NOTICE, __func__, "%llu SAs 0x%08x.. for %s.. added by the "
		    "operator", (unsigned long long)count, tpl->spi, ipsec_xfer_addr(&mn, a));
	}
	ipsec_sa_clear(sa);
	ipsec_sa_clear(tpl);
	free(sa);
	free(tpl);
	if (rc < 0)
		return rc;
	/* obj_set owns its child also when it fails (and refuses NULL) */
	rc = ctp_val_set_u64(reply, "count", count);
	rc |= ctp_val_obj_set(reply, "first", first);
	rc |= ctp_val_obj_set(reply, "last", last);
	return rc < 0 ? ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory") : 0;
}

int
ipsec_xfer_cmd_sa_add(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err)
{
	uint64_t count;
	int rc;

	if (!ctp_val_get(req, "count"))
		return ipsec_xfer_sa_add_list(state, req, reply, err);
	if ((rc = ctp_val_get_u64(req, "count", IPSEC_XFER_ADD_COUNT_MAX, &count, NULL)) < 0 ||
	    count == 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "\"count\" is 1 to %u",
		    IPSEC_XFER_ADD_COUNT_MAX);
	return ipsec_xfer_sa_add_count(state, req, count, reply, err);
}

int
ipsec_xfer_cmd_sa_del(void *state, const struct ctp_val *req, struct ctp_val *reply,
    struct ctp_err *err)
{
	struct ipsec_xfer *s = state;
	const struct ctp_val *p = ctp_val_get(req, "protocol");
	struct ipsec_sa_ref ref;
	const char *dst;
	uint64_t spi = 0;
	int rc;

	memset(&ref, 0, sizeof ref);
	ref.protocol = CTP_IPPROTO_ESP;
	if (ctp_val_get_u64(req, "spi", UINT32_MAX, &spi, NULL) < 0 ||
	    ctp_val_get_str(req, "dst", &dst, NULL) < 0 || ctp_addr_parse(&ref.dst, dst) < 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "\"spi\" (a number) and \"dst\" (the SA's "
		    "destination address) are needed; \"protocol\" (esp, ah) is optional");
	if (p && p->kind == CTP_V_STR && (strcmp(p->s, "esp") == 0 || strcmp(p->s, "ah") == 0))
		ref.protocol = strcmp(p->s, "ah") == 0 ? CTP_IPPROTO_AH : CTP_IPPROTO_ESP;
	else if (p && p->kind == CTP_V_INT && !p->neg &&
	    (p->u == CTP_IPPROTO_ESP || p->u == CTP_IPPROTO_AH))
		ref.protocol = (uint8_t)p->u;
	else if (p)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "\"protocol\" is esp, ah, 50 or 51");
	ref.spi = (uint32_t)spi;
	if ((rc = s->sad_ops->remove(s->sad, &ref)) < 0)
		return ctp_err_set(err, rc, 0, 0, "SA 0x%08x to %s: %s", ref.spi, dst,
		    rc == CTP_E_NOTFOUND ? "no such SA" : ctp_strerror(rc));
	ipsec_xfer_log(s, CTP_LOG_NOTICE, __func__, "SA 0x%08x to %s removed by the operator",
	    ref.spi, dst);
	return ctp_val_set_u64(reply, "count", 1) < 0 ?
	    ctp_err_set(err, CTP_E_NOMEM, 0, 0, "out of memory") : 0;
}

/* ---- a whole node's fail-over ------------------------------------------------ */

struct ipsec_xfer_mns {
	const struct ipsec_xfer *s;
	void                   (*fn)(void *arg, const struct ctp_addr *mn);
	void                    *arg;
};

/*
 * The far end of an SA is an MN unless it is this node or a configured
 * peer: an SA between two nodes (a tunnel carrying MNs' traffic) moves
 * with the MNs its selectors cover, as at a handover, not on its own.
 */
static void
ipsec_xfer_mns_one(void *arg, const struct ctp_addr *peer)
{
	const struct ipsec_xfer_mns *m = arg;
	const struct ipsec_xfer *s = m->s;

	if (ipsec_xfer_is_own(s, peer) ||
	    (IPSEC_XFER_HOST_HAS(s->ops, peer_by_addr) && s->ops->peer_by_addr(s->host, peer)))
		return;
	m->fn(m->arg, peer);
}

int
ipsec_xfer_source_mns(void *state, void (*fn)(void *arg, const struct ctp_addr *mn), void *arg)
{
	struct ipsec_xfer *s = state;
	struct ipsec_xfer_mns m = { .s = s, .fn = fn, .arg = arg };

	if (!s->sad_ops->each_peer)
		return CTP_E_UNSUPPORTED;
	return s->sad_ops->each_peer(s->sad, ipsec_xfer_mns_one, &m);
}
