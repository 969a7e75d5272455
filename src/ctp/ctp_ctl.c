/*
 * ctp_ctl.c: the control socket (ctp_ctl.h), the server on the daemon's
 * libuv loop and the blocking client ctpctl uses.
 *
 * Framing is one JSON object per line each way, so `nc -U` or socat is a
 * usable client too.  A line holds at most CTP_CTL_MAX_REQUEST octets before
 * its newline; a client that sends more is answered with an error and
 * closed, since what follows cannot be told apart from the rest of that
 * line.  A line that is not JSON is only answered: the framing is intact, so
 * the connection stays.  Blank lines are ignored.
 *
 * The socket is created with plain calls (socket, bind, chmod, listen) and
 * only then given to libuv (uv_pipe_open):
 *  - mode 0600 without touching the umask, which is process-wide and so
 *    not ours to change from a library: a UNIX socket refuses connections
 *    until listen(), so chmod between bind and listen leaves no window in
 *    which another user could connect;
 *  - the failures that can happen (a live daemon, permissions, a path
 *    too long) are known before a handle exists, so such a failed
 *    ctp_ctl_open leaves nothing for the loop to close (only uv_pipe_open
 *    or uv_listen failing would, and that handle closes on the next turn);
 *  - libuv does not record the path, so only ctp_ctl_close unlinks it.
 * A socket file already at the path is probed first: if something accepts
 * the connection a daemon is running there and we refuse to start; if the
 * connection is refused the file is a leftover of a daemon that died, and
 * is removed.
 *
 * libuv rules: everything but ctp_ctl_call runs on the loop thread.  A
 * client is two handles (the pipe and its idle timer) and its memory is
 * freed when the second close callback has run; struct ctp_ctl counts the
 * listener and its live clients and is freed when that count reaches zero
 * after ctp_ctl_close.  A handler may call ctp_ctl_close: every path that
 * touches a client after a handler returns checks whether it is closing.
 * A client ends in one of two ways: at once (uv_close: I/O errors, the
 * server closing) or gracefully after a last error line (stop reading, queue
 * the line, uv_shutdown, close in the shutdown callback, so the line is
 * written before the socket goes); a client that reads nothing cannot hold
 * a graceful end up for longer than the idle time.  libuv writes with
 * write(2): the program must ignore SIGPIPE (ctp_ctl.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctp/ctp_ctl.h"
#include "ctp/ctp_log.h"

/* The header's 30 s; a build may lower it to test the idle path. */
#ifndef CTP_CTL_IDLE_MS
#define CTP_CTL_IDLE_MS 30000u
#endif
#define CTL_BACKLOG       64
/* Room for the longest request and its newline. */
#define CTL_BUF_MAX       (CTP_CTL_MAX_REQUEST + 1)
#define CTL_BUF_MIN       4096
/*
 * Replies waiting for a client that does not read them: above this, its
 * requests are not read (nor answered) until the queue drains, so pipelining
 * cannot make the daemon buffer without bound.  The idle timer still runs.
 */
#define CTL_WQUEUE_MAX    (1u << 20)
/* The client's limit on a reply: far above any table a daemon keeps. */
#define CTL_REPLY_MAX     (16u << 20)
/* How much of an unknown command name an error message repeats. */
#define CTL_NAME_ECHO     64

struct ctp_ctl_cmd {
	char       *name;
	ctp_ctl_fn  fn;
	void       *ud;
};

struct ctp_ctl_client {
	uv_pipe_t               pipe;
	uv_timer_t              idle;
	uv_shutdown_t           shut;
	struct ctp_ctl         *ctl;
	struct ctp_ctl_client  *next, *prev;
	char                   *buf;       /* received, not yet answered */
	size_t                  len, cap;
	size_t                  scanned;   /* buf[0..scanned) holds no newline */
	unsigned                handles;   /* handles not yet closed */
	int                     counted;   /* counts against max_clients */
	int                     reading;   /* uv_read_start is in effect */
	int                     paused;    /* reading stopped for backpressure */
	int                     ending;    /* a last line queued, shutdown next */
	int                     closing;   /* uv_close called */
};

