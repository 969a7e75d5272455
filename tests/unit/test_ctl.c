/*
 * test_ctl.c: the control socket (ctp_ctl.c), server and client together.
 *
 * Each test runs a real server on its own libuv loop in a helper thread
 * (the loop thread: only it touches the server after start-up) and talks to
 * it from the test thread with ctp_ctl_call, or with a plain socket where
 * the test needs to send what ctp_ctl_call never would (malformed lines,
 * several requests in one write, a request without its end).  Stopping a
 * server closes it from the loop thread and then requires uv_loop_close to
 * succeed, so a handle left open fails the test and memory not freed in a
 * close callback shows up under ASan or valgrind.
 *
 * The 30 s idle timeout is too slow for a unit test: build ctp_ctl.c with
 * -DCTP_CTL_IDLE_MS=300 and set CTP_TEST_CTL_IDLE_MS=300 to run
 * test_ctl_idle.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "ctp/ctp_ctl.h"
#include "ctp/ctp_log.h"
#include "test.h"

/* generous: a loaded machine running sanitizers is slow, and only a
 * failing test waits this long */
#define CALL_MS 20000

static char ctl_dir[64];
static int ctl_saved_level;
static char *ctl_raw_last;   /* what ctl_raw_line returned last */

struct ctl_server {
	uv_loop_t       loop;
	uv_async_t      stop;
	struct ctp_ctl *ctl;
	pthread_t       thread;
	char            path[108];
	int             closed;    /* a handler closed the server already */
};

static int
ctl_suite_init(void)
{
	/* As in the daemon: a client that goes away must not kill the server
	 * (libuv leaves SIGPIPE to the program). */
	signal(SIGPIPE, SIG_IGN);
	ctl_saved_level = ctp_log_level();
	ctp_log_set_level(CTP_LOG_ERR);   /* "removed a stale socket" is expected */
	snprintf(ctl_dir, sizeof ctl_dir, "/tmp/ctp-test-ctl.XXXXXX");
	return mkdtemp(ctl_dir) ? 0 : -1;
}

static int
ctl_suite_clean(void)
{
	static const char *const names[] = { "s.sock", "t.sock", "stale.sock", "file", "l.sock" };
	char path[128];

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", ctl_dir, names[i]);
		unlink(path);
	}
	rmdir(ctl_dir);
	free(ctl_raw_last);
	ctl_raw_last = NULL;
	ctp_log_set_level(ctl_saved_level);
	return 0;
}

/* ---- handlers (loop thread) ------------------------------------------------ */

static int
ctl_h_echo(const struct ctp_val *req, struct ctp_val *reply, void *ud, struct ctp_err *err)
{
	const char *arg = "";

	ctp_val_get_str(req, "arg", &arg, NULL);
	return ctp_val_set_str(reply, "echo", arg) < 0 || ctp_val_set_u64(reply, "n", 42) < 0 ?
	    CTP_E_NOMEM : 0;
}

static int
ctl_h_fail(const struct ctp_val *req, struct ctp_val *reply, void *ud, struct ctp_err *err)
{
	ctp_val_set_str(reply, "ignored", "a failing handler's reply is dropped");
	return ctp_err_set(err, CTP_E_STATE, 0, 0, "not now: %s", "testing");
}

static int
ctl_h_failbare(const struct ctp_val *req, struct ctp_val *reply, void *ud, struct ctp_err *err)
{
	return CTP_E_AGAIN;
}

static int
ctl_h_okfalse(const struct ctp_val *req, struct ctp_val *reply, void *ud, struct ctp_err *err)
{
	ctp_val_obj_set(reply, "ok", ctp_val_bool(0));
	return ctp_val_set_u64(reply, "x", 1);
}

static int
ctl_h_clients(const struct ctp_val *req, struct ctp_val *reply, void *ud, struct ctp_err *err)
{
	struct ctl_server *s = ud;

	return ctp_val_set_u64(reply, "clients", ctp_ctl_clients(s->ctl));
}

/* above the server's 1 MiB write-queue limit, so reading pauses */
#define CTL_BIG (3u << 19)

