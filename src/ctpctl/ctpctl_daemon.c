/*
 * ctpctl_daemon.c: the commands that ask a running ctpd over its control
 * socket (ctp_ctl.h): status, peers, transfers, stats, plugins, and call
 * for any other command.
 *
 *   ctpctl [-s SOCKET] status | peers | transfers | stats | plugins [--json]
 *   ctpctl [-s SOCKET] call CMD [JSON-ARGS]
 *
 * The socket is -s SOCKET (before or after the command), else $CTPD_SOCKET,
 * else /run/ctpd.sock.  Exit status: 0 answered, 1 the daemon answered with
 * an error (printed on standard error), 2 usage, 3 no usable answer (no
 * daemon at the socket, permission denied, timeout, a malformed reply).
 *
 * ---- THE PROTOCOL CONTRACT ---------------------------------------------------
 *
 * What ctpd answers to each command; ctpd follows it exactly, ctpctl relies
 * on it.  Framing (ctp_ctl.h): one JSON object per line each way.
 *
 *   request:  {"cmd": NAME}            (call adds the members of JSON-ARGS)
 *   reply:    {"ok": true, MEMBERS...} or {"ok": false, "error": "one line"}
 *
 * Types: str is a JSON string, "" when there is nothing to say (the cipher of
 * a peer without a session, a last_error that never happened); n is a
 * non-negative JSON integer; bool is true or false.  Every *_ms is a
 * duration in milliseconds, except started_ms, a wall-clock time in
 * milliseconds since 1970-01-01 UTC.  Members come in the order given.  A
 * reader ignores members it does not know, so ctpd may add some; it never
 * removes or retypes one without a new command name.
 *
 * status
 *   {"node": str,              this node's name (ctpd.conf)
 *    "version": str,            ctpd's version
 *    "roles": [str],            the node's roles as ctpd.conf names them
 *    "uptime_ms": n,            since ctpd started
 *    "backend": str,            the SCTP transport in use (e.g. "kernel",
 *                               "usrsctp")
 *    "backend_reason": str,     why that one (e.g. why not the kernel's)
 *    "peers": n,                configured peers
 *    "peers_up": n,             of those, in state "up"
 *    "transfers_live": n,       transfers not yet finished
 *    "plugins": [str]}          names of the loaded feature plugins
 *
 * peers
 *   {"peers": [{
 *     "name": str, "address": str, "port": n,
 *     "roles": [str],
 *     "security": "tls" | "ipsec" | "none",
 *     "state": "down" | "connecting" | "handshake" | "up",
 *     "authenticated": bool,      the peer proved its identity
 *     "cipher": str,              e.g. "TLS_AES_256_GCM_SHA384"
 *     "since_ms": n,              how long the peer has been in this state
 *     "msgs_in": n, "msgs_out": n, "bytes_in": n, "bytes_out": n,
 *     "rejections": n,            its messages ctpd refused
 *     "last_error": str}]}
 *
 * transfers
 *   {"transfers": [{
 *     "id": str,
 *     "mn": str,                  the mobile node's previous address
 *     "role": str,                this node's part: "par" or "nar"
 *     "mode": str,                "reactive" or "predictive"
 *     "state": str,               the transfer's state machine state
 *     "peer": str,                the peer's name
 *     "started_ms": n,            wall clock (see above)
 *     "elapsed_ms": n,            so far, or in all once finished
 *     "outcome": str,             "" while live, else e.g. "committed"
 *     "steps": [{"state": str, "at_ms": n}]}]}   at_ms: since started
 *
 * stats
 *   {"messages_in": {TYPE: n, ...},    TYPE as `ctpctl decode` names it:
 *    "messages_out": {TYPE: n, ...},   CTAR, CTAA, CTD, PCTD, CTDR, CTC,
 *                                      CTREQ, CTN, CTNA
 *    "bytes_in": n, "bytes_out": n,
 *    "handshakes": n, "handshake_failures": n,
 *    "rejections": {REASON: n, ...},   REASON: a short snake_case word
 *    "transfers": {"committed": n, "aborted": n, "timed_out": n, "refused": n},
 *    "decode_errors": n}
 *
 * plugins
 *   {"plugins": [{"name": str, "version": str, "fpts": [n], "path": str}]}
 *
 * ---------------------------------------------------------------------------
 *
 * With --json a command prints the reply minus "ok", pretty, ending in a
 * newline; without it, a table.  The tables print "-" for what a reply
 * lacks rather than fail, so a daemon a version ahead still shows.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctp/ctp_ctl.h"
#include "ctp/ctp_val.h"
#include "ctpctl.h"

#define CTPCTL_SOCKET_DEFAULT "/run/ctpd.sock"
#define CTPCTL_TIMEOUT_MS     5000


const char *ctpctl_socket;

int
ctpctl_socket_option(int *argc, char ***argv)
{
	char **av = *argv;
	int n = 1;

	while (n < *argc) {
		const char *a = av[n];

		if (strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) {
			if (n + 1 >= *argc || av[n + 1][0] == 0) {
				fprintf(stderr, "ctpctl: %s needs the control socket's path\n", a);
				return -1;
			}
			ctpctl_socket = av[n + 1];
			n += 2;
		} else if (strncmp(a, "--socket=", 9) == 0 && a[9]) {
			ctpctl_socket = a + 9;
			n++;
		} else if (strncmp(a, "-s", 2) == 0 && a[2]) {
			ctpctl_socket = a + 2;
			n++;
		} else
			break;
	}
	/* the program name moves up to stand before the command */
	av[n - 1] = av[0];
	*argv = av + n - 1;
	*argc -= n - 1;
	return 0;
}