struct ctp_ctl {
	uv_loop_t              *loop;
	uv_pipe_t               listener;
	char                   *path;
	unsigned                max_clients;
	unsigned                nclients;
	struct ctp_ctl_cmd     *cmds;
	size_t                  ncmds;
	struct ctp_ctl_client  *clients;
	unsigned                refs;      /* listener + client structs alive */
	int                     closed;
};

struct ctp_ctl_wreq {
	uv_write_t              req;
	struct ctp_ctl_client  *cl;
	char                   *data;
};

static void ctp_ctl_client_close(struct ctp_ctl_client *cl);
static void ctp_ctl_client_lines(struct ctp_ctl_client *cl);

/* ---- the server: memory ------------------------------------------------- */

static void
ctp_ctl_unref(struct ctp_ctl *c)
{
	if (--c->refs > 0 || !c->closed)
		return;
	for (size_t i = 0; i < c->ncmds; i++)
		free(c->cmds[i].name);
	free(c->cmds);
	free(c->path);
	free(c);
}

static void
ctp_ctl_on_listener_close(uv_handle_t *h)
{
	ctp_ctl_unref(h->data);
}

static void
ctp_ctl_on_client_close(uv_handle_t *h)
{
	struct ctp_ctl_client *cl = h->data;
	struct ctp_ctl *c = cl->ctl;

	if (--cl->handles > 0)
		return;
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		c->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	free(cl->buf);
	free(cl);
	ctp_ctl_unref(c);
}

/* The client no longer counts against max_clients once it is on its way out. */
static void
ctp_ctl_client_uncount(struct ctp_ctl_client *cl)
{
	if (cl->counted) {
		cl->counted = 0;
		cl->ctl->nclients--;
	}
}

static void
ctp_ctl_client_close(struct ctp_ctl_client *cl)
{
	if (cl->closing)
		return;
	cl->closing = 1;
	ctp_ctl_client_uncount(cl);
	uv_close((uv_handle_t *)&cl->pipe, ctp_ctl_on_client_close);
	uv_close((uv_handle_t *)&cl->idle, ctp_ctl_on_client_close);
}

/* ---- the server: writing ------------------------------------------------- */

static void
ctp_ctl_client_read_stop(struct ctp_ctl_client *cl)
{
	if (cl->reading) {
		uv_read_stop((uv_stream_t *)&cl->pipe);
		cl->reading = 0;
	}
}

static void ctp_ctl_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void ctp_ctl_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void
ctp_ctl_client_read_start(struct ctp_ctl_client *cl)
{
	if (!cl->reading && !cl->closing && !cl->ending &&
	    uv_read_start((uv_stream_t *)&cl->pipe, ctp_ctl_on_alloc, ctp_ctl_on_read) == 0)
		cl->reading = 1;
}

static void
ctp_ctl_on_write(uv_write_t *req, int status)
{
	struct ctp_ctl_wreq *w = (struct ctp_ctl_wreq *)req;
	struct ctp_ctl_client *cl = w->cl;

	free(w->data);
	free(w);
	if (status < 0) {
		if (status != UV_ECANCELED)
			log_debug("control client: %s", uv_strerror(status));
		ctp_ctl_client_close(cl);
		return;
	}
	/* Backpressure released: answer what is buffered, then read again. */
	if (cl->paused && !cl->closing &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe) <= CTL_WQUEUE_MAX / 2) {
		cl->paused = 0;
		ctp_ctl_client_lines(cl);
		if (!cl->paused)
			ctp_ctl_client_read_start(cl);
	}
}

/* Queue data (malloc'ed, ending in a newline; taken over). */
static void
ctp_ctl_client_write(struct ctp_ctl_client *cl, char *data, size_t len)
{
	struct ctp_ctl_wreq *w;
	uv_buf_t b;
	int rc;

	if (cl->closing || (w = malloc(sizeof *w)) == NULL) {
		free(data);
		if (!cl->closing)
			ctp_ctl_client_close(cl);
		return;
	}
	w->cl = cl;
	w->data = data;
	b = uv_buf_init(data, (unsigned)len);
	if ((rc = uv_write(&w->req, (uv_stream_t *)&cl->pipe, &b, 1, ctp_ctl_on_write)) < 0) {
		log_debug("control client: %s", uv_strerror(rc));
		free(data);
		free(w);
		ctp_ctl_client_close(cl);
		return;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&cl->pipe) > CTL_WQUEUE_MAX) {
		cl->paused = 1;
		ctp_ctl_client_read_stop(cl);
	}
}