static int
ctl_h_big(const struct ctp_val *req, struct ctp_val *reply, void *ud, struct ctp_err *err)
{
	char *s = malloc(CTL_BIG + 1);
	int rc;

	if (!s)
		return CTP_E_NOMEM;
	memset(s, 'b', CTL_BIG);
	s[CTL_BIG] = 0;
	rc = ctp_val_set_str(reply, "big", s);
	free(s);
	return rc;
}

/* A daemon's "stop" done wrongly (synchronously): must still be safe. */
static int
ctl_h_close(const struct ctp_val *req, struct ctp_val *reply, void *ud, struct ctp_err *err)
{
	struct ctl_server *s = ud;

	s->closed = 1;
	ctp_ctl_close(s->ctl);
	return ctp_val_set_str(reply, "closed", "yes");
}

/* ---- the server fixture ------------------------------------------------------ */

static void
ctl_on_stop(uv_async_t *a)
{
	struct ctl_server *s = a->data;

	if (!s->closed)
		ctp_ctl_close(s->ctl);
	uv_close((uv_handle_t *)a, NULL);
}

static void *
ctl_run(void *arg)
{
	struct ctl_server *s = arg;

	uv_run(&s->loop, UV_RUN_DEFAULT);
	return NULL;
}

static void
ctl_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", ctl_dir, name);
}

static int
ctl_start(struct ctl_server *s, const char *name, unsigned max_clients)
{
	struct ctp_err err = { 0 };
	int rc;

	memset(s, 0, sizeof *s);
	ctl_path(s->path, sizeof s->path, name);
	CU_ASSERT_EQUAL_FATAL(uv_loop_init(&s->loop), 0);
	uv_async_init(&s->loop, &s->stop, ctl_on_stop);
	s->stop.data = s;
	if ((rc = ctp_ctl_open(&s->loop, s->path, max_clients, &s->ctl, &err)) < 0) {
		fprintf(stderr, "\n    ctp_ctl_open: %s\n", err.what);
		uv_close((uv_handle_t *)&s->stop, NULL);
		uv_run(&s->loop, UV_RUN_DEFAULT);
		uv_loop_close(&s->loop);
		return rc;
	}
	CU_ASSERT_EQUAL(ctp_ctl_register(s->ctl, "echo", ctl_h_echo, s), 0);
	CU_ASSERT_EQUAL(ctp_ctl_register(s->ctl, "fail", ctl_h_fail, s), 0);
	CU_ASSERT_EQUAL(ctp_ctl_register(s->ctl, "failbare", ctl_h_failbare, s), 0);
	CU_ASSERT_EQUAL(ctp_ctl_register(s->ctl, "okfalse", ctl_h_okfalse, s), 0);
	CU_ASSERT_EQUAL(ctp_ctl_register(s->ctl, "clients", ctl_h_clients, s), 0);
	CU_ASSERT_EQUAL(ctp_ctl_register(s->ctl, "big", ctl_h_big, s), 0);
	CU_ASSERT_EQUAL(ctp_ctl_register(s->ctl, "close", ctl_h_close, s), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&s->thread, NULL, ctl_run, s), 0);
	return 0;
}

static void
ctl_stop(struct ctl_server *s)
{
	struct stat st;

	uv_async_send(&s->stop);
	pthread_join(s->thread, NULL);
	/* every handle closed, so every close callback ran */
	CU_ASSERT_EQUAL(uv_loop_close(&s->loop), 0);
	CU_ASSERT(lstat(s->path, &st) < 0 && errno == ENOENT);   /* unlinked */
}

/* ---- clients ------------------------------------------------------------------ */