static const char *
ctpctl_socket_path(void)
{
	const char *env = getenv("CTPD_SOCKET");

	if (ctpctl_socket)
		return ctpctl_socket;
	return env && *env ? env : CTPCTL_SOCKET_DEFAULT;
}

/* ---- formatting ------------------------------------------------------------ */

/* A scalar (or a list of them) as one cell; "-" for nothing. */
static const char *
ctpctl_fmt(const struct ctp_val *v, char *buf, size_t len)
{
	size_t off = 0;

	snprintf(buf, len, "-");
	if (!v)
		return buf;
	switch (v->kind) {
	case CTP_V_STR:
		if (v->s && *v->s)
			snprintf(buf, len, "%s", v->s);
		break;
	case CTP_V_INT:
		snprintf(buf, len, "%s%" PRIu64, v->neg ? "-" : "", v->u);
		break;
	case CTP_V_BOOL:
		snprintf(buf, len, "%s", v->u ? "yes" : "no");
		break;
	case CTP_V_ARR:
		for (size_t i = 0; i < v->n && off + 1 < len; i++) {
			char item[128];

			ctpctl_fmt(v->items[i], item, sizeof item);
			off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "", item);
		}
		break;
	case CTP_V_OBJ:
		snprintf(buf, len, "{...}");
		break;
	default:
		break;
	}
	return buf;
}

static const char *
ctpctl_cell(const struct ctp_val *obj, const char *key, char *buf, size_t len)
{
	return ctpctl_fmt(ctp_val_get(obj, key), buf, len);
}

/* 1 with *out when obj.key is a non-negative integer. */
static int
ctpctl_num(const struct ctp_val *obj, const char *key, uint64_t *out)
{
	const struct ctp_val *v = ctp_val_get(obj, key);

	if (!v || v->kind != CTP_V_INT || v->neg)
		return 0;
	*out = v->u;
	return 1;
}

/* A duration the way people read them: 850 ms, 12.5 s, 3m07s, 2h05m, 4d03h. */
static const char *
ctpctl_dur(const struct ctp_val *obj, const char *key, char *buf, size_t len)
{
	uint64_t ms, s;

	if (!ctpctl_num(obj, key, &ms))
		return ctpctl_cell(obj, key, buf, len);
	s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, len, "%" PRIu64 " ms", ms);
	else if (s < 60)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 " s", s, ms % 1000 / 100);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
	return buf;
}

/* A wall-clock time in ms since the epoch, local time; the date only when
 * it is not today. */