/* The JSON text of v and a newline; v is freed. */
static void
ctp_ctl_client_send(struct ctp_ctl_client *cl, struct ctp_val *v)
{
	char *s = v ? ctp_json_string(v, 0) : NULL;
	char *line;
	size_t n;

	ctp_val_free(v);
	if (!s) {
		/* Out of memory, or a handler built a tree the writer refuses. */
		s = strdup("{\"ok\":false,\"error\":\"the reply could not be written as JSON\"}");
		if (!s) {
			ctp_ctl_client_close(cl);
			return;
		}
	}
	n = strlen(s);
	if ((line = realloc(s, n + 2)) == NULL) {
		/* a failed realloc leaves s as it was */
		// cppcheck-suppress doubleFree
		free(s);
		ctp_ctl_client_close(cl);
		return;
	}
	line[n] = '\n';
	line[n + 1] = 0;
	ctp_ctl_client_write(cl, line, n + 1);
}

static struct ctp_val *
ctp_ctl_error_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct ctp_val *
ctp_ctl_error_reply(const char *fmt, ...)
{
	struct ctp_val *v = ctp_val_obj();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (ctp_val_obj_set(v, "ok", ctp_val_bool(0)) < 0 ||
	    ctp_val_set_str(v, "error", msg) < 0) {
		ctp_val_free(v);
		return NULL;
	}
	return v;
}

static void
ctp_ctl_on_shutdown(uv_shutdown_t *req, int status)
{
	ctp_ctl_client_close(req->data);
}

/* A client that does not read what it is sent would hold up its shutdown
 * (and its memory) for ever: after the idle time it is closed regardless. */
static void
ctp_ctl_on_linger(uv_timer_t *t)
{
	ctp_ctl_client_close(t->data);
}

/*
 * Say why (msg may be NULL), then let the client go once that is written.
 * Nothing it sends afterwards is read.
 */
static void
ctp_ctl_client_end(struct ctp_ctl_client *cl, const char *msg)
{
	if (cl->closing || cl->ending)
		return;
	ctp_ctl_client_read_stop(cl);
	uv_timer_start(&cl->idle, ctp_ctl_on_linger, CTP_CTL_IDLE_MS, 0);
	ctp_ctl_client_uncount(cl);
	if (msg) {
		struct ctp_val *v = ctp_ctl_error_reply("%s", msg);

		if (!v) {
			ctp_ctl_client_close(cl);
			return;
		}
		ctp_ctl_client_send(cl, v);
		if (cl->closing)
			return;
	}
	cl->ending = 1;
	cl->shut.data = cl;
	if (uv_shutdown(&cl->shut, (uv_stream_t *)&cl->pipe, ctp_ctl_on_shutdown) < 0)
		ctp_ctl_client_close(cl);
}

/* ---- the server: requests ------------------------------------------------- */

static int
ctp_ctl_cmd_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The built-in "help": every command name, sorted. */
static struct ctp_val *
ctp_ctl_help(const struct ctp_ctl *c)
{
	const char **names = malloc((c->ncmds + 1) * sizeof *names);
	struct ctp_val *v = ctp_val_obj(), *arr = ctp_val_arr();
	int rc = 0;

	if (!names || !v || !arr) {
		free(names);
		ctp_val_free(v);
		ctp_val_free(arr);
		return NULL;
	}
	names[0] = "help";
	for (size_t i = 0; i < c->ncmds; i++)
		names[i + 1] = c->cmds[i].name;
	qsort(names, c->ncmds + 1, sizeof *names, ctp_ctl_cmd_cmp);
	for (size_t i = 0; i <= c->ncmds && rc == 0; i++)
		rc = ctp_val_arr_push(arr, ctp_val_str(names[i]));
	free(names);
	if (rc < 0 || ctp_val_obj_set(v, "ok", ctp_val_bool(1)) < 0 ||
	    ctp_val_obj_set(v, "commands", arr) < 0) {
		if (rc < 0)
			ctp_val_free(arr);
		ctp_val_free(v);
		return NULL;
	}
	return v;
}

/*
 * "ok": true first, then what the handler put in reply (which is consumed);
 * an "ok" of the handler's own is dropped, the module owns that member.
 */