/* ctp_ctl_call with {"cmd": cmd} plus a string "arg"; the reply as JSON text. */
static char *
ctl_call(const char *path, const char *cmd, const char *arg, int *rc, struct ctp_err *err)
{
	struct ctp_val *req = ctp_val_obj(), *reply = NULL;
	char *text = NULL;

	ctp_err_clear(err);
	CU_ASSERT_EQUAL_FATAL(ctp_val_set_str(req, "cmd", cmd), 0);
	if (arg)
		CU_ASSERT_EQUAL_FATAL(ctp_val_set_str(req, "arg", arg), 0);
	*rc = ctp_ctl_call(path, req, CALL_MS, &reply, err);
	if (*rc == 0)
		text = ctp_json_string(reply, 0);
	else
		CU_ASSERT_PTR_NULL(reply);
	ctp_val_free(req);
	ctp_val_free(reply);
	return text;
}

#define EXPECT_CALL(path, cmd, arg, want) ctl_expect_call((path), (cmd), (arg), (want), __LINE__)

static void
ctl_expect_call(const char *path, const char *cmd, const char *arg, const char *want,
    unsigned line)
{
	struct ctp_err err;
	int rc, ok;
	char *got = ctl_call(path, cmd, arg, &rc, &err);

	ok = rc == 0 && got && strcmp(got, want) == 0;
	if (!ok)
		fprintf(stderr, "\ntest_ctl.c:%u: rc %d (%s)\n got: %s\nwant: %s\n", line, rc,
		    err.what, got ? got : "(none)", want);
	CU_assertImplementation(ok, line, "reply", __FILE__, "", CU_FALSE);
	free(got);
}

/* A plain client, for what ctp_ctl_call cannot send. */
struct ctl_raw {
	int     fd;
	char   *buf;
	size_t  len, cap;
};

static int
ctl_raw_open(struct ctl_raw *r, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(r, 0, sizeof *r);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		if (r->fd >= 0)
			close(r->fd);
		r->fd = -1;
		return -1;
	}
	return 0;
}

static void
ctl_raw_close(struct ctl_raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	r->fd = -1;
	r->buf = NULL;
}

static int
ctl_raw_send(struct ctl_raw *r, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t k = send(r->fd, data, len, MSG_NOSIGNAL);

		if (k < 0)
			return -1;
		data += k;
		len -= (size_t)k;
	}
	return 0;
}

static int
ctl_raw_puts(struct ctl_raw *r, const char *s)
{
	return ctl_raw_send(r, s, strlen(s));
}

/*
 * The next line (without its newline, NUL-terminated, valid until the next
 * call), or NULL at EOF, on an error or after CALL_MS.
 */
static char *
ctl_raw_line(struct ctl_raw *r)
{
	char *nl, *line;

	free(ctl_raw_last);
	ctl_raw_last = NULL;
	while ((nl = r->len ? memchr(r->buf, '\n', r->len) : NULL) == NULL) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		ssize_t k;

		if (r->cap - r->len < 65536) {
			char *nb = realloc(r->buf, r->cap + 65536 * 4);

			if (!nb)
				return NULL;
			r->buf = nb;
			r->cap += 65536 * 4;
		}
		if (poll(&pfd, 1, CALL_MS) != 1)
			return NULL;
		if ((k = recv(r->fd, r->buf + r->len, r->cap - r->len, 0)) <= 0)
			return NULL;
		r->len += (size_t)k;
	}
	if ((line = malloc((size_t)(nl - r->buf) + 1)) == NULL)
		return NULL;
	memcpy(line, r->buf, (size_t)(nl - r->buf));
	line[nl - r->buf] = 0;
	r->len -= (size_t)(nl - r->buf) + 1;
	memmove(r->buf, nl + 1, r->len);
	return ctl_raw_last = line;
}

/* The server closed: EOF (or a reset) with nothing more to read. */
static int
ctl_raw_eof(struct ctl_raw *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	char c;

	if (r->len > 0 || poll(&pfd, 1, CALL_MS) != 1)
		return 0;
	return recv(r->fd, &c, 1, 0) <= 0;
}

#define EXPECT_LINE(r, want) ctl_expect_line((r), (want), __LINE__)