static const char *
ctpctl_when(const struct ctp_val *obj, const char *key, char *buf, size_t len)
{
	time_t t, now = time(NULL);
	struct tm tm, today;
	uint64_t ms;

	if (!ctpctl_num(obj, key, &ms))
		return ctpctl_cell(obj, key, buf, len);
	t = (time_t)(ms / 1000);
	localtime_r(&t, &tm);
	localtime_r(&now, &today);
	if (tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday)
		strftime(buf, len, "%H:%M:%S", &tm);
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* "a/b" of two counters. */
static const char *
ctpctl_pair(const struct ctp_val *obj, const char *k1, const char *k2, char *buf, size_t len)
{
	char a[32], b[32];

	snprintf(buf, len, "%s/%s", ctpctl_cell(obj, k1, a, sizeof a),
	    ctpctl_cell(obj, k2, b, sizeof b));
	return buf;
}

/*
 * A table: cells are copied; columns are as wide as their widest cell, two
 * spaces apart; align holds 'l' or 'r' per column.  The last column is not
 * padded, so no line ends in blanks.
 */
struct ctpctl_table {
	size_t       ncol, nrows, cap;
	const char  *align;
	char       **cells;
	int          nomem;
};

static void
ctpctl_table_row(struct ctpctl_table *t, const char *const *row)
{
	if (t->nomem)
		return;
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, ncap * t->ncol * sizeof *nc);

		if (!nc) {
			t->nomem = 1;
			return;
		}
		t->cells = nc;
		t->cap = ncap;
	}
	for (size_t i = 0; i < t->ncol; i++)
		if ((t->cells[t->nrows * t->ncol + i] = strdup(row[i])) == NULL)
			t->nomem = 1;
	t->nrows++;
}

/* Row 0 is the header; extra[i], when not NULL, is printed on a line of
 * its own under data row i. */
static void
ctpctl_table_print(const struct ctpctl_table *t, char *const *extra)
{
	size_t w[16] = { 0 };

	if (t->nomem) {
		fprintf(stderr, "ctpctl: out of memory\n");
		return;
	}
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncol && c < 16; c++) {
			size_t n = strlen(t->cells[r * t->ncol + c]);

			if (n > w[c])
				w[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncol && c < 16; c++) {
			const char *s = t->cells[r * t->ncol + c];
			int last = c + 1 == t->ncol;

			if (t->align[c] == 'r')
				printf("%*s", (int)w[c], s);
			else if (last)
				printf("%s", s);
			else
				printf("%-*s", (int)w[c], s);
			if (!last)
				printf("  ");
		}
		putchar('\n');
		if (extra && r > 0 && extra[r - 1])
			printf("%s\n", extra[r - 1]);
	}
}