static struct ctp_val *
ctp_ctl_ok_reply(struct ctp_val *reply)
{
	struct ctp_val *v = ctp_val_obj();

	if (!v || ctp_val_obj_set(v, "ok", ctp_val_bool(1)) < 0)
		goto fail;
	for (size_t i = 0; i < reply->n; i++) {
		struct ctp_val_member *m = &reply->members[i];
		struct ctp_val *val = m->val;

		m->val = NULL;   /* v owns it now, also when obj_set fails */
		if (strcmp(m->key, "ok") == 0)
			ctp_val_free(val);
		else if (ctp_val_obj_set(v, m->key, val) < 0)
			goto fail;
	}
	ctp_val_free(reply);
	return v;
fail:
	ctp_val_free(v);
	ctp_val_free(reply);
	return NULL;
}

static const struct ctp_ctl_cmd *
ctp_ctl_find(const struct ctp_ctl *c, const char *name)
{
	for (size_t i = 0; i < c->ncmds; i++)
		if (strcmp(c->cmds[i].name, name) == 0)
			return &c->cmds[i];
	return NULL;
}

/* Answer one request line (NUL-terminated at line[len]). */
static void
ctp_ctl_client_request(struct ctp_ctl_client *cl, char *line, size_t len)
{
	struct ctp_ctl *c = cl->ctl;
	const struct ctp_ctl_cmd *cmd;
	struct ctp_val *req = NULL, *reply, *out;
	struct ctp_err err = { 0 };
	const char *name = NULL;
	size_t i;
	int rc;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = 0;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len)
		return;

	if (ctp_json_parse(line, len, &req, &err) < 0) {
		out = ctp_ctl_error_reply("malformed JSON: %s", err.what);
	} else if (req->kind != CTP_V_OBJ) {
		out = ctp_ctl_error_reply("a request is a JSON object: {\"cmd\": NAME, ...}");
	} else if ((rc = ctp_val_get_str(req, "cmd", &name, &err)) < 0) {
		out = ctp_ctl_error_reply(rc == CTP_E_NOTFOUND ? "the request has no \"cmd\"" :
		    "\"cmd\" must be a string");
	} else if (strcmp(name, "help") == 0) {
		out = ctp_ctl_help(c);
	} else if ((cmd = ctp_ctl_find(c, name)) == NULL) {
		out = ctp_ctl_error_reply("unknown command \"%.*s%s\"", CTL_NAME_ECHO, name,
		    strlen(name) > CTL_NAME_ECHO ? "..." : "");
	} else if ((reply = ctp_val_obj()) == NULL) {
		out = NULL;
	} else if ((rc = cmd->fn(req, reply, cmd->ud, &err)) < 0) {
		ctp_val_free(reply);
		out = ctp_ctl_error_reply("%s", err.what[0] ? err.what : ctp_strerror(rc));
	} else if (reply->kind != CTP_V_OBJ) {
		ctp_val_free(reply);
		out = ctp_ctl_error_reply("internal error: the handler of \"%s\" replied with "
		    "something other than an object", cmd->name);
	} else {
		out = ctp_ctl_ok_reply(reply);
	}
	ctp_val_free(req);
	/* The handler may have closed the server, and so this client. */
	if (!cl->closing)
		ctp_ctl_client_send(cl, out ? out : ctp_ctl_error_reply("out of memory"));
	else
		ctp_val_free(out);
}

/* Requests are read and answered: not closing, ending or paused. */
static int
ctp_ctl_client_active(const struct ctp_ctl_client *cl)
{
	return !cl->closing && !cl->ending && !cl->paused;
}

/*
 * Answer every complete line in the buffer, in order.  scanned remembers
 * how far a partial line has been searched, so a long line arriving in
 * small pieces is not searched again from its start each time.
 */