static void
ctl_expect_line(struct ctl_raw *r, const char *want, unsigned line)
{
	const char *got = ctl_raw_line(r);
	size_t n = strlen(want);
	int ok;

	/* a want ending in '*' is a prefix */
	if (n > 0 && want[n - 1] == '*')
		ok = got && strncmp(got, want, n - 1) == 0;
	else
		ok = got && strcmp(got, want) == 0;
	if (!ok)
		fprintf(stderr, "\ntest_ctl.c:%u:\n got: %.300s\nwant: %s\n", line,
		    got ? got : "(nothing)", want);
	CU_assertImplementation(ok, line, "line", __FILE__, "", CU_FALSE);
}

static uint64_t
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- tests ------------------------------------------------------------------- */

/* Registration, and a server that never ran: open, close, nothing left. */
static void
test_ctl_register(void)
{
	struct ctp_ctl *c = NULL;
	struct ctp_err err = { 0 };
	char path[100];
	uv_loop_t loop;
	int level = ctp_log_level();

	ctl_path(path, sizeof path, "s.sock");
	CU_ASSERT_EQUAL_FATAL(uv_loop_init(&loop), 0);
	CU_ASSERT_EQUAL_FATAL(ctp_ctl_open(&loop, path, 1, &c, &err), 0);
	CU_ASSERT_EQUAL(ctp_ctl_register(c, "echo", ctl_h_echo, NULL), 0);
	ctp_log_set_level(0);   /* the refusals below are logged as errors */
	CU_ASSERT_EQUAL(ctp_ctl_register(c, "echo", ctl_h_fail, NULL), CTP_E_EXIST);
	CU_ASSERT_EQUAL(ctp_ctl_register(c, "help", ctl_h_fail, NULL), CTP_E_EXIST);
	ctp_log_set_level(level);
	CU_ASSERT_EQUAL(ctp_ctl_register(c, "", ctl_h_fail, NULL), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_ctl_register(c, "x", NULL, NULL), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_ctl_register(NULL, "x", ctl_h_fail, NULL), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_ctl_clients(c), 0);
	ctp_ctl_close(c);
	ctp_ctl_close(NULL);
	CU_ASSERT(access(path, F_OK) < 0);
	CU_ASSERT_EQUAL(uv_run(&loop, UV_RUN_DEFAULT), 0);
	CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

static void
test_ctl_commands(void)
{
	struct ctl_server s;

	if (ctl_start(&s, "s.sock", 4) < 0) {
		CU_FAIL("start");
		return;
	}
	EXPECT_CALL(s.path, "echo", "hi", "{\"ok\":true,\"echo\":\"hi\",\"n\":42}");
	EXPECT_CALL(s.path, "fail", NULL, "{\"ok\":false,\"error\":\"not now: testing\"}");
	EXPECT_CALL(s.path, "failbare", NULL,
	    "{\"ok\":false,\"error\":\"resource temporarily unavailable\"}");
	/* the module owns "ok" and puts it first */
	EXPECT_CALL(s.path, "okfalse", NULL, "{\"ok\":true,\"x\":1}");
	EXPECT_CALL(s.path, "help", NULL, "{\"ok\":true,\"commands\":[\"big\",\"clients\","
	    "\"close\",\"echo\",\"fail\",\"failbare\",\"help\",\"okfalse\"]}");
	/* arguments are the request's other members; JSON escapes survive */
	EXPECT_CALL(s.path, "echo", "a \"quoted\"\nline \xc3\xa9",
	    "{\"ok\":true,\"echo\":\"a \\\"quoted\\\"\\nline \xc3\xa9\",\"n\":42}");
	ctl_stop(&s);
}

static void
test_ctl_unknown(void)
{
	struct ctl_server s;
	char name[101], want[256];
	struct ctl_raw r;

	if (ctl_start(&s, "s.sock", 4) < 0) {
		CU_FAIL("start");
		return;
	}
	EXPECT_CALL(s.path, "x", NULL, "{\"ok\":false,\"error\":\"unknown command \\\"x\\\"\"}");
	/* a long name is cut in the message, which stays one short line */
	memset(name, 'n', 100);
	name[100] = 0;
	snprintf(want, sizeof want, "{\"ok\":false,\"error\":\"unknown command \\\"%.64s...\\\"\"}",
	    name);
	EXPECT_CALL(s.path, name, NULL, want);

	CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&r, s.path), 0);
	ctl_raw_puts(&r, "{\"arg\":1}\n{\"cmd\":5}\n");
	EXPECT_LINE(&r, "{\"ok\":false,\"error\":\"the request has no \\\"cmd\\\"\"}");
	EXPECT_LINE(&r, "{\"ok\":false,\"error\":\"\\\"cmd\\\" must be a string\"}");
	ctl_raw_close(&r);
	ctl_stop(&s);
}