static void
ctpctl_table_free(struct ctpctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* The member key as an array, or NULL (with a message) when it is not one. */
static const struct ctp_val *
ctpctl_list(const char *cmd, const struct ctp_val *reply, const char *key)
{
	const struct ctp_val *v = ctp_val_get(reply, key);

	if (!v || v->kind != CTP_V_ARR) {
		fprintf(stderr, "ctpctl %s: the daemon's reply has no \"%s\" list\n", cmd, key);
		return NULL;
	}
	return v;
}

/* ---- the tables ------------------------------------------------------------ */

static int
ctpctl_show_status(const struct ctp_val *r)
{
	char a[256], b[256], c[64];

	printf("node:            %s\n", ctpctl_cell(r, "node", a, sizeof a));
	printf("version:         %s\n", ctpctl_cell(r, "version", a, sizeof a));
	printf("roles:           %s\n", ctpctl_cell(r, "roles", a, sizeof a));
	printf("uptime:          %s\n", ctpctl_dur(r, "uptime_ms", a, sizeof a));
	ctpctl_cell(r, "backend_reason", b, sizeof b);
	printf("backend:         %s%s%s%s\n", ctpctl_cell(r, "backend", a, sizeof a),
	    strcmp(b, "-") ? " (" : "", strcmp(b, "-") ? b : "", strcmp(b, "-") ? ")" : "");
	printf("peers:           %s configured, %s up\n", ctpctl_cell(r, "peers", a, sizeof a),
	    ctpctl_cell(r, "peers_up", c, sizeof c));
	printf("transfers live:  %s\n", ctpctl_cell(r, "transfers_live", a, sizeof a));
	printf("plugins:         %s\n", ctpctl_cell(r, "plugins", a, sizeof a));
	return 0;
}

static int
ctpctl_show_peers(const struct ctp_val *r)
{
	static const char *const head[] = { "NAME", "ADDRESS", "PORT", "ROLES", "SECURITY",
	    "STATE", "AUTH", "CIPHER", "FOR", "MSGS IN/OUT", "BYTES IN/OUT", "REJECTED",
	    "LAST ERROR" };
	const struct ctp_val *list = ctpctl_list("peers", r, "peers");
	struct ctpctl_table t = { .ncol = 13, .align = "llrlllllrrrrl" };
	char cell[13][256];

	if (!list)
		return CTPCTL_EXIT_ERROR;
	if (list->n == 0) {
		printf("no peers\n");
		return 0;
	}
	ctpctl_table_row(&t, head);
	for (size_t i = 0; i < list->n; i++) {
		const struct ctp_val *p = list->items[i];
		const char *row[13];

		row[0] = ctpctl_cell(p, "name", cell[0], sizeof cell[0]);
		row[1] = ctpctl_cell(p, "address", cell[1], sizeof cell[1]);
		row[2] = ctpctl_cell(p, "port", cell[2], sizeof cell[2]);
		row[3] = ctpctl_cell(p, "roles", cell[3], sizeof cell[3]);
		row[4] = ctpctl_cell(p, "security", cell[4], sizeof cell[4]);
		row[5] = ctpctl_cell(p, "state", cell[5], sizeof cell[5]);
		row[6] = ctpctl_cell(p, "authenticated", cell[6], sizeof cell[6]);
		row[7] = ctpctl_cell(p, "cipher", cell[7], sizeof cell[7]);
		row[8] = ctpctl_dur(p, "since_ms", cell[8], sizeof cell[8]);
		row[9] = ctpctl_pair(p, "msgs_in", "msgs_out", cell[9], sizeof cell[9]);
		row[10] = ctpctl_pair(p, "bytes_in", "bytes_out", cell[10], sizeof cell[10]);
		row[11] = ctpctl_cell(p, "rejections", cell[11], sizeof cell[11]);
		row[12] = ctpctl_cell(p, "last_error", cell[12], sizeof cell[12]);
		ctpctl_table_row(&t, row);
	}
	ctpctl_table_print(&t, NULL);
	ctpctl_table_free(&t);
	return t.nomem ? CTPCTL_EXIT_ERROR : 0;
}

/* "steps: a +0 ms, b +12 ms, ..." for the line under a transfer. */
static char *
ctpctl_steps(const struct ctp_val *tr)
{
	const struct ctp_val *steps = ctp_val_get(tr, "steps");
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!steps || steps->kind != CTP_V_ARR || steps->n == 0)
		return NULL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	fprintf(f, "    steps:");
	for (size_t i = 0; i < steps->n; i++) {
		char s[128], at[64];

		fprintf(f, "%s %s +%s", i ? "," : "", ctpctl_cell(steps->items[i], "state", s, sizeof s),
		    ctpctl_dur(steps->items[i], "at_ms", at, sizeof at));
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int
ctpctl_show_transfers(const struct ctp_val *r)
{
	static const char *const head[] = { "ID", "MN", "ROLE", "MODE", "STATE", "PEER",
	    "STARTED", "ELAPSED", "OUTCOME" };
	const struct ctp_val *list = ctpctl_list("transfers", r, "transfers");
	struct ctpctl_table t = { .ncol = 9, .align = "lllllllrl" };
	char cell[9][256], **extra;

	if (!list)
		return CTPCTL_EXIT_ERROR;
	if (list->n == 0) {
		printf("no transfers\n");
		return 0;
	}
	if ((extra = calloc(list->n, sizeof *extra)) == NULL) {
		fprintf(stderr, "ctpctl: out of memory\n");
		return CTPCTL_EXIT_ERROR;
	}
	ctpctl_table_row(&t, head);
	for (size_t i = 0; i < list->n; i++) {
		const struct ctp_val *x = list->items[i];
		const char *row[9];

		row[0] = ctpctl_cell(x, "id", cell[0], sizeof cell[0]);
		row[1] = ctpctl_cell(x, "mn", cell[1], sizeof cell[1]);
		row[2] = ctpctl_cell(x, "role", cell[2], sizeof cell[2]);
		row[3] = ctpctl_cell(x, "mode", cell[3], sizeof cell[3]);
		row[4] = ctpctl_cell(x, "state", cell[4], sizeof cell[4]);
		row[5] = ctpctl_cell(x, "peer", cell[5], sizeof cell[5]);
		row[6] = ctpctl_when(x, "started_ms", cell[6], sizeof cell[6]);
		row[7] = ctpctl_dur(x, "elapsed_ms", cell[7], sizeof cell[7]);
		row[8] = ctpctl_cell(x, "outcome", cell[8], sizeof cell[8]);
		ctpctl_table_row(&t, row);
		extra[i] = ctpctl_steps(x);
	}
	ctpctl_table_print(&t, extra);
	for (size_t i = 0; i < list->n; i++)
		free(extra[i]);
	free(extra);
	ctpctl_table_free(&t);
	return t.nomem ? CTPCTL_EXIT_ERROR : 0;
}

static int
ctpctl_show_stats(const struct ctp_val *r)
{
	static const char *const head[] = { "MESSAGE", "IN", "OUT" };
	const struct ctp_val *in = ctp_val_get(r, "messages_in");
	const struct ctp_val *out = ctp_val_get(r, "messages_out");
	const struct ctp_val *rej = ctp_val_get(r, "rejections");
	const struct ctp_val *tr = ctp_val_get(r, "transfers");
	struct ctpctl_table t = { .ncol = 3, .align = "lrr" };
	char a[64], b[64], c[64], d[64];

	ctpctl_table_row(&t, head);
	/* every type either side counted, in the order the daemon gave them */
	for (int side = 0; side < 2; side++) {
		const struct ctp_val *m = side ? out : in;

		for (size_t i = 0; m && m->kind == CTP_V_OBJ && i < m->n; i++) {
			const char *type = m->members[i].key;
			const char *row[3];

			if (side && in && ctp_val_get(in, type))
				continue;
			/* a type one side does not list was not counted there: 0 */
			row[0] = type;
			row[1] = ctp_val_get(in, type) ? ctpctl_cell(in, type, a, sizeof a) : "0";
			row[2] = ctp_val_get(out, type) ? ctpctl_cell(out, type, b, sizeof b) : "0";
			ctpctl_table_row(&t, row);
		}
	}
	if (t.nrows > 1)
		ctpctl_table_print(&t, NULL);
	else
		printf("no messages\n");
	ctpctl_table_free(&t);
	printf("\n");
	printf("bytes:           %s in, %s out\n", ctpctl_cell(r, "bytes_in", a, sizeof a),
	    ctpctl_cell(r, "bytes_out", b, sizeof b));
	printf("handshakes:      %s, %s failed\n", ctpctl_cell(r, "handshakes", a, sizeof a),
	    ctpctl_cell(r, "handshake_failures", b, sizeof b));
	printf("transfers:       %s committed, %s aborted, %s timed out, %s refused\n",
	    ctpctl_cell(tr, "committed", a, sizeof a), ctpctl_cell(tr, "aborted", b, sizeof b),
	    ctpctl_cell(tr, "timed_out", c, sizeof c), ctpctl_cell(tr, "refused", d, sizeof d));
	printf("decode errors:   %s\n", ctpctl_cell(r, "decode_errors", a, sizeof a));
	if (!rej || rej->kind != CTP_V_OBJ || rej->n == 0) {
		printf("rejections:      none\n");
		return 0;
	}
	printf("rejections:\n");
	for (size_t i = 0; i < rej->n; i++)
		printf("  %-28s %s\n", rej->members[i].key, ctpctl_fmt(rej->members[i].val, a, sizeof a));
	return 0;
}

static int
ctpctl_show_plugins(const struct ctp_val *r)
{
	static const char *const head[] = { "NAME", "VERSION", "FPTS", "PATH" };
	const struct ctp_val *list = ctpctl_list("plugins", r, "plugins");
	struct ctpctl_table t = { .ncol = 4, .align = "llll" };
	char cell[4][512];

	if (!list)
		return CTPCTL_EXIT_ERROR;
	if (list->n == 0) {
		printf("no plugins\n");
		return 0;
	}
	ctpctl_table_row(&t, head);
	for (size_t i = 0; i < list->n; i++) {
		const struct ctp_val *p = list->items[i], *fpts = ctp_val_get(p, "fpts");
		const char *row[4];
		size_t off = 0;

		row[0] = ctpctl_cell(p, "name", cell[0], sizeof cell[0]);
		row[1] = ctpctl_cell(p, "version", cell[1], sizeof cell[1]);
		/* FPTs read best in hex, as RFC 4067 and PROFILE.md write them */
		snprintf(cell[2], sizeof cell[2], "-");
		for (size_t k = 0; fpts && fpts->kind == CTP_V_ARR && k < fpts->n &&
		    off + 8 < sizeof cell[2]; k++) {
			const struct ctp_val *f = fpts->items[k];

			if (f->kind == CTP_V_INT && !f->neg)
				off += (size_t)snprintf(cell[2] + off, sizeof cell[2] - off, "%s0x%04" PRIx64,
				    off ? "," : "", f->u);
		}
		row[2] = cell[2];
		row[3] = ctpctl_cell(p, "path", cell[3], sizeof cell[3]);
		ctpctl_table_row(&t, row);
	}
	ctpctl_table_print(&t, NULL);
	ctpctl_table_free(&t);
	return t.nomem ? CTPCTL_EXIT_ERROR : 0;
}

/* ---- the exchange ---------------------------------------------------------- */

/* Remove obj.key (the module's "ok") for --json. */
static void
ctpctl_drop(struct ctp_val *obj, const char *key)
{
	for (size_t i = 0; obj && obj->kind == CTP_V_OBJ && i < obj->n; i++)
		if (strcmp(obj->members[i].key, key) == 0) {
			free(obj->members[i].key);
			ctp_val_free(obj->members[i].val);
			memmove(&obj->members[i], &obj->members[i + 1],
			    (obj->n - i - 1) * sizeof obj->members[0]);
			obj->n--;
			return;
		}
}

/*
 * Send req (consumed) and return the exit status: *reply is set when the
 * daemon said "ok": true; otherwise the reason is on standard error.
 */
int
ctpctl_ask(const char *cmd, struct ctp_val *req, struct ctp_val **reply)
{
	const char *path = ctpctl_socket_path();
	struct ctp_err err = { 0 };
	const struct ctp_val *ok, *msg;
	struct ctp_val *r = NULL;

	*reply = NULL;
	if (!req) {
		fprintf(stderr, "ctpctl: out of memory\n");
		return CTPCTL_EXIT_ERROR;
	}
	if (ctp_ctl_call(path, req, CTPCTL_TIMEOUT_MS, &r, &err) < 0) {
		ctp_val_free(req);
		fprintf(stderr, "ctpctl: %s\n", err.what);
		return CTPCTL_EXIT_NODAEMON;
	}
	ctp_val_free(req);
	ok = ctp_val_get(r, "ok");
	if (!ok || ok->kind != CTP_V_BOOL || !ok->u) {
		msg = ctp_val_get(r, "error");
		fprintf(stderr, "ctpctl %s: %s\n", cmd, msg && msg->kind == CTP_V_STR ? msg->s :
		    "the daemon refused the request and gave no reason");
		ctp_val_free(r);
		return CTPCTL_EXIT_ERROR;
	}
	*reply = r;
	return CTPCTL_EXIT_OK;
}

int
ctpctl_print_json(const struct ctp_val *v)
{
	if (ctp_json_write(v, stdout, CTP_JSON_PRETTY) < 0) {
		fprintf(stderr, "ctpctl: the reply cannot be printed as JSON\n");
		return CTPCTL_EXIT_ERROR;
	}
	putchar('\n');
	return CTPCTL_EXIT_OK;
}

struct ctp_val *
ctpctl_request(const char *cmd)
{
	struct ctp_val *req = ctp_val_obj();

	if (req && ctp_val_set_str(req, "cmd", cmd) < 0) {
		ctp_val_free(req);
		return NULL;
	}
	return req;
}

/* status, peers, transfers, stats, plugins: argv[0] is the command. */
static int
ctpctl_daemon_cmd(int argc, char **argv, int (*show)(const struct ctp_val *))
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cmd = argv[0];
	struct ctp_val *reply;
	int c, json = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "js:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 's': ctpctl_socket = optarg; break;
		case 'h':
			printf("usage: ctpctl [-s SOCKET] %s [--json]\n", cmd);
			return CTPCTL_EXIT_OK;
		default:
			return CTPCTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ctpctl %s: unexpected argument \"%s\" (usage: ctpctl [-s SOCKET] "
		    "%s [--json])\n", cmd, argv[optind], cmd);
		return CTPCTL_EXIT_USAGE;
	}
	if ((rc = ctpctl_ask(cmd, ctpctl_request(cmd), &reply)) != CTPCTL_EXIT_OK)
		return rc;
	if (json) {
		ctpctl_drop(reply, "ok");
		rc = ctpctl_print_json(reply);
	} else
		rc = show(reply);
	ctp_val_free(reply);
	if (fflush(stdout) != 0 && rc == CTPCTL_EXIT_OK)
		rc = CTPCTL_EXIT_ERROR;
	return rc;
}

