/*
 * replay_peer.c: replays a recorded CXTP exchange into a fresh ctpd and
 * compares its answers with the recording (tests/replay/run.sh).
 *
 *   replay_peer --conf FILE --capture FILE --plugins DIR [--mn-port PORT]
 *               [--ctl SOCKET] [--call JSON]... [--allow FILE]
 *               [--wait-ms N] [--settle-ms N] [--deadline-ms N]
 *
 * The capture is the exported-PDU capture a daemon wrote (ctpd --pcap): the
 * "SUT" below, the daemon under test, is the node that wrote it.  --conf is
 * a ctpd configuration for the node this program plays, the recorded peer:
 * its name, address and certificate, as recorded, and exactly one peer,
 * the SUT.  From the capture it takes, in order, the messages between the
 * SUT and that peer (over SCTP) and, with --mn-port, those between the SUT
 * and the mobile node (ICMP in the recordings; replayed in the UDP encoding
 * to the SUT's MN port, from the MN's recorded address).  Messages with
 * other nodes are listed as not replayed.
 *
 * It opens a new association (the real node code: usrsctp, TLS with the
 * certificate of --conf) and walks the records: one the SUT received is
 * sent as recorded, octet for octet; one the SUT sent is waited for
 * (--wait-ms) and compared.  Consecutive answers may come in any order
 * between the peer and the MN, in recorded order on each; anything the SUT
 * sends where the recording has it silent is unexpected.  With --ctl (the
 * SUT's control socket) each record sent is followed by a barrier: the
 * SUT's message counters must show it arrived before the next is sent, so
 * the order the SUT sees does not depend on timing between the two links;
 * each --call is a control request sent once the association is up, before
 * the first record (a network trigger).  After the last record, anything
 * more the SUT sends within --settle-ms is unexpected.
 *
 * The comparison is field by field: both messages are decoded
 * (ctp_msg_decode), described with the plugins of --plugins
 * (ctp_msg_describe: header fields, CDBs, every TLV), and the two trees
 * compared leaf by leaf.  A leaf is named by its path, e.g.
 * "cdbs.0:CONTROL.tlvs.TRANSFER_ID.id": array elements by index and the
 * CDB's feature, TLVs by their name ("#2" for a repeat).  --allow names the
 * leaves that may differ, one per line: a glob over paths and the reason,
 *
 *   cdbs.*:CONTROL.tlvs.TRANSFER_ID.id   random for every transfer
 *
 * Any other difference, a missing answer, an unexpected message, or octets
 * that differ where no field does, fails the replay.
 *
 * Output (stdout): one line per record, the differences under it, and a
 * summary.  Exit status: 0 every answer as recorded (up to allowed
 * differences), 1 not, 2 the replay could not run (usage, unreadable or
 * malformed capture or configuration, no association).
 */
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_conf.h"
#include "ctp/ctp_ctl.h"
#include "ctp/ctp_describe.h"
#include "ctp/ctp_feature.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_mnio.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_node.h"
#include "ctp/ctp_pcap.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_util.h"
#include "ctp/ctp_val.h"

#define RP_MAX_CAPTURE (16u << 20)   /* a capture is a few KB; refuse silly files */
#define RP_MAX_EVENTS  256
#define RP_MAX_QUEUE   64            /* messages from the SUT not matched yet */
#define RP_MAX_ALLOW   64
#define RP_MAX_CALLS   8
#define RP_PATH_MAX    512
#define RP_POLL_MS     20

enum rp_dir { RP_IN = 1, RP_OUT };     /* seen from the SUT */
enum rp_chan { RP_PEER = 1, RP_MN };

struct rp_event {
	size_t          rec;            /* record number in the capture */
	enum rp_dir     dir;
	enum rp_chan    chan;
	uint8_t         type;
	const uint8_t  *pdu;            /* the CXTP message (its Length octets) */
	size_t          len;
	int             done;           /* sent, or its answer came */
};

struct rp_allow {
	char     pattern[128];
	char     reason[200];
	unsigned hits;
};

struct rp_msg {
	enum rp_chan chan;
	uint8_t     *buf;
	size_t       len;
};

enum rp_state { RP_CONNECTING, RP_RUNNING, RP_BARRIER, RP_WAITING, RP_SETTLING, RP_DONE };

static struct {
	uv_loop_t        loop;
	const char      *capture;
	uint8_t         *file;
	size_t           file_len;
	struct rp_event  ev[RP_MAX_EVENTS];
	size_t           nev, cur, nrec;
	struct ctp_addr  self, sut, mn;
	char             self_name[64], sut_name[64];
	uint16_t         mn_port;
	struct ctp_node *node;
	struct ctp_peer *peer;
	struct ctp_mnio *mnio;
	struct ctp_registry *reg;
	const char      *ctl;
	const char      *calls[RP_MAX_CALLS];
	size_t           ncalls;
	struct rp_allow  allow[RP_MAX_ALLOW];
	size_t           nallow;
	struct rp_msg    q[RP_MAX_QUEUE];
	size_t           nq;
	uint64_t         sent_type[CTP_MSG_MAX + 1];
	enum rp_state    state;
	uv_timer_t       timer, deadline;
	uv_signal_t      sigint, sigterm;
	uint64_t         phase_ms;      /* when the current wait began */
	unsigned         wait_ms, settle_ms, deadline_ms;
	int              exit_code;
	unsigned         sent, same, different, missing, unexpected;
	struct ctp_msg  *ma, *mb;       /* scratch for the comparisons */
} rp;