static void
test_ctl_malformed(void)
{
	static const char lines[] =
	    "{bad\n"                                   /* not JSON */
	    "[1,2]\n"                                  /* JSON, not an object */
	    "\n   \n"                                  /* blank: ignored */
	    "{\"cmd\":\"echo\",\"arg\":\"crlf\"}\r\n"  /* CRLF */
	    "{\"cmd\":\"echo\",\"arg\":\"one\"}\n{\"cmd\":\"echo\",\"arg\":\"two\"}\n"
	    "{\"cmd\":\"ec";                           /* the rest comes later */
	struct ctl_server s;
	struct ctl_raw r;

	if (ctl_start(&s, "s.sock", 4) < 0) {
		CU_FAIL("start");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&r, s.path), 0);
	ctl_raw_send(&r, lines, sizeof lines - 1);
	EXPECT_LINE(&r, "{\"ok\":false,\"error\":\"malformed JSON: *");
	EXPECT_LINE(&r, "{\"ok\":false,\"error\":\"a request is a JSON object: *");
	EXPECT_LINE(&r, "{\"ok\":true,\"echo\":\"crlf\",\"n\":42}");
	EXPECT_LINE(&r, "{\"ok\":true,\"echo\":\"one\",\"n\":42}");
	EXPECT_LINE(&r, "{\"ok\":true,\"echo\":\"two\",\"n\":42}");
	usleep(50 * 1000);
	ctl_raw_puts(&r, "ho\",\"arg\":\"split\"}\n");
	/* the connection survived all of it */
	EXPECT_LINE(&r, "{\"ok\":true,\"echo\":\"split\",\"n\":42}");
	/* a last request without a newline, then EOF: answered, then closed */
	ctl_raw_puts(&r, "{\"cmd\":\"echo\",\"arg\":\"last\"}");
	shutdown(r.fd, SHUT_WR);
	EXPECT_LINE(&r, "{\"ok\":true,\"echo\":\"last\",\"n\":42}");
	CU_ASSERT(ctl_raw_eof(&r));
	ctl_raw_close(&r);
	ctl_stop(&s);
}

static void
test_ctl_oversized(void)
{
	const size_t max = CTP_CTL_MAX_REQUEST;
	struct ctl_server s;
	struct ctp_err err;
	struct ctl_raw r;
	char *req, *got;
	size_t n;
	int rc;

	if (ctl_start(&s, "s.sock", 4) < 0) {
		CU_FAIL("start");
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL((req = malloc(max + 2)));

	/* exactly CTP_CTL_MAX_REQUEST octets before the newline: accepted */
	n = (size_t)snprintf(req, max, "{\"cmd\":\"echo\",\"arg\":\"x\"");
	memset(req + n, ' ', max - n - 1);
	req[max - 1] = '}';
	req[max] = '\n';
	CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&r, s.path), 0);
	ctl_raw_send(&r, req, max + 1);
	EXPECT_LINE(&r, "{\"ok\":true,\"echo\":\"x\",\"n\":42}");
	/* one more octet: an error line, then the server closes */
	memset(req, ' ', max + 1);
	ctl_raw_send(&r, req, max + 1);
	EXPECT_LINE(&r, "{\"ok\":false,\"error\":\"request longer than 65536 octets; closing\"}");
	CU_ASSERT(ctl_raw_eof(&r));
	ctl_raw_close(&r);

	/* through ctp_ctl_call, which goes on reading while it sends */
	memset(req, 'a', max);
	req[max] = 0;
	got = ctl_call(s.path, "echo", req, &rc, &err);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(got && strcmp(got, "{\"ok\":false,\"error\":\"request longer than 65536 octets; "
	    "closing\"}") == 0);
	free(got);
	free(req);
	/* and the server carries on */
	EXPECT_CALL(s.path, "echo", "after", "{\"ok\":true,\"echo\":\"after\",\"n\":42}");
	ctl_stop(&s);
}