static void
ctp_ctl_client_lines(struct ctp_ctl_client *cl)
{
	size_t start = 0;
	char *nl;

	while (ctp_ctl_client_active(cl) && cl->scanned < cl->len &&
	    (nl = memchr(cl->buf + cl->scanned, '\n', cl->len - cl->scanned)) != NULL) {
		size_t end = (size_t)(nl - cl->buf);

		*nl = 0;
		cl->scanned = end + 1;
		ctp_ctl_client_request(cl, cl->buf + start, end - start);
		start = end + 1;
	}
	if (cl->closing)
		return;
	if (start > 0) {
		memmove(cl->buf, cl->buf + start, cl->len - start);
		cl->len -= start;
		cl->scanned -= start;
	}
	if (!ctp_ctl_client_active(cl))
		return;   /* paused: the rest waits, unsearched, for the queue to drain */
	cl->scanned = cl->len;
	/* The rest of a longer line could only be skipped by guessing where it
	 * ends, so the client goes. */
	if (cl->len > CTP_CTL_MAX_REQUEST) {
		char msg[64];

		snprintf(msg, sizeof msg, "request longer than %d octets; closing",
		    CTP_CTL_MAX_REQUEST);
		ctp_ctl_client_end(cl, msg);
	}
}

/* ---- the server: reading -------------------------------------------------- */

static void
ctp_ctl_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct ctp_ctl_client *cl = h->data;

	if (cl->cap - cl->len < CTL_BUF_MIN && cl->cap < CTL_BUF_MAX) {
		size_t ncap = cl->cap ? cl->cap * 2 : CTL_BUF_MIN;
		char *nb;

		if (ncap > CTL_BUF_MAX)
			ncap = CTL_BUF_MAX;
		if ((nb = realloc(cl->buf, ncap)) != NULL) {
			cl->buf = nb;
			cl->cap = ncap;
		}
	}
	/* Zero octets (no memory) makes libuv report UV_ENOBUFS. */
	*buf = uv_buf_init(cl->buf ? cl->buf + cl->len : NULL, (unsigned)(cl->cap - cl->len));
}

static void
ctp_ctl_on_idle(uv_timer_t *t)
{
	char msg[64];

	if (CTP_CTL_IDLE_MS % 1000 == 0)
		snprintf(msg, sizeof msg, "idle for %u s; closing", CTP_CTL_IDLE_MS / 1000);
	else
		snprintf(msg, sizeof msg, "idle for %u ms; closing", CTP_CTL_IDLE_MS);
	ctp_ctl_client_end(t->data, msg);
}

static void
ctp_ctl_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ctp_ctl_client *cl = s->data;

	if (nread == 0)
		return;
	if (nread == UV_EOF) {
		/* A last request without its newline still gets an answer
		 * (printf '{"cmd":"help"}' | nc -U works). */
		ctp_ctl_client_read_stop(cl);
		if (ctp_ctl_client_active(cl) && cl->len > 0 && cl->len < cl->cap) {
			cl->buf[cl->len] = 0;
			ctp_ctl_client_request(cl, cl->buf, cl->len);
			cl->len = cl->scanned = 0;
		}
		ctp_ctl_client_end(cl, NULL);
		return;
	}
	if (nread < 0) {
		if (nread != UV_ECONNRESET)
			log_debug("control client: %s", uv_strerror((int)nread));
		ctp_ctl_client_close(cl);
		return;
	}
	cl->len += (size_t)nread;
	uv_timer_start(&cl->idle, ctp_ctl_on_idle, CTP_CTL_IDLE_MS, 0);
	ctp_ctl_client_lines(cl);
}

static void
ctp_ctl_on_connection(uv_stream_t *server, int status)
{
	struct ctp_ctl *c = server->data;
	struct ctp_ctl_client *cl;
	char msg[96];

	if (status < 0) {
		log_warn("control socket %s: %s", c->path, uv_strerror(status));
		return;
	}
	/* Without memory the connection stays in the backlog; libuv stops
	 * watching the listener until a later accept, which is all we can do. */
	if ((cl = calloc(1, sizeof *cl)) == NULL) {
		log_err("control socket %s: out of memory", c->path);
		return;
	}
	cl->ctl = c;
	uv_pipe_init(c->loop, &cl->pipe, 0);
	uv_timer_init(c->loop, &cl->idle);
	cl->pipe.data = cl->idle.data = cl;
	cl->handles = 2;
	cl->next = c->clients;
	if (c->clients)
		c->clients->prev = cl;
	c->clients = cl;
	c->refs++;
	if ((status = uv_accept(server, (uv_stream_t *)&cl->pipe)) < 0) {
		log_warn("control socket %s: accept: %s", c->path, uv_strerror(status));
		ctp_ctl_client_close(cl);
		return;
	}
	if (c->nclients >= c->max_clients) {
		log_warn("control socket %s: a client beyond the %u allowed was turned away",
		    c->path, c->max_clients);
		snprintf(msg, sizeof msg, "too many clients (at most %u); try again later",
		    c->max_clients);
		ctp_ctl_client_end(cl, msg);
		return;
	}
	cl->counted = 1;
	c->nclients++;
	uv_timer_start(&cl->idle, ctp_ctl_on_idle, CTP_CTL_IDLE_MS, 0);
	ctp_ctl_client_read_start(cl);
	if (!cl->reading)
		ctp_ctl_client_close(cl);
}