static void rp_step(void);
static void rp_finish(int code);

static void
rp_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
rp_out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("replay: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
}

static const char *
rp_chan_name(enum rp_chan c)
{
	return c == RP_MN ? "MN" : rp.self_name;
}

/* "#3  nar -> par   CTD   " */
static void
rp_event_head(const struct rp_event *e, char *buf, size_t len)
{
	const char *from = e->dir == RP_IN ? rp_chan_name(e->chan) : rp.sut_name;
	const char *to = e->dir == RP_IN ? rp.sut_name : rp_chan_name(e->chan);
	char who[160];

	snprintf(who, sizeof who, "%s -> %s", from, to);
	snprintf(buf, len, "  #%-3zu %-14s %-7s", e->rec, who, ctp_msg_name(e->type));
}

/* The plugins only describe CDBs here: a host that logs and keeps time. */
static void
rp_host_log(struct ctp_host *host, int level, const char *func, const char *msg)
{
	(void)host;
	ctp_logf(level, func, "%s", msg);
}

static uint64_t
rp_host_now(struct ctp_host *host)
{
	(void)host;
	return uv_now(&rp.loop);
}

static const struct ctp_host_ops rp_host_ops = {
	.size = sizeof(struct ctp_host_ops),
	.log = rp_host_log,
	.now_ms = rp_host_now,
};

/* ---- the capture ------------------------------------------------------------ */

/* A record of the SUT's exchange with us or the MN, or 0 when it is not one. */
static int
rp_classify(const struct ctp_pcap_rec *r, enum rp_dir *dir, enum rp_chan *chan,
    struct ctp_addr *mn)
{
	if (r->proto == IPPROTO_SCTP) {
		*chan = RP_PEER;
		if (ctp_addr_eq(&r->src, &rp.sut) && ctp_addr_eq(&r->dst, &rp.self))
			*dir = RP_OUT;
		else if (ctp_addr_eq(&r->src, &rp.self) && ctp_addr_eq(&r->dst, &rp.sut))
			*dir = RP_IN;
		else
			return 0;
		return 1;
	}
	/* the MN's link: the daemon writes the MN's address only (ctp_engine) */
	if (r->proto != 0 && r->proto != IPPROTO_UDP)
		return 0;
	*chan = RP_MN;
	if (r->src.family && !r->dst.family) {
		*dir = RP_IN;
		*mn = r->src;
	} else if (r->dst.family && !r->src.family) {
		*dir = RP_OUT;
		*mn = r->dst;
	} else
		return 0;
	return 1;
}

static int
rp_load_capture(void)
{
	struct ctp_pcap_reader rd;
	struct ctp_pcap_rec r;
	struct ctp_err err = { 0 };
	int rc;

	if ((rc = ctp_read_file(rp.capture, RP_MAX_CAPTURE, &rp.file, &rp.file_len)) < 0) {
		fprintf(stderr, "replay_peer: %s: %s\n", rp.capture, ctp_strerror(rc));
		return -1;
	}
	if (ctp_pcap_read_begin(&rd, rp.file, rp.file_len, &err) < 0) {
		fprintf(stderr, "replay_peer: %s: offset %zu: %s\n", rp.capture, err.off, err.what);
		return -1;
	}
	while ((rc = ctp_pcap_read_next(&rd, &r, &err)) == 1) {
		struct rp_event *e;
		enum rp_dir dir;
		enum rp_chan chan;
		struct ctp_addr mn = { 0 };
		char a[CTP_ADDRSTRLEN], b[CTP_ADDRSTRLEN];

		rp.nrec++;
		if (strcmp(r.name, "cxtp") != 0) {
			rp_out("  #%-3zu not CXTP (dissector \"%s\"): not replayed", r.index, r.name);
			continue;
		}
		if (ctp_msg_decode(rp.ma, r.pdu, r.len, r.proto == IPPROTO_SCTP ? 0 : CTP_DEC_ICMP,
		    &err) < 0) {
			fprintf(stderr, "replay_peer: %s: record %zu does not decode: offset %zu: %s\n",
			    rp.capture, r.index, err.off, err.what);
			return -1;
		}
		if (!rp_classify(&r, &dir, &chan, &mn)) {
			rp_out("  #%-3zu %s -> %s %s: between other nodes: not replayed", r.index,
			    ctp_addr_fmt(&r.src, a, sizeof a), ctp_addr_fmt(&r.dst, b, sizeof b),
			    ctp_msg_name(rp.ma->type));
			continue;
		}
		if (chan == RP_MN && !rp.mn_port) {
			rp_out("  #%-3zu %s with the MN: not replayed (no --mn-port)", r.index,
			    ctp_msg_name(rp.ma->type));
			continue;
		}
		if (chan == RP_MN) {
			if (rp.mn.family && !ctp_addr_eq(&rp.mn, &mn)) {
				fprintf(stderr, "replay_peer: %s: record %zu: the MN is at %s, earlier "
				    "at %s: one MN address per replay\n", rp.capture, r.index,
				    ctp_addr_fmt(&mn, a, sizeof a), ctp_addr_fmt(&rp.mn, b, sizeof b));
				return -1;
			}
			rp.mn = mn;
		}
		if (rp.nev == RP_MAX_EVENTS) {
			fprintf(stderr, "replay_peer: %s: more than %d messages to replay\n", rp.capture,
			    RP_MAX_EVENTS);
			return -1;
		}
		e = &rp.ev[rp.nev++];
		e->rec = r.index;
		e->dir = dir;
		e->chan = chan;
		e->type = rp.ma->type;
		e->pdu = r.pdu;
		e->len = rp.ma->length;
	}
	if (rc < 0) {
		fprintf(stderr, "replay_peer: %s: offset %zu: %s\n", rp.capture, err.off, err.what);
		return -1;
	}
	if (rp.nev == 0) {
		fprintf(stderr, "replay_peer: %s: no message between %s and %s to replay\n",
		    rp.capture, rp.sut_name, rp.self_name);
		return -1;
	}
	return 0;
}