static void
test_ctl_max_clients(void)
{
	struct ctl_server s;
	struct ctl_raw a, b;
	struct ctp_err err;
	char *got = NULL;
	int rc, tries;

	if (ctl_start(&s, "s.sock", 2) < 0) {
		CU_FAIL("start");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&a, s.path), 0);
	CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&b, s.path), 0);
	/* an answer means the server has accepted and counted each */
	ctl_raw_puts(&a, "{\"cmd\":\"help\"}\n");
	EXPECT_LINE(&a, "{\"ok\":true,*");
	ctl_raw_puts(&b, "{\"cmd\":\"clients\"}\n");
	EXPECT_LINE(&b, "{\"ok\":true,\"clients\":2}");

	EXPECT_CALL(s.path, "help", NULL,
	    "{\"ok\":false,\"error\":\"too many clients (at most 2); try again later\"}");

	/* one leaves: there is room again once the server has seen it go */
	ctl_raw_close(&b);
	for (tries = 0; tries < 500; tries++) {
		free(got);
		got = ctl_call(s.path, "echo", "in", &rc, &err);
		if (rc == 0 && got && strstr(got, "\"ok\":true"))
			break;
		usleep(20 * 1000);
	}
	CU_ASSERT(tries < 500);
	free(got);
	ctl_raw_puts(&a, "{\"cmd\":\"clients\"}\n");
	EXPECT_LINE(&a, "{\"ok\":true,\"clients\":*");
	ctl_raw_close(&a);
	ctl_stop(&s);
}

static void
test_ctl_socket_mode(void)
{
	struct ctl_server s;
	struct stat st;
	mode_t old = umask(0);   /* the mode must not depend on the umask */

	if (ctl_start(&s, "s.sock", 4) < 0) {
		umask(old);
		CU_FAIL("start");
		return;
	}
	umask(old);
	CU_ASSERT_EQUAL(lstat(s.path, &st), 0);
	CU_ASSERT(S_ISSOCK(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	ctl_stop(&s);
}

/* A socket file nobody listens on: what a daemon that died leaves. */
static void
ctl_make_stale(const char path[100])
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	unlink(path);
	CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
}

static void
test_ctl_stale(void)
{
	struct ctl_server s;
	struct ctp_err err;
	char path[100], want[256];
	int rc;

	ctl_path(path, sizeof path, "stale.sock");
	ctl_make_stale(path);
	/* the client: nobody listening there */
	free(ctl_call(path, "help", NULL, &rc, &err));
	CU_ASSERT_EQUAL(rc, CTP_E_IO);
	snprintf(want, sizeof want, "no ctpd is listening on %s (is it running? see -s)", path);
	CU_ASSERT_STRING_EQUAL(err.what, want);
	/* the server replaces it */
	if (ctl_start(&s, "stale.sock", 4) < 0) {
		CU_FAIL("start over a stale socket");
		return;
	}
	EXPECT_CALL(s.path, "echo", "new", "{\"ok\":true,\"echo\":\"new\",\"n\":42}");
	ctl_stop(&s);
}

static void
test_ctl_refuse(void)
{
	struct ctl_server s;
	struct ctp_ctl *c2 = NULL;
	struct ctp_err err = { 0 };
	char path[128], longpath[200];
	uv_loop_t loop2;
	struct stat st;
	FILE *f;

	if (ctl_start(&s, "s.sock", 4) < 0) {
		CU_FAIL("start");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(uv_loop_init(&loop2), 0);
	/* a daemon answers there: refused, and its socket left alone */
	CU_ASSERT_EQUAL(ctp_ctl_open(&loop2, s.path, 4, &c2, &err), CTP_E_EXIST);
	CU_ASSERT_PTR_NULL(c2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, s.path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "already listening"));
	EXPECT_CALL(s.path, "echo", "still", "{\"ok\":true,\"echo\":\"still\",\"n\":42}");

	/* not a socket: never removed */
	ctl_path(path, sizeof path, "file");
	CU_ASSERT_PTR_NOT_NULL_FATAL((f = fopen(path, "w")));
	fputs("precious\n", f);
	fclose(f);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_ctl_open(&loop2, path, 4, &c2, &err), CTP_E_EXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "not a socket"));
	CU_ASSERT(stat(path, &st) == 0 && st.st_size == 9);
	unlink(path);

	/* too long for sun_path; no clients allowed */
	memset(longpath, 'p', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = 0;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ctp_ctl_open(&loop2, longpath, 4, &c2, &err), CTP_E_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "longer than"));
	ctl_path(path, sizeof path, "t.sock");
	CU_ASSERT_EQUAL(ctp_ctl_open(&loop2, path, 0, &c2, &err), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ctp_ctl_open(&loop2, "", 4, &c2, &err), CTP_E_INVAL);

	/* nothing of the failed attempts is left on the loop */
	uv_run(&loop2, UV_RUN_DEFAULT);
	CU_ASSERT_EQUAL(uv_loop_close(&loop2), 0);
	ctl_stop(&s);
}