/* ---- the server: life cycle -------------------------------------------------- */

/*
 * Nothing at path, or a stale socket we removed: 0.  A daemon answering,
 * or something that is not a socket: CTP_E_EXIST.
 */
static int
ctp_ctl_clear_path(const char *path, const struct sockaddr_un *sun, struct ctp_err *err)
{
	struct stat st;
	int fd, rc, e;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return ctp_err_set(err, CTP_E_IO, 0, 0, "control socket %s: %s", path,
		    strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return ctp_err_set(err, CTP_E_EXIST, 0, 0,
		    "control socket %s: the path exists and is not a socket; not touching it", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "control socket %s: socket: %s", path,
		    strerror(errno));
	rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	e = errno;
	close(fd);
	/* A full backlog (EAGAIN) is a busy daemon, not a dead one. */
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
		return ctp_err_set(err, CTP_E_EXIST, 0, 0,
		    "control socket %s: a daemon is already listening there", path);
	if (e != ECONNREFUSED)
		return ctp_err_set(err, CTP_E_IO, 0, 0, "control socket %s: %s", path, strerror(e));
	if (unlink(path) < 0 && errno != ENOENT)
		return ctp_err_set(err, CTP_E_IO, 0, 0,
		    "control socket %s: cannot remove the stale socket: %s", path, strerror(errno));
	log_notice("control socket %s: removed the socket of a daemon no longer running", path);
	return 0;
}

static int
ctp_ctl_sockaddr(const char *path, struct sockaddr_un *sun, struct ctp_err *err)
{
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (!*path)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "control socket: no path");
	if (strlen(path) >= sizeof sun->sun_path)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0,
		    "control socket path of %zu octets is longer than the %zu a UNIX socket "
		    "path may have", strlen(path), sizeof sun->sun_path - 1);
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

int
ctp_ctl_open(uv_loop_t *loop, const char *path, unsigned max_clients, struct ctp_ctl **out,
    struct ctp_err *err)
{
	struct sockaddr_un sun;
	struct ctp_ctl *c;
	int fd = -1, rc;

	if (!loop || !path || !out)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_ctl_open: no loop, path or result");
	*out = NULL;
	if ((rc = ctp_ctl_sockaddr(path, &sun, err)) < 0)
		return rc;
	if (max_clients == 0)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0,
		    "control socket %s: max_clients must be at least 1", path);
	if ((rc = ctp_ctl_clear_path(path, &sun, err)) < 0)
		return rc;
	if ((c = calloc(1, sizeof *c)) == NULL || (c->path = strdup(path)) == NULL) {
		free(c);
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "control socket %s: out of memory", path);
	}
	c->loop = loop;
	c->max_clients = max_clients;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "control socket %s: socket: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&sun, sizeof sun) < 0) {
		/* EADDRINUSE here: another daemon won the race since the probe */
		rc = ctp_err_set(err, errno == EADDRINUSE ? CTP_E_EXIST : CTP_E_IO, 0, 0,
		    "control socket %s: bind: %s", path, strerror(errno));
		goto fail;
	}
	if (chmod(path, 0600) < 0 || listen(fd, CTL_BACKLOG) < 0) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "control socket %s: %s", path,
		    strerror(errno));
		unlink(path);
		goto fail;
	}
	uv_pipe_init(loop, &c->listener, 0);
	c->listener.data = c;
	c->refs = 1;
	if ((rc = uv_pipe_open(&c->listener, fd)) < 0)
		close(fd);   /* the handle owns fd only once uv_pipe_open succeeded */
	else
		rc = uv_listen((uv_stream_t *)&c->listener, CTL_BACKLOG, ctp_ctl_on_connection);
	if (rc < 0) {
		/* A handle exists now, so its memory goes in its close callback. */
		ctp_err_set(err, CTP_E_IO, 0, 0, "control socket %s: %s", path, uv_strerror(rc));
		unlink(path);
		c->closed = 1;
		uv_close((uv_handle_t *)&c->listener, ctp_ctl_on_listener_close);
		return CTP_E_IO;
	}
	log_info("control socket %s: listening (at most %u clients)", path, max_clients);
	*out = c;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(c->path);
	free(c);
	return rc;
}