/* ---- allowed differences ----------------------------------------------------- */

static int
rp_load_allow(const char *path)
{
	uint8_t *text;
	size_t len, lineno = 0;
	char *line, *save = NULL;
	int rc;

	if ((rc = ctp_read_file(path, 64 * 1024, &text, &len)) < 0) {
		fprintf(stderr, "replay_peer: %s: %s\n", path, ctp_strerror(rc));
		return -1;
	}
	for (line = strtok_r((char *)text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = line, *pat, *reason;
		struct rp_allow *a;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == 0)
			continue;
		pat = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		reason = p;
		if (!*reason || strlen(pat) >= sizeof a->pattern || rp.nallow == RP_MAX_ALLOW) {
			fprintf(stderr, "replay_peer: %s: line %zu: want \"PATH-GLOB REASON\" "
			    "(at most %d lines, patterns under %zu characters)\n", path, lineno,
			    RP_MAX_ALLOW, sizeof a->pattern);
			free(text);
			return -1;
		}
		a = &rp.allow[rp.nallow++];
		snprintf(a->pattern, sizeof a->pattern, "%s", pat);
		snprintf(a->reason, sizeof a->reason, "%s", reason);
	}
	free(text);
	return 0;
}

static struct rp_allow *
rp_allowed(const char *path)
{
	for (size_t i = 0; i < rp.nallow; i++)
		if (fnmatch(rp.allow[i].pattern, path, 0) == 0)
			return &rp.allow[i];
	return NULL;
}

/* ---- comparing two messages -------------------------------------------------- */

static void
rp_scalar(const struct ctp_val *v, char *buf, size_t len)
{
	char *s;

	if (!v) {
		snprintf(buf, len, "(absent)");
		return;
	}
	switch (v->kind) {
	case CTP_V_INT:
		snprintf(buf, len, "%s%" PRIu64, v->neg ? "-" : "", v->u);
		return;
	case CTP_V_STR:
		snprintf(buf, len, "\"%s\"", v->s);
		return;
	default:
		if ((s = ctp_json_string(v, 0)) != NULL) {
			snprintf(buf, len, "%s", s);
			free(s);
		} else
			snprintf(buf, len, "(unprintable)");
	}
}

#define RP_MAX_LINES 48

/* The differences of one message, printed under its verdict. */
struct rp_diffs {
	unsigned bad, allowed, more;
	size_t   nlines;
	char     lines[RP_MAX_LINES][320];
};