static void
test_ctl_no_daemon(void)
{
	struct ctp_err err;
	char path[128], want[256];
	int rc;

	ctl_path(path, sizeof path, "none.sock");
	free(ctl_call(path, "status", NULL, &rc, &err));
	CU_ASSERT_EQUAL(rc, CTP_E_IO);
	snprintf(want, sizeof want, "no ctpd is listening on %s (is it running? see -s)", path);
	CU_ASSERT_STRING_EQUAL(err.what, want);

	free(ctl_call("/nonexistent-dir/ctpd.sock", "status", NULL, &rc, &err));
	CU_ASSERT_EQUAL(rc, CTP_E_IO);
	CU_ASSERT_STRING_EQUAL(err.what,
	    "no ctpd is listening on /nonexistent-dir/ctpd.sock (is it running? see -s)");
}

/* Something accepts but never answers: the caller's timeout holds. */
static void
test_ctl_timeout(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ctp_val *req = ctp_val_obj(), *reply = NULL;
	struct ctp_err err = { 0 };
	char path[100];
	uint64_t t0, dt;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ctl_path(path, sizeof path, "l.sock");
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	unlink(path);
	CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0 &&
	    listen(fd, 4) == 0);
	ctp_val_set_str(req, "cmd", "status");
	t0 = ctl_now_ms();
	CU_ASSERT_EQUAL(ctp_ctl_call(path, req, 200, &reply, &err), CTP_E_TIMEDOUT);
	dt = ctl_now_ms() - t0;
	CU_ASSERT(dt >= 190 && dt < CALL_MS);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "no reply within 200 ms"));
	CU_ASSERT_PTR_NULL(reply);
	ctp_val_free(req);
	close(fd);
	unlink(path);
}

/* A reply larger than the write queue limit, with a request pipelined
 * behind it: reading pauses and resumes, and both are answered in order. */
static void
test_ctl_big_reply(void)
{
	struct ctl_server s;
	struct ctl_raw r;
	const char *line;

	if (ctl_start(&s, "s.sock", 4) < 0) {
		CU_FAIL("start");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&r, s.path), 0);
	ctl_raw_puts(&r, "{\"cmd\":\"big\"}\n{\"cmd\":\"big\"}\n{\"cmd\":\"echo\",\"arg\":\"z\"}\n");
	for (int i = 0; i < 2; i++) {
		line = ctl_raw_line(&r);
		CU_ASSERT(line && strlen(line) == CTL_BIG + 20);
	}
	EXPECT_LINE(&r, "{\"ok\":true,\"echo\":\"z\",\"n\":42}");
	ctl_raw_close(&r);
	ctl_stop(&s);
}