int
ctp_ctl_register(struct ctp_ctl *c, const char *cmd, ctp_ctl_fn fn, void *ud)
{
	struct ctp_ctl_cmd *n;
	char *name;

	if (!c || !cmd || !*cmd || !fn)
		return CTP_E_INVAL;
	if (strcmp(cmd, "help") == 0 || ctp_ctl_find(c, cmd)) {
		log_err("control socket: command \"%s\" registered twice", cmd);
		return CTP_E_EXIST;
	}
	if ((name = strdup(cmd)) == NULL ||
	    (n = realloc(c->cmds, (c->ncmds + 1) * sizeof *n)) == NULL) {
		free(name);
		return CTP_E_NOMEM;
	}
	c->cmds = n;
	c->cmds[c->ncmds++] = (struct ctp_ctl_cmd){ name, fn, ud };
	// cppcheck-suppress memleak ; name is owned by c->cmds now
	return 0;
}

void
ctp_ctl_close(struct ctp_ctl *c)
{
	if (!c || c->closed)
		return;
	c->closed = 1;
	/* The name first: whoever sees a client closed finds the name gone. */
	if (unlink(c->path) < 0 && errno != ENOENT)
		log_warn("control socket %s: %s", c->path, strerror(errno));
	uv_close((uv_handle_t *)&c->listener, ctp_ctl_on_listener_close);
	for (struct ctp_ctl_client *cl = c->clients; cl; cl = cl->next)
		ctp_ctl_client_close(cl);
}

unsigned
ctp_ctl_clients(const struct ctp_ctl *c)
{
	return c ? c->nclients : 0;
}

/* ---- the client ------------------------------------------------------------ */

static uint64_t
ctp_ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (0: none), for poll: -1 = forever. */
static int
ctp_ctl_left(uint64_t deadline)
{
	uint64_t now;

	if (deadline == 0)
		return -1;
	now = ctp_ctl_now_ms();
	if (now >= deadline)
		return 0;
	return deadline - now > 60000 ? 60000 : (int)(deadline - now);
}

static int
ctp_ctl_call_connect(int fd, const char *path, const struct sockaddr_un *sun, uint64_t deadline,
    unsigned timeout_ms, struct ctp_err *err)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		socklen_t sl = sizeof(int);
		int e, left;

		if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0)
			return 0;
		e = errno;
		if (e == EINTR)
			continue;
		if (e == EINPROGRESS) {
			if ((left = ctp_ctl_left(deadline)) == 0 || poll(&pfd, 1, left) == 0)
				goto timeout;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0)
				e = errno;
			if (e == 0)
				return 0;
		}
		if (e == EAGAIN) {
			/* A UNIX socket with a full backlog: the daemon is busy. */
			struct timespec ts = { 0, 10 * 1000000 };

			if (ctp_ctl_left(deadline) == 0)
				goto timeout;
			nanosleep(&ts, NULL);
			continue;
		}
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
			return ctp_err_set(err, CTP_E_IO, 0, 0,
			    "no ctpd is listening on %s (is it running? see -s)", path);
		if (e == EACCES || e == EPERM)
			return ctp_err_set(err, CTP_E_IO, 0, 0,
			    "%s: permission denied (the control socket is mode 0600: run as the "
			    "user ctpd runs as)", path);
		return ctp_err_set(err, CTP_E_IO, 0, 0, "%s: connect: %s", path, strerror(e));
	}
timeout:
	return ctp_err_set(err, CTP_E_TIMEDOUT, 0, 0, "%s: the daemon did not accept the "
	    "connection within %u ms", path, timeout_ms);
}

/*
 * Send the request while reading: a daemon may answer (with an error) and
 * close before it has read all of an oversized request, and that answer is
 * what the caller wants to see.  The reply line is returned in *line.
 */