/* One line under the verdict; a long one is cut (it is for reading). */
static void
rp_line(struct rp_diffs *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
rp_line(struct rp_diffs *d, const char *fmt, ...)
{
	va_list ap;

	if (d->nlines == RP_MAX_LINES) {
		d->more++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(d->lines[d->nlines++], sizeof d->lines[0], fmt, ap);
	va_end(ap);
}

static void
rp_report(struct rp_diffs *d, const char *path, const struct ctp_val *want,
    const struct ctp_val *got)
{
	struct rp_allow *a = rp_allowed(path);
	char w[120], g[120];

	rp_scalar(want, w, sizeof w);
	rp_scalar(got, g, sizeof g);
	if (a) {
		a->hits++;
		d->allowed++;
	} else
		d->bad++;
	if (a)
		rp_line(d, "allowed: %s: recorded %s, replayed %s (%s)", path, w, g, a->reason);
	else
		rp_line(d, "%s: recorded %s, replayed %s", path, w, g);
}

/* An array element's name in paths: its index, and the CDB's feature or
 * the TLV's name (with "#k" for the k-th of a repeated TLV). */
static void
rp_label(const struct ctp_val *arr, size_t i, char *buf, size_t len)
{
	const struct ctp_val *e = arr->items[i];
	const char *name = NULL;
	unsigned k = 1;

	if (e->kind == CTP_V_OBJ && ctp_val_get_str(e, "tlv", &name, NULL) == 0) {
		for (size_t j = 0; j < i; j++) {
			const char *other;

			if (arr->items[j]->kind == CTP_V_OBJ &&
			    ctp_val_get_str(arr->items[j], "tlv", &other, NULL) == 0 &&
			    strcmp(other, name) == 0)
				k++;
		}
		if (k > 1)
			snprintf(buf, len, "%s#%u", name, k);
		else
			snprintf(buf, len, "%s", name);
		return;
	}
	if (e->kind == CTP_V_OBJ && ctp_val_get_str(e, "feature", &name, NULL) == 0)
		snprintf(buf, len, "%zu:%s", i, name);
	else
		snprintf(buf, len, "%zu", i);
}

static const struct ctp_val *
rp_find_label(const struct ctp_val *arr, const char *label)
{
	char l[96];

	for (size_t i = 0; i < arr->n; i++) {
		rp_label(arr, i, l, sizeof l);
		if (strcmp(l, label) == 0)
			return arr->items[i];
	}
	return NULL;
}

static void
rp_join(char *out, size_t len, const char *path, const char *key)
{
	snprintf(out, len, "%s%s%s", path, path[0] ? "." : "", key);
}

static void
rp_diff(struct rp_diffs *d, const char *path, const struct ctp_val *want,
    const struct ctp_val *got)
{
	char sub[RP_PATH_MAX], label[96];

	if (!want || !got || want->kind != got->kind) {
		rp_report(d, path, want, got);
		return;
	}
	switch (want->kind) {
	case CTP_V_NULL:
		return;
	case CTP_V_BOOL:
	case CTP_V_INT:
		if (want->u != got->u || want->neg != got->neg)
			rp_report(d, path, want, got);
		return;
	case CTP_V_STR:
		if (want->slen != got->slen || memcmp(want->s, got->s, want->slen) != 0)
			rp_report(d, path, want, got);
		return;
	case CTP_V_OBJ:
		for (size_t i = 0; i < want->n; i++) {
			rp_join(sub, sizeof sub, path, want->members[i].key);
			rp_diff(d, sub, want->members[i].val, ctp_val_get(got, want->members[i].key));
		}
		for (size_t i = 0; i < got->n; i++)
			if (!ctp_val_get(want, got->members[i].key)) {
				rp_join(sub, sizeof sub, path, got->members[i].key);
				rp_report(d, sub, NULL, got->members[i].val);
			}
		return;
	case CTP_V_ARR:
		/* paired by label: one missing TLV is one difference, not a cascade */
		for (size_t i = 0; i < want->n; i++) {
			rp_label(want, i, label, sizeof label);
			rp_join(sub, sizeof sub, path, label);
			rp_diff(d, sub, want->items[i], rp_find_label(got, label));
		}
		for (size_t i = 0; i < got->n; i++) {
			rp_label(got, i, label, sizeof label);
			if (!rp_find_label(want, label)) {
				rp_join(sub, sizeof sub, path, label);
				rp_report(d, sub, NULL, got->items[i]);
			}
		}
		return;
	}
}

/* Compare what came with the record; prints the verdict and the
 * differences under it.  1 when it matches. */
static int
rp_compare(const struct rp_event *e, const uint8_t *buf, size_t len)
{
	struct ctp_val *want = NULL, *got = NULL;
	struct ctp_err err = { 0 };
	struct rp_diffs *d = calloc(1, sizeof *d);
	char head[200];
	unsigned opts = e->chan == RP_MN ? CTP_DEC_ICMP : 0;
	int same = 0;

	rp_event_head(e, head, sizeof head);
	if (!d) {
		rp_out("%s out of memory comparing", head);
		return 0;
	}
	if (ctp_msg_decode(rp.ma, e->pdu, e->len, opts, &err) < 0 ||
	    ctp_msg_describe(rp.ma, rp.reg, &want, &err) < 0) {
		rp_out("%s the recording does not describe: %s", head, err.what);
		goto out;
	}
	ctp_err_clear(&err);
	if (ctp_msg_decode(rp.mb, buf, len, opts, &err) < 0 ||
	    ctp_msg_describe(rp.mb, rp.reg, &got, &err) < 0) {
		rp_out("%s DIFFERENT: the answer does not decode: offset %zu: %s", head, err.off,
		    err.what);
		goto out;
	}
	rp_diff(d, "", want, got);
	/* no field differs, yet the octets do: describe missed something */
	if (d->bad == 0 && d->allowed == 0 &&
	    (rp.mb->length != e->len || memcmp(buf, e->pdu, e->len) != 0)) {
		rp_line(d, "the octets differ where no field does");
		d->bad++;
	}
	same = d->bad == 0;
	if (!same)
		rp_out("%s DIFFERENT (%u difference%s):", head, d->bad, d->bad == 1 ? "" : "s");
	else
		rp_out("%s same%s", head, d->allowed ? ", but for what may differ:" : "");
	for (size_t i = 0; i < d->nlines; i++)
		rp_out("          %s", d->lines[i]);
	if (d->more)
		rp_out("          and %u more", d->more);
out:
	ctp_val_free(want);
	ctp_val_free(got);
	free(d);
	return same;
}

/* ---- talking to the SUT ------------------------------------------------------- */

static int
rp_ctl(const char *json, struct ctp_val **reply, struct ctp_err *err)
{
	struct ctp_val *req = NULL;
	int rc;

	if ((rc = ctp_json_parse(json, strlen(json), &req, err)) < 0)
		return rc;
	rc = ctp_ctl_call(rp.ctl, req, 2000, reply, err);
	ctp_val_free(req);
	return rc;
}

/* 1 when the SUT's counters show every message we sent, 0 not yet, -1 error. */
static int
rp_barrier_done(void)
{
	struct ctp_val *reply = NULL;
	struct ctp_err err = { 0 };
	const struct ctp_val *in;
	int done = 1;

	if (rp_ctl("{\"cmd\": \"stats\"}", &reply, &err) < 0) {
		rp_out("the SUT's control socket %s: %s", rp.ctl, err.what);
		ctp_val_free(reply);
		return -1;
	}
	in = ctp_val_get(reply, "messages_in");
	for (unsigned t = 1; t <= CTP_MSG_MAX && done; t++) {
		uint64_t n = 0;

		if (rp.sent_type[t] && (ctp_val_get_u64(in, ctp_msg_name(t), UINT64_MAX, &n,
		    &err) < 0 || n < rp.sent_type[t]))
			done = 0;
	}
	ctp_val_free(reply);
	return done;
}

static int
rp_send(struct rp_event *e)
{
	struct sockaddr_storage to;
	char head[200];
	int rc;

	rp_event_head(e, head, sizeof head);
	if (e->chan == RP_PEER) {
		unsigned flags = e->type == CTP_MSG_PCTD || e->type == CTP_MSG_CTD ? CTP_CHAN_KEYS : 0;

		rc = ctp_node_send(rp.peer, e->pdu, e->len, flags);
	} else {
		memset(&to, 0, sizeof to);
		if (rp.sut.family == 4) {
			struct sockaddr_in *s = (struct sockaddr_in *)&to;

			s->sin_family = AF_INET;
			s->sin_port = htons(rp.mn_port);
			memcpy(&s->sin_addr, rp.sut.a, 4);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&to;

			s->sin6_family = AF_INET6;
			s->sin6_port = htons(rp.mn_port);
			memcpy(&s->sin6_addr, rp.sut.a, 16);
		}
		rc = ctp_mnio_send(rp.mnio, (struct sockaddr *)&to, CTP_MNIO_UDP, e->pdu, e->len);
	}
	if (rc < 0) {
		rp_out("%s not sent: %s", head, ctp_strerror(rc));
		return -1;
	}
	rp.sent_type[e->type]++;
	rp.sent++;
	e->done = 1;
	rp_out("%s sent", head);
	return 0;
}

/* ---- the walk through the records ------------------------------------------- */

/* The consecutive answers from rp.cur on: [rp.cur, *end). */
static size_t
rp_run_end(void)
{
	size_t j = rp.cur;

	while (j < rp.nev && rp.ev[j].dir == RP_OUT)
		j++;
	return j;
}

static void
rp_drop_queued(size_t i)
{
	free(rp.q[i].buf);
	memmove(&rp.q[i], &rp.q[i + 1], (rp.nq - i - 1) * sizeof rp.q[0]);
	rp.nq--;
}

static void
rp_unexpected(const struct rp_msg *m)
{
	char a[CTP_ADDRSTRLEN];

	rp.unexpected++;
	rp_out("  unexpected: %s -> %s %s (%zu octets), not in the recording here", rp.sut_name,
	    rp_chan_name(m->chan), ctp_msg_name(m->buf[0] & 0x1f), m->len);
	if (m->chan == RP_MN)
		rp_out("          (to the MN at %s)", ctp_addr_fmt(&rp.mn, a, sizeof a));
}

/* Match queued messages to the answers of the current run; 1 when all came. */
static int
rp_match(size_t end)
{
	while (rp.nq > 0) {
		struct rp_msg *m = &rp.q[0];
		size_t k;

		for (k = rp.cur; k < end; k++)
			if (!rp.ev[k].done && rp.ev[k].chan == m->chan)
				break;
		if (k == end) {
			rp_unexpected(m);
			rp_drop_queued(0);
			rp_finish(1);
			return 0;
		}
		rp.ev[k].done = 1;
		if (rp_compare(&rp.ev[k], m->buf, m->len))
			rp.same++;
		else
			rp.different++;
		rp_drop_queued(0);
	}
	for (size_t k = rp.cur; k < end; k++)
		if (!rp.ev[k].done)
			return 0;
	return 1;
}

static void rp_timer_cb(uv_timer_t *t);

static void
rp_step(void)
{
	while (rp.state == RP_RUNNING && rp.cur < rp.nev) {
		struct rp_event *e = &rp.ev[rp.cur];
		size_t end;

		if (e->dir == RP_IN) {
			/* the recording has the SUT silent until this record */
			if (rp.nq > 0) {
				while (rp.nq > 0) {
					rp_unexpected(&rp.q[0]);
					rp_drop_queued(0);
				}
				rp_finish(1);
				return;
			}
			if (rp_send(e) < 0) {
				rp_finish(1);
				return;
			}
			rp.cur++;
			if (rp.ctl && rp.cur < rp.nev) {
				rp.state = RP_BARRIER;
				rp.phase_ms = uv_now(&rp.loop);
				uv_timer_start(&rp.timer, rp_timer_cb, 0, RP_POLL_MS);
				return;
			}
			continue;
		}
		end = rp_run_end();
		if (!rp_match(end)) {
			if (rp.state != RP_RUNNING)
				return;   /* finished on an unexpected message */
			rp.state = RP_WAITING;
			rp.phase_ms = uv_now(&rp.loop);
			uv_timer_start(&rp.timer, rp_timer_cb, rp.wait_ms, 0);
			return;
		}
		rp.cur = end;
	}
	if (rp.state == RP_RUNNING) {
		rp.state = RP_SETTLING;
		uv_timer_start(&rp.timer, rp_timer_cb, rp.settle_ms, 0);
	}
}

static void
rp_timer_cb(uv_timer_t *t)
{
	char head[200];
	int rc;

	switch (rp.state) {
	case RP_BARRIER:
		if ((rc = rp_barrier_done()) < 0) {
			rp_finish(2);
			return;
		}
		if (rc == 0 && uv_now(&rp.loop) - rp.phase_ms < rp.wait_ms)
			return;   /* poll again */
		uv_timer_stop(t);
		if (rc == 0) {
			rp_event_head(&rp.ev[rp.cur - 1], head, sizeof head);
			rp_out("%s the SUT's counters do not show it after %u ms", head, rp.wait_ms);
			rp_finish(1);
			return;
		}
		rp.state = RP_RUNNING;
		rp_step();
		return;
	case RP_WAITING:
		for (size_t k = rp.cur; k < rp_run_end(); k++)
			if (!rp.ev[k].done) {
				rp_event_head(&rp.ev[k], head, sizeof head);
				rp_out("%s MISSING: nothing came within %u ms", head, rp.wait_ms);
				rp.missing++;
			}
		rp_finish(1);
		return;
	case RP_SETTLING:
		while (rp.nq > 0) {
			rp_unexpected(&rp.q[0]);
			rp_drop_queued(0);
		}
		rp_finish(rp.different || rp.unexpected ? 1 : 0);
		return;
	default:
		return;
	}
}

/* A message from the SUT, on either link. */
static void
rp_received(enum rp_chan chan, const uint8_t *buf, size_t len)
{
	struct rp_msg *m;

	if (rp.state == RP_DONE)
		return;
	if (rp.nq == RP_MAX_QUEUE) {
		rp_out("more than %d messages from the SUT not matched: giving up", RP_MAX_QUEUE);
		rp_finish(1);
		return;
	}
	m = &rp.q[rp.nq];
	if ((m->buf = malloc(len)) == NULL) {
		rp_finish(2);
		return;
	}
	memcpy(m->buf, buf, len);
	m->len = len;
	m->chan = chan;
	rp.nq++;
	if (rp.state == RP_WAITING) {
		size_t end = rp_run_end();

		if (rp_match(end)) {
			uv_timer_stop(&rp.timer);
			rp.cur = end;
			rp.state = RP_RUNNING;
			rp_step();
		}
	} else if (rp.state == RP_SETTLING) {
		rp_unexpected(m);
		rp_drop_queued(rp.nq - 1);
		rp_finish(1);
	}
}

static void
rp_peer_msg(struct ctp_peer *p, const struct ctp_msg *m, const uint8_t *raw, size_t len,
    void *ud)
{
	(void)p, (void)m, (void)ud;
	rp_received(RP_PEER, raw, len);
}

static void
rp_mn_input(void *ud, const struct sockaddr *from, enum ctp_mnio_carrier carrier,
    const uint8_t *msg, size_t len)
{
	struct ctp_err err = { 0 };

	(void)ud, (void)from, (void)carrier;
	/* the UDP encoding carries the message alone, but its Length rules */
	if (ctp_msg_decode(rp.mb, msg, len, CTP_DEC_ICMP, &err) < 0) {
		rp_out("  unexpected: a malformed message on the MN's link: %s", err.what);
		rp.unexpected++;
		rp_finish(1);
		return;
	}
	rp_received(RP_MN, msg, rp.mb->length);
}

/*
 * The association is up: the calls, then the records.  Not from inside the
 * callback: the channel calls it while it is still reading the TLS
 * connection, and a TLS write there makes that read misjudge its own
 * result (the ready callback's SSL_write resets what SSL_get_error looks
 * at), so the first record goes out on the next turn of the loop.
 */
static void
rp_begin(uv_timer_t *t)
{
	(void)t;
	if (rp.state != RP_CONNECTING)
		return;
	rp_out("association with %s up (%s); %zu calls, then %zu records", rp.sut_name,
	    ctp_chan_cipher(rp.peer->chan), rp.ncalls, rp.nev);
	for (size_t i = 0; i < rp.ncalls; i++) {
		struct ctp_val *reply = NULL;
		struct ctp_err err = { 0 };

		if (rp_ctl(rp.calls[i], &reply, &err) < 0) {
			rp_out("call %s: %s", rp.calls[i], err.what);
			ctp_val_free(reply);
			rp_finish(2);
			return;
		}
		rp_out("  call %s: done", rp.calls[i]);
		ctp_val_free(reply);
	}
	rp.state = RP_RUNNING;
	rp_step();
}

static void
rp_peer_up(struct ctp_peer *p, void *ud)
{
	(void)ud;
	if (rp.state != RP_CONNECTING || rp.peer)
		return;
	rp.peer = p;
	uv_timer_start(&rp.timer, rp_begin, 0, 0);
}

static void
rp_peer_down(struct ctp_peer *p, void *ud)
{
	(void)p, (void)ud;
	if (rp.state == RP_DONE || rp.state == RP_CONNECTING)
		return;
	rp_out("the association with %s went down before the end", rp.sut_name);
	rp_finish(1);
}

static void
rp_deadline_cb(uv_timer_t *t)
{
	(void)t;
	if (rp.state == RP_CONNECTING) {
		rp_out("no association with %s within %u ms", rp.sut_name, rp.deadline_ms);
		rp_finish(2);
	} else {
		rp_out("the replay did not end within %u ms", rp.deadline_ms);
		rp_finish(1);
	}
}

/* ---- start and end ----------------------------------------------------------- */

static void
rp_handle_closed(uv_handle_t *h)
{
	(void)h;
}

static void
rp_node_stopped(void *arg)
{
	(void)arg;
	rp.node = NULL;
	uv_close((uv_handle_t *)&rp.timer, rp_handle_closed);
	uv_close((uv_handle_t *)&rp.deadline, rp_handle_closed);
	uv_close((uv_handle_t *)&rp.sigint, rp_handle_closed);
	uv_close((uv_handle_t *)&rp.sigterm, rp_handle_closed);
}

static void
rp_finish(int code)
{
	if (rp.state == RP_DONE)
		return;
	rp.state = RP_DONE;
	rp.exit_code = code;
	uv_timer_stop(&rp.timer);
	uv_timer_stop(&rp.deadline);
	for (size_t i = rp.cur; i < rp.nev; i++)
		if (!rp.ev[i].done && code != 2) {
			char head[200];

			rp_event_head(&rp.ev[i], head, sizeof head);
			rp_out("%s not reached", head);
		}
	rp_out("%s: %zu messages of %zu records: %u sent, %u answers as recorded, %u different, "
	    "%u missing, %u unexpected", rp.capture, rp.nev, rp.nrec, rp.sent, rp.same,
	    rp.different, rp.missing, rp.unexpected);
	for (size_t i = 0; i < rp.nallow; i++)
		if (rp.allow[i].hits)
			rp_out("allowed to differ %u time%s: %s (%s)", rp.allow[i].hits,
			    rp.allow[i].hits == 1 ? "" : "s", rp.allow[i].pattern, rp.allow[i].reason);
	rp_out("%s", code == 0 ? "PASS: the SUT answered as recorded" :
	    code == 1 ? "FAIL: the SUT did not answer as recorded" : "ERROR: the replay could not run");
	while (rp.nq > 0)
		rp_drop_queued(0);
	if (rp.mnio) {
		ctp_mnio_close(rp.mnio);
		rp.mnio = NULL;
	}
	if (rp.node)
		ctp_node_stop(rp.node, rp_node_stopped, NULL);
	else
		rp_node_stopped(NULL);
}

static void
rp_signal(uv_signal_t *s, int sig)
{
	(void)s;
	rp_out("signal %d: stopping", sig);
	rp_finish(2);
}

static void
rp_print_conf_error(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "replay_peer: %s\n", line);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: replay_peer --conf FILE --capture FILE --plugins DIR [--mn-port PORT]\n"
	    "                   [--ctl SOCKET] [--call JSON]... [--allow FILE]\n"
	    "                   [--wait-ms N] [--settle-ms N] [--deadline-ms N]\n");
	exit(2);
}