int
ctpctl_status(int argc, char **argv)
{
	return ctpctl_daemon_cmd(argc, argv, ctpctl_show_status);
}

int
ctpctl_peers(int argc, char **argv)
{
	return ctpctl_daemon_cmd(argc, argv, ctpctl_show_peers);
}

int
ctpctl_transfers(int argc, char **argv)
{
	return ctpctl_daemon_cmd(argc, argv, ctpctl_show_transfers);
}

int
ctpctl_stats(int argc, char **argv)
{
	return ctpctl_daemon_cmd(argc, argv, ctpctl_show_stats);
}

int
ctpctl_plugins(int argc, char **argv)
{
	return ctpctl_daemon_cmd(argc, argv, ctpctl_show_plugins);
}

/*
 * call CMD [JSON-ARGS]: any command, for debugging.  JSON-ARGS (an object)
 * gives the request's other members; the reply is printed as it came,
 * "ok" included.
 */
int
ctpctl_call(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char use[] = "usage: ctpctl [-s SOCKET] call CMD [JSON-ARGS]\n";
	struct ctp_val *req, *args = NULL, *reply;
	struct ctp_err err = { 0 };
	const char *cmd;
	int c, rc;

	optind = 1;
	/* "+": stop at CMD, so JSON-ARGS is never taken for an option */
	while ((c = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': ctpctl_socket = optarg; break;
		case 'h': fputs(use, stdout); return CTPCTL_EXIT_OK;
		default: return CTPCTL_EXIT_USAGE;
		}
	}
	if (argc - optind < 1 || argc - optind > 2 || !*argv[optind]) {
		fprintf(stderr, "ctpctl call: give a command name, and its arguments as one JSON "
		    "object if it takes any\n%s", use);
		return CTPCTL_EXIT_USAGE;
	}
	cmd = argv[optind];
	if (argc - optind == 2) {
		const char *text = argv[optind + 1];

		if (ctp_json_parse(text, strlen(text), &args, &err) < 0) {
			fprintf(stderr, "ctpctl call: JSON-ARGS: %s\n", err.what);
			return CTPCTL_EXIT_USAGE;
		}
		if (args->kind != CTP_V_OBJ || ctp_val_get(args, "cmd")) {
			fprintf(stderr, "ctpctl call: JSON-ARGS must be an object without \"cmd\", "
			    "e.g. '{\"peer\": \"ar2\"}'\n");
			ctp_val_free(args);
			return CTPCTL_EXIT_USAGE;
		}
	}
	req = ctpctl_request(cmd);
	/* the arguments' members move into the request after "cmd" */
	for (size_t i = 0; req && args && i < args->n; i++) {
		struct ctp_val *v = args->members[i].val;

		args->members[i].val = NULL;
		if (ctp_val_obj_set(req, args->members[i].key, v) < 0) {
			ctp_val_free(req);
			req = NULL;
		}
	}
	ctp_val_free(args);
	if ((rc = ctpctl_ask(cmd, req, &reply)) != CTPCTL_EXIT_OK)
		return rc;
	rc = ctpctl_print_json(reply);
	ctp_val_free(reply);
	if (fflush(stdout) != 0 && rc == CTPCTL_EXIT_OK)
		rc = CTPCTL_EXIT_ERROR;
	return rc;
}