static int
ctp_ctl_call_exchange(int fd, const char *path, const char *text, size_t tlen,
    uint64_t deadline, unsigned timeout_ms, char **line, size_t *llen, struct ctp_err *err)
{
	size_t sent = 0, len = 0, cap = 0;
	char *buf = NULL, *nl = NULL;
	int rc;

	while (!nl) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = ctp_ctl_left(deadline), n;
		ssize_t k;

		if (sent < tlen)
			pfd.events |= POLLOUT;
		if (left == 0 || (n = poll(&pfd, 1, left)) == 0) {
			rc = ctp_err_set(err, CTP_E_TIMEDOUT, 0, 0, "%s: no reply within %u ms",
			    path, timeout_ms);
			goto fail;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s: poll: %s", path, strerror(errno));
			goto fail;
		}
		if ((pfd.revents & POLLOUT) && sent < tlen) {
			k = send(fd, text + sent, tlen - sent, MSG_NOSIGNAL);
			if (k > 0)
				sent += (size_t)k;
			else if (k < 0 && errno != EAGAIN && errno != EINTR)
				sent = tlen;   /* the daemon stopped reading: read what it said */
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb;

			if (ncap > CTL_REPLY_MAX + 1) {
				rc = ctp_err_set(err, CTP_E_LIMIT, 0, 0,
				    "%s: reply longer than %u octets", path, CTL_REPLY_MAX);
				goto fail;
			}
			if ((nb = realloc(buf, ncap)) == NULL) {
				rc = ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap = ncap;
		}
		k = recv(fd, buf + len, cap - len - 1, 0);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0) {
			rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s: the daemon closed the connection "
			    "without answering%s%s", path, k < 0 ? ": " : "",
			    k < 0 ? strerror(errno) : "");
			goto fail;
		}
		nl = memchr(buf + len, '\n', (size_t)k);
		len += (size_t)k;
	}
	*nl = 0;
	*line = buf;
	*llen = (size_t)(nl - buf);
	return 0;
fail:
	free(buf);
	return rc;
}

/*
 * The timeout covers connecting, sending and the whole reply; 0 means none.
 * Errors: CTP_E_IO (no daemon, permission, connection lost), CTP_E_TIMEDOUT,
 * CTP_E_JSON (a reply that is not one JSON object), CTP_E_LIMIT, CTP_E_NOMEM.
 */
int
ctp_ctl_call(const char *path, const struct ctp_val *req, unsigned timeout_ms,
    struct ctp_val **reply, struct ctp_err *err)
{
	uint64_t deadline = timeout_ms ? ctp_ctl_now_ms() + timeout_ms : 0;
	struct sockaddr_un sun;
	struct ctp_err perr = { 0 };
	char *text = NULL, *line = NULL;
	size_t tlen, llen = 0;
	int fd = -1, rc;

	if (!path || !req || !reply)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_ctl_call: no path, request or result");
	*reply = NULL;
	if ((rc = ctp_ctl_sockaddr(path, &sun, err)) < 0)
		return rc;
	if ((text = ctp_json_string(req, 0)) == NULL)
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "%s: the request could not be written",
		    path);
	tlen = strlen(text);
	text[tlen] = '\n';   /* the NUL's place: the line need not be a C string */
	tlen++;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		rc = ctp_err_set(err, CTP_E_IO, 0, 0, "%s: socket: %s", path, strerror(errno));
		goto out;
	}
	if ((rc = ctp_ctl_call_connect(fd, path, &sun, deadline, timeout_ms, err)) < 0 ||
	    (rc = ctp_ctl_call_exchange(fd, path, text, tlen, deadline, timeout_ms, &line, &llen,
	    err)) < 0)
		goto out;
	if ((rc = ctp_json_parse(line, llen, reply, &perr)) < 0) {
		rc = ctp_err_set(err, CTP_E_JSON, perr.off, 0, "%s: malformed reply: %s", path,
		    perr.what);
	} else if ((*reply)->kind != CTP_V_OBJ) {
		ctp_val_free(*reply);
		*reply = NULL;
		rc = ctp_err_set(err, CTP_E_JSON, 0, 0, "%s: the reply is not a JSON object", path);
	}
out:
	if (fd >= 0)
		close(fd);
	free(text);
	free(line);
	return rc;
}