static unsigned
rp_number(const char *opt, const char *s, unsigned max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > max) {
		fprintf(stderr, "replay_peer: %s: want a number up to %u, not \"%s\"\n", opt, max, s);
		exit(2);
	}
	return (unsigned)v;
}

/* The node we play, its one peer (the SUT), and the MN's link. */
static int
rp_start(const char *conf_path, const char *plugins)
{
	struct ctp_conf *conf = NULL;
	struct ctp_node_handler h = {
		.peer_msg = rp_peer_msg,
		.peer_up = rp_peer_up,
		.peer_down = rp_peer_down,
	};
	struct ctp_err err = { 0 };
	char a[CTP_ADDRSTRLEN], b[CTP_ADDRSTRLEN];

	if (ctp_conf_load(conf_path, rp_print_conf_error, NULL, &conf, &err) < 0)
		return -1;
	if (conf->npeers != 1 || conf->naddrs < 1) {
		fprintf(stderr, "replay_peer: %s: the node played needs an address and exactly one "
		    "peer, the node under test (it has %zu peers)\n", conf_path, conf->npeers);
		ctp_conf_free(conf);
		return -1;
	}
	snprintf(rp.self_name, sizeof rp.self_name, "%s", conf->node_name);
	snprintf(rp.sut_name, sizeof rp.sut_name, "%s", conf->peers[0].name);
	rp.self = conf->addrs[0];
	if (conf->peers[0].addr.ss_family == AF_INET)
		ctp_addr_set(&rp.sut, 4, (const uint8_t *)&((struct sockaddr_in *)
		    &conf->peers[0].addr)->sin_addr);
	else
		ctp_addr_set(&rp.sut, 6, ((struct sockaddr_in6 *)&conf->peers[0].addr)->sin6_addr.s6_addr);
	/* no control socket of our own: the default path may be a daemon's */
	free(conf->control);
	conf->control = NULL;

	if ((rp.reg = ctp_registry_new(&rp_host_ops, NULL)) == NULL ||
	    ctp_registry_load_dir(rp.reg, plugins, &err) < 0) {
		fprintf(stderr, "replay_peer: plugins %s: %s\n", plugins, err.what);
		ctp_conf_free(conf);
		return -1;
	}
	if (rp_load_capture() < 0) {
		ctp_conf_free(conf);
		return -1;
	}
	rp_out("%s: playing %s (%s)%s against %s (%s): %zu messages to replay", rp.capture,
	    rp.self_name, ctp_addr_fmt(&rp.self, a, sizeof a), rp.mn.family ? " and the MN" : "",
	    rp.sut_name, ctp_addr_fmt(&rp.sut, b, sizeof b), rp.nev);

	if (ctp_node_new(&rp.loop, conf, &rp.node, &err) < 0) {   /* owns conf now */
		fprintf(stderr, "replay_peer: %s: %s\n", conf_path, err.what);
		return -1;
	}
	ctp_node_set_handler(rp.node, &h, NULL);
	if (ctp_node_start(rp.node, &err) < 0) {
		fprintf(stderr, "replay_peer: cannot start %s: %s\n", rp.self_name, err.what);
		return -1;
	}
	if (rp.mn.family) {
		struct ctp_mnio_cfg mc = { .udp_ephemeral = 1 };

		if (rp.mn.family == 4) {
			struct sockaddr_in *s = (struct sockaddr_in *)&mc.bind;

			s->sin_family = AF_INET;
			memcpy(&s->sin_addr, rp.mn.a, 4);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&mc.bind;

			s->sin6_family = AF_INET6;
			memcpy(&s->sin6_addr, rp.mn.a, 16);
		}
		if (ctp_mnio_open(&rp.loop, &mc, rp_mn_input, NULL, &rp.mnio, &err) < 0) {
			fprintf(stderr, "replay_peer: the MN's link at %s: %s\n",
			    ctp_addr_fmt(&rp.mn, a, sizeof a), err.what);
			return -1;
		}
		rp_out("the MN is at %s (UDP to %s port %u)", ctp_addr_fmt(&rp.mn, a, sizeof a),
		    ctp_addr_fmt(&rp.sut, b, sizeof b), rp.mn_port);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "conf", required_argument, NULL, 'c' },
		{ "capture", required_argument, NULL, 'r' },
		{ "plugins", required_argument, NULL, 'P' },
		{ "mn-port", required_argument, NULL, 'm' },
		{ "ctl", required_argument, NULL, 's' },
		{ "call", required_argument, NULL, 'C' },
		{ "allow", required_argument, NULL, 'a' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "settle-ms", required_argument, NULL, 'S' },
		{ "deadline-ms", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf = NULL, *plugins = NULL, *allow = NULL;
	int c, rc;

	rp.wait_ms = 5000;
	rp.settle_ms = 500;
	rp.deadline_ms = 30000;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'r': rp.capture = optarg; break;
		case 'P': plugins = optarg; break;
		case 'm': rp.mn_port = (uint16_t)rp_number("--mn-port", optarg, 65535); break;
		case 's': rp.ctl = optarg; break;
		case 'C':
			if (rp.ncalls == RP_MAX_CALLS) {
				fprintf(stderr, "replay_peer: at most %d --call\n", RP_MAX_CALLS);
				return 2;
			}
			rp.calls[rp.ncalls++] = optarg;
			break;
		case 'a': allow = optarg; break;
		case 'w': rp.wait_ms = rp_number("--wait-ms", optarg, 600000); break;
		case 'S': rp.settle_ms = rp_number("--settle-ms", optarg, 600000); break;
		case 'd': rp.deadline_ms = rp_number("--deadline-ms", optarg, 3600000); break;
		default: usage();
		}
	}
	if (!conf || !rp.capture || !plugins || optind != argc || (rp.ncalls && !rp.ctl))
		usage();
	ctp_log_open("replay_peer", CTP_LOG_STDERR, getenv("REPLAY_DEBUG") ? CTP_LOG_DEBUG :
	    CTP_LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	if ((rp.ma = malloc(sizeof *rp.ma)) == NULL || (rp.mb = malloc(sizeof *rp.mb)) == NULL)
		return 2;
	if (allow && rp_load_allow(allow) < 0)
		return 2;
	uv_loop_init(&rp.loop);
	uv_timer_init(&rp.loop, &rp.timer);
	uv_timer_init(&rp.loop, &rp.deadline);
	uv_signal_init(&rp.loop, &rp.sigint);
	uv_signal_init(&rp.loop, &rp.sigterm);
	uv_signal_start(&rp.sigint, rp_signal, SIGINT);
	uv_signal_start(&rp.sigterm, rp_signal, SIGTERM);
	rp.state = RP_CONNECTING;
	if (rp_start(conf, plugins) < 0) {
		rp.state = RP_DONE;
		rp.exit_code = 2;
		if (rp.node)
			ctp_node_stop(rp.node, rp_node_stopped, NULL);
		else
			rp_node_stopped(NULL);
	} else
		uv_timer_start(&rp.deadline, rp_deadline_cb, rp.deadline_ms, 0);
	uv_run(&rp.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&rp.loop);
	if (rc != 0)
		fprintf(stderr, "replay_peer: the loop did not close: %s\n", uv_strerror(rc));
	ctp_registry_free(rp.reg);
	free(rp.file);
	free(rp.ma);
	free(rp.mb);
	return rp.exit_code;
}