/* Clients that leave before their replies are written: the server stays. */
static void
test_ctl_client_gone(void)
{
	struct ctl_server s;
	struct ctl_raw r;

	if (ctl_start(&s, "s.sock", 4) < 0) {
		CU_FAIL("start");
		return;
	}
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&r, s.path), 0);
		ctl_raw_puts(&r, i == 0 ? "{\"cmd\":\"big\"}\n{\"cmd\":\"echo\"}\n" :
		    "{\"cmd\":\"echo\"}\n{\"cmd\":\"echo\"}\n{\"cmd\":\"bad\n");
		ctl_raw_close(&r);
	}
	EXPECT_CALL(s.path, "echo", "alive", "{\"ok\":true,\"echo\":\"alive\",\"n\":42}");
	ctl_stop(&s);
}

/* A handler that closes the server: no reply, but nothing breaks. */
static void
test_ctl_close_in_handler(void)
{
	struct ctl_server s;
	struct ctl_raw r;
	struct ctp_err err;
	struct stat st;
	int rc;

	if (ctl_start(&s, "s.sock", 4) < 0) {
		CU_FAIL("start");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&r, s.path), 0);   /* another client */
	ctl_raw_puts(&r, "{\"cmd\":\"help\"}\n");
	EXPECT_LINE(&r, "{\"ok\":true,*");
	free(ctl_call(s.path, "close", NULL, &rc, &err));
	CU_ASSERT_EQUAL(rc, CTP_E_IO);
	CU_ASSERT(ctl_raw_eof(&r));
	CU_ASSERT(lstat(s.path, &st) < 0);
	ctl_raw_close(&r);
	ctl_stop(&s);
}

static void
test_ctl_idle(void)
{
	const char *ms = getenv("CTP_TEST_CTL_IDLE_MS");
	struct ctl_server s;
	struct ctl_raw r;

	if (!ms)
		return;
	if (ctl_start(&s, "s.sock", 4) < 0) {
		CU_FAIL("start");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&r, s.path), 0);
	ctl_raw_puts(&r, "{\"cmd\":\"help\"}\n");
	EXPECT_LINE(&r, "{\"ok\":true,*");
	EXPECT_LINE(&r, "{\"ok\":false,\"error\":\"idle for *");
	CU_ASSERT(ctl_raw_eof(&r));
	ctl_raw_close(&r);

	/* One that never reads its replies cannot hold its connection open:
	 * idle, it is sent its last line, and when that cannot be written
	 * either it is closed after another idle time, the rest of its big
	 * reply never sent. */
	CU_ASSERT_EQUAL_FATAL(ctl_raw_open(&r, s.path), 0);
	ctl_raw_puts(&r, "{\"cmd\":\"big\"}\n");
	usleep(3 * (useconds_t)atoi(ms) * 1000);
	{
		size_t got = 0;

		for (;;) {
			struct pollfd pfd = { .fd = r.fd, .events = POLLIN };
			char buf[65536];
			ssize_t k;

			if (poll(&pfd, 1, 2000) != 1) {
				CU_FAIL("the server kept a client that does not read");
				break;
			}
			if ((k = recv(r.fd, buf, sizeof buf, 0)) <= 0)
				break;
			got += (size_t)k;
		}
		CU_ASSERT(got < CTL_BIG);
	}
	ctl_raw_close(&r);
	ctl_stop(&s);
}

CTP_TEST_SUITE(ctl, ctl_suite_init, ctl_suite_clean,
    CTP_TEST(test_ctl_register),
    CTP_TEST(test_ctl_commands),
    CTP_TEST(test_ctl_unknown),
    CTP_TEST(test_ctl_malformed),
    CTP_TEST(test_ctl_oversized),
    CTP_TEST(test_ctl_max_clients),
    CTP_TEST(test_ctl_socket_mode),
    CTP_TEST(test_ctl_stale),
    CTP_TEST(test_ctl_refuse),
    CTP_TEST(test_ctl_no_daemon),
    CTP_TEST(test_ctl_timeout),
    CTP_TEST(test_ctl_big_reply),
    CTP_TEST(test_ctl_client_gone),
    CTP_TEST(test_ctl_close_in_handler),
    CTP_TEST(test_ctl_idle),
);
