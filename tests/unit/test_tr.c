/*
 * test_tr.c: the usrsctp and mem transports (ctp_tr.h, PROFILE 2).
 *
 * Real SCTP throughout: ctp_tr_mem transports in one uv loop exchange
 * packets over the in-memory wire (which drops, duplicates, reorders and
 * blackholes on command), and ctp_tr_usrsctp transports talk RFC 6951
 * SCTP-in-UDP over 127.0.0.1.  Every test opens its own loop and closes
 * every transport again, so the process-wide usrsctp stack is started and
 * stopped once per test: the suite doubles as the test that the singleton
 * survives many open/close cycles (test_tr_cycles counts them).
 *
 * Messages carry (sequence number, stream) and a pattern derived from them,
 * so every receiver checks content, PPID, order per stream, and that
 * nothing arrives twice or not at all.
 *
 * Time bounds come from ctp_tr_rto.h, the derivation both SCTP backends
 * share; failure tests use a small CT_MAX_TRANSFER_TIME so that they take
 * about two seconds (the shortest dead time the derivation allows).
 *
 * CTP_TEST_LOG=1 prints the transports' log lines.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "ctp/ctp_log.h"
#include "ctp/ctp_tr.h"
#include "ctp/ctp_tr_rto.h"
#include "test.h"

/* An assertion that says what went wrong; cond is evaluated once. */
#define CHECK(cond, ...) do {                                                \
	int check_ok_ = !!(cond);                                            \
	if (!check_ok_) {                                                    \
		fprintf(stderr, "\n  %s:%d: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                                \
		fputc('\n', stderr);                                         \
	}                                                                    \
	CU_assertImplementation(check_ok_, __LINE__, #cond, __FILE__, "",    \
	    CU_FALSE);                                                       \
} while (0)

#define TR_PPID     0x43585450u   /* "CXTP"; stream s carries TR_PPID + s */
#define TR_STREAMS  4
#define TR_HDR      6             /* sequence number (4) | stream (2) */
#define TR_BIG      (60 * 1024)
#define TR_MAX      (64 * 1024 + 4096)   /* the backends' message limit */
#define TR_FAST_MS  40            /* CT_MAX_TRANSFER_TIME for failure tests */

/* ---- captured log ------------------------------------------------------- */

static struct {
	unsigned started, stopped, table_full, forgetting;
	unsigned not_sctp, wrong_port, unknown;
	int      echo;
} trlog;

static void
tr_log_hook(int level, const char *line, void *arg)
{
	(void)arg;
	if (trlog.echo)
		fprintf(stderr, "    [%d] %s\n", level, line);
	if (strstr(line, "usrsctp started"))
		trlog.started++;
	if (strstr(line, "usrsctp stopped"))
		trlog.stopped++;
	if (strstr(line, "peer table full"))
		trlog.table_full++;
	if (strstr(line, "forgetting"))
		trlog.forgetting++;
	if (strstr(line, "is no SCTP packet"))
		trlog.not_sctp++;
	if (strstr(line, ", not ours ("))
		trlog.wrong_port++;
	if (strstr(line, "from unknown"))
		trlog.unknown++;
}

static int
tr_init(void)
{
	trlog.echo = getenv("CTP_TEST_LOG") != NULL;
	ctp_log_open("test", CTP_LOG_NONE, CTP_LOG_DEBUG);
	ctp_log_set_hook(tr_log_hook, NULL);
	return 0;
}

static int
tr_clean(void)
{
	ctp_log_set_hook(NULL, NULL);
	ctp_log_open("ctp", CTP_LOG_STDERR, CTP_LOG_NOTICE);
	ctp_mem_wire_clear();
	return 0;
}

/* ---- one side of a conversation ---------------------------------------- */

struct side {
	const char              *name;
	const struct ctp_tr_ops *ops;
	struct ctp_tr           *t;
	struct ctp_tr_cfg        cfg;
	uv_loop_t               *loop;
	struct ctp_tr_peer      *peer;      /* the latest that came up */
	int                      ups, downs, last_down, closed, writables;
	uint64_t                 down_at;   /* loop ms */
	/* receiving */
	uint64_t                 msgs, bytes;
	uint32_t                 next_seq[TR_STREAMS];
	unsigned                 bad_order, bad_ppid, bad_data, echo_fail;
	int                      echo;      /* send every message back */
	/* sending: a pump that honours CTP_E_AGAIN and writable */
	struct ctp_tr_peer      *to;
	uint32_t                 to_send, sent, seq[TR_STREAMS];
	size_t                   msg_len;
	unsigned                 agains, send_errors;
};

static void
tr_fill(uint8_t *buf, size_t len, uint32_t seq, uint16_t sid)
{
	buf[0] = (uint8_t)(seq >> 24);
	buf[1] = (uint8_t)(seq >> 16);
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	buf[4] = (uint8_t)(sid >> 8);
	buf[5] = (uint8_t)sid;
	for (size_t i = TR_HDR; i < len; i++)
		buf[i] = (uint8_t)(seq * 31 + i * 7 + sid);
}

/* One message (seq, sid) of len octets from s to p. */
static int
tr_send(struct side *s, struct ctp_tr_peer *p, uint32_t seq, uint16_t sid, size_t len)
{
	uint8_t *buf = malloc(len);
	int rc;

	if (!buf)
		return CTP_E_NOMEM;
	tr_fill(buf, len, seq, sid);
	rc = s->ops->send(p, sid, TR_PPID + sid, buf, len);
	free(buf);
	return rc;
}

/* Send until to_send are out or the transport says CTP_E_AGAIN; writable
 * calls it again.  Streams are used round robin. */
static void
tr_pump(struct side *s)
{
	while (s->to && s->sent < s->to_send) {
		uint16_t sid = (uint16_t)(s->sent % TR_STREAMS);
		int rc = tr_send(s, s->to, s->seq[sid], sid, s->msg_len);

		if (rc == CTP_E_AGAIN) {
			s->agains++;
			return;
		}
		if (rc < 0) {
			s->send_errors++;
			return;
		}
		s->seq[sid]++;
		s->sent++;
	}
}

static void
tr_up(struct ctp_tr_peer *p, void *ud)
{
	struct side *s = ud;

	s->ups++;
	s->peer = p;
}

static void
tr_down(struct ctp_tr_peer *p, int reason, void *ud)
{
	struct side *s = ud;

	s->downs++;
	s->last_down = reason;
	s->down_at = uv_now(s->loop);
	if (s->peer == p)
		s->peer = NULL;
	if (s->to == p)
		s->to = NULL;
}

static void
tr_msg(struct ctp_tr_peer *p, uint16_t sid, uint32_t ppid, const uint8_t *buf, size_t len,
    void *ud)
{
	struct side *s = ud;
	uint32_t seq;

	s->msgs++;
	s->bytes += len;
	if (ppid != TR_PPID + sid)
		s->bad_ppid++;
	if (len < TR_HDR || sid >= TR_STREAMS) {
		s->bad_data++;
		return;
	}
	seq = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	if ((uint16_t)(buf[4] << 8 | buf[5]) != sid)
		s->bad_data++;
	if (seq != s->next_seq[sid])
		s->bad_order++;
	s->next_seq[sid] = seq + 1;
	for (size_t i = TR_HDR; i < len; i++)
		if (buf[i] != (uint8_t)(seq * 31 + i * 7 + sid)) {
			s->bad_data++;
			break;
		}
	/* from inside the callback, as the contract allows */
	if (s->echo && s->ops->send(p, sid, ppid, buf, len) != 0)
		s->echo_fail++;
}

static void
tr_writable(struct ctp_tr_peer *p, void *ud)
{
	struct side *s = ud;

	(void)p;
	s->writables++;
	tr_pump(s);
}

static const struct ctp_tr_cb tr_cb = { tr_up, tr_down, tr_msg, tr_writable };

static struct sockaddr_storage
tr_addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof ss);
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s4->sin_addr);
	return ss;
}

static void
tr_side(struct side *s, uv_loop_t *loop, const struct ctp_tr_ops *ops, const char *name,
    const char *ip, uint16_t port)
{
	memset(s, 0, sizeof *s);
	s->name = name;
	s->ops = ops;
	s->loop = loop;
	s->cfg.name = name;
	s->cfg.bind = tr_addr(ip, port);
	s->cfg.sctp_port = 5091;
	s->cfg.udp_port = 9899;
	s->cfg.max_peers = 16;
	s->cfg.max_transfer_ms = 200;
	s->cfg.queue_max = 256 * 1024;
	s->cfg.idle_peer_ms = 30000;
}

static int
tr_open(struct side *s)
{
	struct ctp_err err;
	int rc;

	ctp_err_clear(&err);
	rc = s->ops->open(s->loop, &s->cfg, &tr_cb, s, &s->t, &err);
	CHECK(rc == 0, "%s: open: %s", s->name, err.what);
	return rc;
}

static struct ctp_tr_peer *
tr_connect(struct side *s, const struct side *to)
{
	struct ctp_tr_peer *p = NULL;
	struct ctp_err err;
	int rc;

	ctp_err_clear(&err);
	rc = s->ops->connect(s->t, (const struct sockaddr *)&to->cfg.bind, &p, &err);
	CHECK(rc == 0 && p, "%s: connect: %s", s->name, err.what);
	return p;
}

/* Run the loop until cond holds or ms pass; 1 when it holds. */
static int
tr_run(uv_loop_t *loop, int (*cond)(void *), void *arg, unsigned ms)
{
	uint64_t end;

	uv_update_time(loop);
	end = uv_now(loop) + ms;
	while (!cond(arg)) {
		if (uv_now(loop) > end)
			return 0;
		uv_run(loop, UV_RUN_ONCE);
	}
	return 1;
}

/* Conditions for tr_run over an array of sides, NULL-terminated. */
static int
tr_all_up(void *arg)
{
	for (struct side **s = arg; *s; s++)
		if ((*s)->ups < 1)
			return 0;
	return 1;
}

static int
tr_all_down(void *arg)
{
	for (struct side **s = arg; *s; s++)
		if ((*s)->downs < 1)
			return 0;
	return 1;
}

static int
tr_all_closed(void *arg)
{
	for (struct side **s = arg; *s; s++)
		if ((*s)->t && !(*s)->closed)
			return 0;
	return 1;
}

static void
tr_done(void *arg)
{
	struct side *s = arg;

	s->closed = 1;
}

static int
tr_wait(void *arg)
{
	(void)arg;
	return 0;
}

/* Let the loop run for ms. */
static void
tr_sleep(uv_loop_t *loop, unsigned ms)
{
	tr_run(loop, tr_wait, NULL, ms);
}

/* Close every side, wait for done, and check nothing is left on the loop. */
static void
tr_close_all(uv_loop_t *loop, struct side **sides)
{
	for (struct side **s = sides; *s; s++)
		if ((*s)->t && !(*s)->closed)
			(*s)->ops->close((*s)->t, tr_done, *s);
	CHECK(tr_run(loop, tr_all_closed, sides, 5000), "close did not complete");
	uv_run(loop, UV_RUN_DEFAULT);   /* returns only once no handle is left */
	CHECK(uv_loop_close(loop) == 0, "handles left on the loop");
	ctp_mem_wire_clear();
}

/* A connected pair a -> b over ops: both sides up. */
static int
tr_pair(uv_loop_t *loop, struct side *a, struct side *b)
{
	struct side *both[] = { a, b, NULL };

	if (tr_open(a) < 0 || tr_open(b) < 0)
		return -1;
	a->to = tr_connect(a, b);
	CHECK(tr_run(loop, tr_all_up, both, 5000), "%s and %s did not come up", a->name, b->name);
	b->to = b->peer;
	return a->ups && b->ups ? 0 : -1;
}

struct sent_cond {
	struct side *rx;
	uint64_t     want;
};

static int
tr_received(void *arg)
{
	struct sent_cond *c = arg;

	return c->rx->msgs >= c->want;
}

/* ---- the tests ------------------------------------------------------------ */

static void
test_tr_names(void)
{
	char why[160] = "";
	const struct ctp_tr_ops *ops;

	CU_ASSERT_STRING_EQUAL(ctp_tr_down_name(CTP_TR_DOWN_SHUTDOWN), "shutdown");
	CU_ASSERT_STRING_EQUAL(ctp_tr_down_name(CTP_TR_DOWN_LOST), "lost");
	CU_ASSERT_STRING_EQUAL(ctp_tr_down_name(CTP_TR_DOWN_REFUSED), "refused");
	CU_ASSERT_STRING_EQUAL(ctp_tr_down_name(CTP_TR_DOWN_ABORTED), "aborted");
	CU_ASSERT_STRING_EQUAL(ctp_tr_down_name(CTP_TR_DOWN_LOCAL), "local");
	CU_ASSERT_STRING_EQUAL(ctp_tr_down_name(0), "?");
	ops = ctp_tr_pick(why, sizeof why);
	CHECK(ops == &ctp_tr_kernel || ops == &ctp_tr_usrsctp, "pick: %p", (const void *)ops);
	if (ops == &ctp_tr_usrsctp)
		CHECK(strstr(why, "unavailable") && strstr(why, "usrsctp"), "why: %s", why);
	else
		CHECK(strstr(why, "kernel") != NULL, "why: %s", why);
	CU_ASSERT_STRING_EQUAL(ctp_tr_usrsctp.name, "usrsctp");
	CU_ASSERT_STRING_EQUAL(ctp_tr_mem.name, "mem");
}

/* Association up on both sides; what each side knows of the other. */
static void
test_tr_mem_up(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct ctp_tr_peer *p, *again = NULL;
	struct sockaddr_storage bad;
	struct ctp_err err;

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	if (tr_open(&a) == 0 && tr_open(&b) == 0) {
		p = tr_connect(&a, &b);
		CHECK(p && !p->up && p->outbound, "a fresh outbound peer");
		/* nothing to send on before COMM_UP */
		if (p)
			CHECK(tr_send(&a, p, 0, 0, 100) == CTP_E_STATE, "send before up");
		CHECK(tr_run(&loop, tr_all_up, all, 5000), "not up");
		CHECK(a.peer == p && p && p->up, "a's up names the peer connect returned");
		CHECK(b.peer && b.peer->up && !b.peer->outbound, "b sees an inbound association");
		if (b.peer)
			CHECK(memcmp(&b.peer->addr, &a.cfg.bind, sizeof(struct sockaddr_in)) == 0,
			    "b knows a by its address");
		/* an association that exists is returned */
		ctp_err_clear(&err);
		CHECK(a.ops->connect(a.t, (struct sockaddr *)&b.cfg.bind, &again, &err) == 0 &&
		    again == p, "connect again: %s", err.what);
		/* a mem address is taken once */
		{
			struct side dup;
			struct ctp_tr *t = NULL;

			tr_side(&dup, &loop, &ctp_tr_mem, "dup", "10.0.0.1", 9899);
			ctp_err_clear(&err);
			CHECK(ctp_tr_mem.open(&loop, &dup.cfg, &tr_cb, &dup, &t, &err) == CTP_E_EXIST,
			    "second transport on a's address: %s", err.what);
		}
		memset(&bad, 0, sizeof bad);
		CHECK(a.ops->connect(a.t, (struct sockaddr *)&bad, &again, &err) == CTP_E_INVAL,
		    "connect to no address");
		CHECK(a.ups == 1 && b.ups == 1 && a.downs == 0 && b.downs == 0, "one up each");
	}
	tr_close_all(&loop, all);
	/* close() shut the association down gracefully */
	CHECK(a.downs == 1 && b.downs == 1, "downs %d %d", a.downs, b.downs);
	CHECK(a.last_down == CTP_TR_DOWN_SHUTDOWN && b.last_down == CTP_TR_DOWN_SHUTDOWN,
	    "down reasons %s %s", ctp_tr_down_name(a.last_down), ctp_tr_down_name(b.last_down));
}

/* Both ways, on every stream, PPIDs preserved; b answers from its callback. */
static void
test_tr_mem_streams(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct sent_cond c = { &a, 200 };
	uint8_t big[TR_MAX + 1];

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	b.echo = 1;
	if (tr_pair(&loop, &a, &b) == 0) {
		a.to_send = 200;
		a.msg_len = 300;
		tr_pump(&a);
		CHECK(a.sent == 200, "a sent %u", a.sent);
		CHECK(tr_run(&loop, tr_received, &c, 5000), "a got %llu echoes",
		    (unsigned long long)a.msgs);
		CHECK(b.msgs == 200 && a.msgs == 200, "b %llu a %llu", (unsigned long long)b.msgs,
		    (unsigned long long)a.msgs);
		CHECK(!a.bad_order && !a.bad_ppid && !a.bad_data && !b.bad_order && !b.bad_ppid &&
		    !b.bad_data && !b.echo_fail, "order %u/%u ppid %u/%u data %u/%u echo %u",
		    a.bad_order, b.bad_order, a.bad_ppid, b.bad_ppid, a.bad_data, b.bad_data,
		    b.echo_fail);
		for (int i = 0; i < TR_STREAMS; i++)
			CHECK(b.next_seq[i] == 50, "stream %d: %u messages", i, b.next_seq[i]);
		CHECK(a.to->msgs_out == 200 && a.to->msgs_in == 200 && a.to->bytes_out == 200 * 300,
		    "counters out %llu in %llu", (unsigned long long)a.to->msgs_out,
		    (unsigned long long)a.to->msgs_in);
		/* what send refuses */
		memset(big, 0, sizeof big);
		CU_ASSERT_EQUAL(a.ops->send(a.to, 0, TR_PPID, big, 0), CTP_E_INVAL);
		CU_ASSERT_EQUAL(a.ops->send(a.to, 8, TR_PPID, big, 10), CTP_E_INVAL);
		CU_ASSERT_EQUAL(a.ops->send(a.to, 0, TR_PPID, big, TR_MAX + 1), CTP_E_LIMIT);
		CU_ASSERT_EQUAL(a.ops->send(a.to, 0, TR_PPID, NULL, 10), CTP_E_INVAL);
	}
	tr_close_all(&loop, all);
}

/* 60 KB messages (and the largest allowed) arrive whole, both ways. */
static void
test_tr_mem_large(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct sent_cond cb_ = { &b, 6 }, ca = { &a, 3 };

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	if (tr_pair(&loop, &a, &b) == 0) {
		a.to_send = 5;
		a.msg_len = TR_BIG;
		tr_pump(&a);
		/* the largest message, on stream 1 (the pump used 0..3, 0 last) */
		CHECK(tr_send(&a, a.to, a.seq[1]++, 1, TR_MAX) == 0, "max size message");
		b.to_send = 3;
		b.msg_len = TR_BIG;
		tr_pump(&b);
		CHECK(tr_run(&loop, tr_received, &cb_, 5000), "b got %llu", (unsigned long long)b.msgs);
		CHECK(tr_run(&loop, tr_received, &ca, 5000), "a got %llu", (unsigned long long)a.msgs);
		CHECK(b.bytes == 5ull * TR_BIG + TR_MAX, "b got %llu octets",
		    (unsigned long long)b.bytes);
		CHECK(a.bytes == 3ull * TR_BIG, "a got %llu octets", (unsigned long long)a.bytes);
		CHECK(!a.bad_data && !b.bad_data && !a.bad_order && !b.bad_order,
		    "data %u/%u order %u/%u", a.bad_data, b.bad_data, a.bad_order, b.bad_order);
	}
	tr_close_all(&loop, all);
}

/* 10,000 messages, in order. */
static void
test_tr_mem_many(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct sent_cond c = { &b, 10000 };

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	if (tr_pair(&loop, &a, &b) == 0) {
		a.to_send = 10000;
		a.msg_len = 200;
		tr_pump(&a);
		CHECK(tr_run(&loop, tr_received, &c, 15000), "b got %llu of 10000 (a sent %u)",
		    (unsigned long long)b.msgs, a.sent);
		CHECK(b.msgs == 10000 && !b.bad_order && !b.bad_data && !b.bad_ppid,
		    "%llu messages, order %u data %u ppid %u", (unsigned long long)b.msgs,
		    b.bad_order, b.bad_data, b.bad_ppid);
		CHECK(a.send_errors == 0, "send errors %u", a.send_errors);
	}
	tr_close_all(&loop, all);
}

/* A tiny queue: CTP_E_AGAIN appears, writable follows, nothing is lost. */
static void
test_tr_mem_flow(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct sent_cond c = { &b, 400 };

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	a.cfg.queue_max = 8 * 1024;
	if (tr_pair(&loop, &a, &b) == 0) {
		a.to_send = 400;
		a.msg_len = 4000;   /* 1.6 MB: far more than usrsctp's send buffer */
		tr_pump(&a);
		CHECK(a.agains > 0 && a.sent < 400, "no back pressure: sent %u, %u CTP_E_AGAIN",
		    a.sent, a.agains);
		CHECK(a.to && a.to->queue_bytes <= 8 * 1024, "queue %zu over its limit",
		    a.to ? a.to->queue_bytes : 0);
		CHECK(tr_run(&loop, tr_received, &c, 10000), "b got %llu of 400 (a sent %u)",
		    (unsigned long long)b.msgs, a.sent);
		CHECK(a.writables > 0, "writable never called");
		CHECK(a.to && a.to->send_queued > 0, "nothing ever waited in the queue");
		CHECK(b.msgs == 400 && b.bytes == 400 * 4000 && !b.bad_order && !b.bad_data,
		    "%llu messages %llu octets, order %u data %u", (unsigned long long)b.msgs,
		    (unsigned long long)b.bytes, b.bad_order, b.bad_data);
		CHECK(a.to && a.to->queue_bytes == 0 && a.to->msgs_out == 400, "queue %zu, out %llu",
		    a.to ? a.to->queue_bytes : 0, a.to ? (unsigned long long)a.to->msgs_out : 0);
	}
	tr_close_all(&loop, all);
}

/* Graceful SHUTDOWN: down with SHUTDOWN on both sides; then a new one. */
static void
test_tr_mem_shutdown(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct ctp_tr_peer *p;

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	if (tr_pair(&loop, &a, &b) == 0) {
		/* queued data still goes out before the SHUTDOWN */
		a.to_send = 50;
		a.msg_len = 1000;
		tr_pump(&a);
		p = a.to;
		a.ops->close_peer(p, 0);
		CHECK(tr_send(&a, p, 0, 0, 10) == CTP_E_STATE, "send after close_peer");
		CHECK(tr_run(&loop, tr_all_down, all, 5000), "not down");
		CHECK(a.last_down == CTP_TR_DOWN_SHUTDOWN && b.last_down == CTP_TR_DOWN_SHUTDOWN,
		    "reasons %s %s", ctp_tr_down_name(a.last_down), ctp_tr_down_name(b.last_down));
		CHECK(b.msgs == 50 && !b.bad_order, "b got %llu before the SHUTDOWN",
		    (unsigned long long)b.msgs);
		/* the address can be used again at once */
		a.ups = b.ups = 0;
		memset(b.next_seq, 0, sizeof b.next_seq);
		a.to = tr_connect(&a, &b);
		CHECK(tr_run(&loop, tr_all_up, all, 5000), "no second association");
		CHECK(a.to != NULL && a.to->up, "a new association");
	}
	tr_close_all(&loop, all);
}

/* ABORT: LOCAL for who sent it, ABORTED for the other. */
static void
test_tr_mem_abort(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	if (tr_pair(&loop, &a, &b) == 0) {
		a.ops->close_peer(a.to, 1);
		/* nothing is reported from inside the call */
		CHECK(a.downs == 0, "down from inside close_peer");
		CHECK(tr_run(&loop, tr_all_down, all, 5000), "not down");
		CHECK(a.last_down == CTP_TR_DOWN_LOCAL && b.last_down == CTP_TR_DOWN_ABORTED,
		    "reasons %s %s", ctp_tr_down_name(a.last_down), ctp_tr_down_name(b.last_down));
		CHECK(a.downs == 1 && b.downs == 1, "downs %d %d", a.downs, b.downs);
	}
	tr_close_all(&loop, all);
}

/* A peer that disappears: LOST within the bound the RTO derivation gives. */
static void
test_tr_mem_blackhole(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct ctp_mem_fault hole = { .blackhole = 1 };
	struct ctp_tr_rto r;
	uint64_t t0, took_a, took_b, bound;

	ctp_tr_rto_derive(TR_FAST_MS, &r);
	/* the retransmissions add up to the dead time, the last at most
	 * RTO.max past it; plus the 10 ms ticker and a loaded machine */
	bound = r.dead_ms + 2 * r.rto_max_ms + 700;
	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	a.cfg.max_transfer_ms = b.cfg.max_transfer_ms = TR_FAST_MS;
	if (tr_pair(&loop, &a, &b) == 0) {
		ctp_mem_wire_fault((struct sockaddr *)&a.cfg.bind, (struct sockaddr *)&b.cfg.bind, &hole);
		ctp_mem_wire_fault((struct sockaddr *)&b.cfg.bind, (struct sockaddr *)&a.cfg.bind, &hole);
		t0 = uv_now(&loop);
		CHECK(tr_send(&a, a.to, 0, 0, 100) == 0, "a send");
		CHECK(tr_send(&b, b.to, 0, 0, 100) == 0, "b send");
		CHECK(tr_run(&loop, tr_all_down, all, (unsigned)bound + 1000), "not lost");
		took_a = a.down_at - t0;
		took_b = b.down_at - t0;
		if (trlog.echo)
			fprintf(stderr, "    lost after %llu / %llu ms (dead time %u, bound %llu)\n",
			    (unsigned long long)took_a, (unsigned long long)took_b, r.dead_ms,
			    (unsigned long long)bound);
		CHECK(a.last_down == CTP_TR_DOWN_LOST && b.last_down == CTP_TR_DOWN_LOST,
		    "reasons %s %s", ctp_tr_down_name(a.last_down), ctp_tr_down_name(b.last_down));
		CHECK(took_a >= r.dead_ms / 2 && took_a <= bound && took_b <= bound,
		    "lost after %llu / %llu ms; dead time %u, bound %llu", (unsigned long long)took_a,
		    (unsigned long long)took_b, r.dead_ms, (unsigned long long)bound);
		CHECK(b.msgs == 0 && a.msgs == 0, "something crossed the blackhole");
	}
	ctp_mem_wire_clear();
	tr_close_all(&loop, all);
}

/* 20 % loss, 20 % duplicates, 20 % reordering: every message exactly once,
 * in order on its stream. */
static void
test_tr_mem_faults(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct ctp_mem_fault bad = { .drop_pct = 20, .dup_pct = 20, .reorder_pct = 20 };
	struct sent_cond ca = { &a, 1500 }, cb_ = { &b, 1500 };
	uint64_t carried, dropped, dups, reordered;

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	ctp_mem_wire_seed(20240601);
	ctp_mem_wire_fault(NULL, NULL, &bad);
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	a.cfg.max_transfer_ms = b.cfg.max_transfer_ms = TR_FAST_MS;
	if (tr_pair(&loop, &a, &b) == 0) {
		a.to_send = b.to_send = 1500;
		a.msg_len = 700;
		b.msg_len = 1800;   /* two DATA chunks each */
		tr_pump(&a);
		tr_pump(&b);
		CHECK(tr_run(&loop, tr_received, &cb_, 15000), "b got %llu of 1500",
		    (unsigned long long)b.msgs);
		CHECK(tr_run(&loop, tr_received, &ca, 15000), "a got %llu of 1500",
		    (unsigned long long)a.msgs);
		tr_sleep(&loop, 100);   /* late duplicates would show now */
		CHECK(a.msgs == 1500 && b.msgs == 1500, "a %llu b %llu", (unsigned long long)a.msgs,
		    (unsigned long long)b.msgs);
		CHECK(!a.bad_order && !b.bad_order && !a.bad_data && !b.bad_data && !a.bad_ppid &&
		    !b.bad_ppid, "order %u/%u data %u/%u ppid %u/%u", a.bad_order, b.bad_order,
		    a.bad_data, b.bad_data, a.bad_ppid, b.bad_ppid);
		for (int i = 0; i < TR_STREAMS; i++)
			CHECK(a.next_seq[i] == 375 && b.next_seq[i] == 375, "stream %d: %u %u", i,
			    a.next_seq[i], b.next_seq[i]);
		ctp_mem_wire_stats(&carried, &dropped, &dups, &reordered);
		CHECK(dropped > 100 && dups > 100 && reordered > 100,
		    "carried %llu dropped %llu dups %llu reordered %llu",
		    (unsigned long long)carried, (unsigned long long)dropped,
		    (unsigned long long)dups, (unsigned long long)reordered);
		CHECK(a.downs == 0 && b.downs == 0, "the association died");
	}
	ctp_mem_wire_clear();
	tr_close_all(&loop, all);
}

/* Nobody serves the address: REFUSED, within the INIT bound. */
static void
test_tr_mem_unserved(void)
{
	uv_loop_t loop;
	struct side a, ghost, *all[] = { &a, NULL };
	struct ctp_tr_rto r;
	uint64_t t0, bound;

	ctp_tr_rto_derive(TR_FAST_MS, &r);
	bound = r.dead_ms + 2 * r.rto_max_ms + 700;
	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&ghost, &loop, &ctp_tr_mem, "ghost", "10.0.0.99", 9899);   /* never opened */
	a.cfg.max_transfer_ms = TR_FAST_MS;
	if (tr_open(&a) == 0) {
		t0 = uv_now(&loop);
		a.to = tr_connect(&a, &ghost);
		CHECK(tr_run(&loop, tr_all_down, all, (unsigned)bound + 1000), "no down");
		CHECK(a.last_down == CTP_TR_DOWN_REFUSED || a.last_down == CTP_TR_DOWN_LOST,
		    "reason %s", ctp_tr_down_name(a.last_down));
		CHECK(a.down_at - t0 <= bound, "down after %llu ms, bound %llu",
		    (unsigned long long)(a.down_at - t0), (unsigned long long)bound);
		CHECK(a.ups == 0 && a.to == NULL, "up %d", a.ups);
	}
	tr_close_all(&loop, all);
}

/* max_peers bounds the sources a transport keeps state for; a source
 * without an association is forgotten after idle_peer_ms. */
static void
test_tr_mem_max_peers(void)
{
	uv_loop_t loop;
	struct side s, c1, c2, c3, *all[] = { &s, &c1, &c2, &c3, NULL };
	struct side *first[] = { &c1, &c2, NULL }, *third[] = { &c3, NULL }, *gone[] = { &c1, NULL };
	struct sockaddr_storage other = tr_addr("10.0.0.50", 9899);
	struct ctp_tr_peer *p = NULL;
	struct ctp_err err;
	unsigned full0 = trlog.table_full, forget0 = trlog.forgetting;

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&s, &loop, &ctp_tr_mem, "s", "10.0.1.1", 9899);
	tr_side(&c1, &loop, &ctp_tr_mem, "c1", "10.0.1.2", 9899);
	tr_side(&c2, &loop, &ctp_tr_mem, "c2", "10.0.1.3", 9899);
	tr_side(&c3, &loop, &ctp_tr_mem, "c3", "10.0.1.4", 9899);
	s.cfg.max_peers = 2;
	s.cfg.idle_peer_ms = 300;
	c3.cfg.max_transfer_ms = TR_FAST_MS;   /* INITs every 20..160 ms */
	if (tr_open(&s) == 0 && tr_open(&c1) == 0 && tr_open(&c2) == 0 && tr_open(&c3) == 0) {
		c1.to = tr_connect(&c1, &s);
		c2.to = tr_connect(&c2, &s);
		CHECK(tr_run(&loop, tr_all_up, first, 5000), "c1, c2 not up");
		c3.to = tr_connect(&c3, &s);
		tr_sleep(&loop, 300);
		CHECK(c3.ups == 0 && s.ups == 2, "a third peer got in: s.ups %d", s.ups);
		CHECK(trlog.table_full > full0, "the refusal was not logged");
		/* the bound holds for our own connects too */
		ctp_err_clear(&err);
		CHECK(s.ops->connect(s.t, (struct sockaddr *)&other, &p, &err) == CTP_E_LIMIT,
		    "connect beyond max_peers: %s", err.what);
		/* c1 leaves; its slot ages out and c3's next INIT gets in */
		c1.ops->close_peer(c1.to, 0);
		CHECK(tr_run(&loop, tr_all_down, gone, 5000), "c1 not down");
		CHECK(tr_run(&loop, tr_all_up, third, 3000), "c3 never got in");
		CHECK(trlog.forgetting > forget0, "aging not logged");
		CHECK(s.ups == 3, "s.ups %d", s.ups);
	}
	tr_close_all(&loop, all);
}

/* close() with a peer that does not answer: LOCAL after the bound. */
static void
test_tr_mem_close_bound(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL }, *justa[] = { &a, NULL };
	struct ctp_mem_fault hole = { .blackhole = 1 };
	struct ctp_tr_peer *p = NULL;
	struct ctp_err err;
	struct ctp_tr_rto r;
	uint64_t t0;

	ctp_tr_rto_derive(TR_FAST_MS, &r);
	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	a.cfg.max_transfer_ms = b.cfg.max_transfer_ms = TR_FAST_MS;
	if (tr_pair(&loop, &a, &b) == 0) {
		ctp_mem_wire_fault((struct sockaddr *)&a.cfg.bind, NULL, &hole);
		t0 = uv_now(&loop);
		a.ops->close(a.t, tr_done, &a);
		ctp_err_clear(&err);
		CHECK(a.ops->connect(a.t, (struct sockaddr *)&b.cfg.bind, &p, &err) == CTP_E_STATE,
		    "connect while closing");
		CHECK(a.downs == 0 && !a.closed, "close reported from inside the call");
		CHECK(tr_run(&loop, tr_all_closed, justa, r.shutdown_ms + 2000), "a not closed");
		/* SCTP's own shutdown guard (5 RTO.max, RFC 9260 9.2) may give
		 * up first (LOST); else close() aborts at its bound (LOCAL) */
		CHECK(a.downs == 1 && (a.last_down == CTP_TR_DOWN_LOCAL ||
		    a.last_down == CTP_TR_DOWN_LOST), "%d downs, reason %s", a.downs,
		    ctp_tr_down_name(a.last_down));
		CHECK(uv_now(&loop) - t0 <= r.shutdown_ms + 1000, "closed after %llu ms, bound %u",
		    (unsigned long long)(uv_now(&loop) - t0), r.shutdown_ms);
		ctp_mem_wire_clear();
	}
	tr_close_all(&loop, all);
}

/* delay_ms and drop_next do what they say. */
static void
test_tr_mem_delay(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct ctp_mem_fault slow = { .delay_ms = 80 }, lose3 = { .drop_next = 3 };
	struct sent_cond c1 = { &b, 1 }, c2 = { &b, 2 };
	uint64_t t0, dropped0, dropped;

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	if (tr_pair(&loop, &a, &b) == 0) {
		ctp_mem_wire_fault((struct sockaddr *)&a.cfg.bind, (struct sockaddr *)&b.cfg.bind,
		    &slow);
		t0 = uv_now(&loop);
		CHECK(tr_send(&a, a.to, 0, 0, 100) == 0, "send");
		CHECK(tr_run(&loop, tr_received, &c1, 3000), "delayed message lost");
		CHECK(uv_now(&loop) - t0 >= 80, "arrived after %llu ms, 80 ms delay",
		    (unsigned long long)(uv_now(&loop) - t0));
		/* the same pair's rule is replaced, not added */
		ctp_mem_wire_fault((struct sockaddr *)&a.cfg.bind, (struct sockaddr *)&b.cfg.bind,
		    &lose3);
		ctp_mem_wire_stats(NULL, &dropped0, NULL, NULL);
		CHECK(tr_send(&a, a.to, 1, 0, 100) == 0, "send");
		CHECK(tr_run(&loop, tr_received, &c2, 5000), "message after 3 losses never came");
		ctp_mem_wire_stats(NULL, &dropped, NULL, NULL);
		CHECK(dropped - dropped0 == 3, "%llu dropped", (unsigned long long)(dropped - dropped0));
		CHECK(!b.bad_order && !b.bad_data, "order %u data %u", b.bad_order, b.bad_data);
	}
	tr_close_all(&loop, all);
}

/* A peer that restarts (new association from the same address while the
 * old one still stands): the old peer goes down, a new one comes up. */
static void
test_tr_mem_restart(void)
{
	uv_loop_t loop;
	struct side a, b, b2, *all[] = { &a, &b, &b2, NULL };
	struct side *justb[] = { &b, NULL }, *both[] = { &a, &b2, NULL };
	struct ctp_mem_fault hole = { .blackhole = 1 };
	struct sent_cond c = { &b2, 1 };
	struct ctp_tr_peer *old;

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
	tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
	tr_side(&b2, &loop, &ctp_tr_mem, "b2", "10.0.0.2", 9899);
	a.cfg.max_transfer_ms = b.cfg.max_transfer_ms = TR_FAST_MS;
	if (tr_pair(&loop, &a, &b) == 0) {
		old = a.peer;
		/* b vanishes without a word reaching a */
		ctp_mem_wire_fault((struct sockaddr *)&b.cfg.bind, NULL, &hole);
		b.ops->close(b.t, tr_done, &b);
		CHECK(tr_run(&loop, tr_all_closed, justb, 3000), "b not closed");
		ctp_mem_wire_clear();
		CHECK(a.downs == 0 && a.peer == old, "a noticed already");
		/* ... and comes back */
		if (tr_open(&b2) == 0) {
			b2.to = tr_connect(&b2, &a);
			CHECK(tr_run(&loop, tr_all_up, both, 3000), "b2 not up");
			CHECK(a.downs == 1 && a.last_down == CTP_TR_DOWN_LOST && a.ups == 2 && a.peer,
			    "a: %d downs (%s), %d ups", a.downs, ctp_tr_down_name(a.last_down), a.ups);
			if (a.peer) {
				CHECK(tr_send(&a, a.peer, 0, 0, 100) == 0, "send on the new peer");
				CHECK(tr_run(&loop, tr_received, &c, 3000), "b2 got nothing");
			}
		}
	}
	tr_close_all(&loop, all);
}

/* The stack is one per process: it starts and stops with the transports,
 * as often as needed. */
static void
test_tr_cycles(void)
{
	unsigned started0 = trlog.started, stopped0 = trlog.stopped;

	for (int i = 0; i < 3; i++) {
		uv_loop_t loop;
		struct side a, b, *all[] = { &a, &b, NULL };
		struct sent_cond c = { &b, 20 };

		uv_loop_init(&loop);
		ctp_mem_wire_clear();
		tr_side(&a, &loop, &ctp_tr_mem, "a", "10.0.0.1", 9899);
		tr_side(&b, &loop, &ctp_tr_mem, "b", "10.0.0.2", 9899);
		if (tr_pair(&loop, &a, &b) == 0) {
			a.to_send = 20;
			a.msg_len = 500;
			tr_pump(&a);
			CHECK(tr_run(&loop, tr_received, &c, 5000), "round %d: %llu", i,
			    (unsigned long long)b.msgs);
		}
		tr_close_all(&loop, all);
	}
	CHECK(trlog.started - started0 == 3 && trlog.stopped - stopped0 == 3,
	    "started %u, stopped %u times", trlog.started - started0, trlog.stopped - stopped0);
}

/* Two UDP transports on 127.0.0.1: SCTP in UDP (RFC 6951) for real. */
static int
tr_open_udp(struct side *s)
{
	/* other runs of this suite may be using ports: try a few */
	for (int i = 0; i < 20; i++) {
		struct ctp_err err;
		uint16_t port = (uint16_t)(20000 + (getpid() * 7 + i * 131 + s->name[0]) % 30000);

		ctp_err_clear(&err);
		s->cfg.bind = tr_addr("127.0.0.1", port);
		if (s->ops->open(s->loop, &s->cfg, &tr_cb, s, &s->t, &err) == 0)
			return 0;
	}
	CHECK(0, "%s: no free UDP port", s->name);
	return -1;
}

/* Datagrams that are no SCTP packet for b, from a socket of our own: b
 * drops them all without keeping state (and says so). */
struct junk {
	uv_udp_t      udp;
	uv_udp_send_t req[3];
	int           sent, closed;
};

static void
tr_junk_sent(uv_udp_send_t *req, int status)
{
	struct junk *j = req->data;

	(void)status;
	j->sent++;
}

static void
tr_junk_closed(uv_handle_t *h)
{
	struct junk *j = h->data;

	j->closed = 1;
}

static int
tr_junk_done(void *arg)
{
	const unsigned *want = arg;

	return trlog.not_sctp >= want[0] && trlog.wrong_port >= want[1] &&
	    trlog.unknown >= want[2];
}

static int
tr_junk_closed_cond(void *arg)
{
	return ((struct junk *)arg)->closed;
}

static void
tr_junk(uv_loop_t *loop, struct side *to)
{
	/* 5 octets; a SACK chunk for port 1234; a SACK for 5091 from a
	 * source b never heard of */
	static uint8_t shortpkt[5] = { 1, 2, 3, 4, 5 };
	static uint8_t wrong[16] = { 0x13, 0xe3, 0x04, 0xd2, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 4 };
	static uint8_t ootb[16] = { 0x13, 0xe3, 0x13, 0xe3, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0, 0, 4 };
	uint8_t *pkts[3] = { shortpkt, wrong, ootb };
	size_t lens[3] = { sizeof shortpkt, sizeof wrong, sizeof ootb };
	unsigned want[3] = { trlog.not_sctp + 1, trlog.wrong_port + 1, trlog.unknown + 1 };
	struct junk j;

	memset(&j, 0, sizeof j);
	uv_udp_init(loop, &j.udp);
	j.udp.data = &j;
	for (int i = 0; i < 3; i++) {
		uv_buf_t b = uv_buf_init((char *)pkts[i], (unsigned)lens[i]);

		j.req[i].data = &j;
		uv_udp_send(&j.req[i], &j.udp, &b, 1, (struct sockaddr *)&to->cfg.bind, tr_junk_sent);
	}
	CHECK(tr_run(loop, tr_junk_done, want, 3000), "junk not refused: %u %u %u",
	    trlog.not_sctp, trlog.wrong_port, trlog.unknown);
	uv_close((uv_handle_t *)&j.udp, tr_junk_closed);
	tr_run(loop, tr_junk_closed_cond, &j, 1000);
}

static void
test_tr_udp(void)
{
	uv_loop_t loop;
	struct side a, b, *all[] = { &a, &b, NULL };
	struct sent_cond ca = { &a, 301 };

	uv_loop_init(&loop);
	tr_side(&a, &loop, &ctp_tr_usrsctp, "udp-a", "127.0.0.1", 0);
	tr_side(&b, &loop, &ctp_tr_usrsctp, "udp-b", "127.0.0.1", 0);
	b.echo = 1;
	if (tr_open_udp(&a) == 0 && tr_open_udp(&b) == 0) {
		tr_junk(&loop, &b);
		a.to = tr_connect(&a, &b);
		CHECK(tr_run(&loop, tr_all_up, all, 5000), "not up over UDP");
		if (a.to && a.ups) {
			a.to_send = 300;
			a.msg_len = 1000;
			tr_pump(&a);
			CHECK(tr_send(&a, a.to, a.seq[0]++, 0, TR_BIG) == 0, "a 60 KB message");
			CHECK(tr_run(&loop, tr_received, &ca, 10000), "a got %llu echoes of 301",
			    (unsigned long long)a.msgs);
			CHECK(b.msgs == 301 && !a.bad_order && !a.bad_data && !b.bad_order &&
			    !b.bad_data && !b.echo_fail, "b %llu, order %u/%u data %u/%u echo %u",
			    (unsigned long long)b.msgs, a.bad_order, b.bad_order, a.bad_data,
			    b.bad_data, b.echo_fail);
			a.ops->close_peer(a.to, 0);
			CHECK(tr_run(&loop, tr_all_down, all, 5000), "no SHUTDOWN over UDP");
			CHECK(a.last_down == CTP_TR_DOWN_SHUTDOWN && b.last_down == CTP_TR_DOWN_SHUTDOWN,
			    "reasons %s %s", ctp_tr_down_name(a.last_down),
			    ctp_tr_down_name(b.last_down));
		}
	}
	tr_close_all(&loop, all);
}

/* mem and UDP transports side by side: one stack, one SCTP socket. */
static void
test_tr_mixed(void)
{
	uv_loop_t loop;
	struct side m1, m2, u1, u2, *all[] = { &m1, &m2, &u1, &u2, NULL };
	struct sent_cond cm = { &m2, 100 }, cu = { &u2, 100 };

	uv_loop_init(&loop);
	ctp_mem_wire_clear();
	tr_side(&m1, &loop, &ctp_tr_mem, "m1", "10.0.0.1", 9899);
	tr_side(&m2, &loop, &ctp_tr_mem, "m2", "10.0.0.2", 9899);
	tr_side(&u1, &loop, &ctp_tr_usrsctp, "u1", "127.0.0.1", 0);
	tr_side(&u2, &loop, &ctp_tr_usrsctp, "u2", "127.0.0.1", 0);
	if (tr_open(&m1) == 0 && tr_open(&m2) == 0 && tr_open_udp(&u1) == 0 &&
	    tr_open_udp(&u2) == 0) {
		m1.to = tr_connect(&m1, &m2);
		u1.to = tr_connect(&u1, &u2);
		CHECK(tr_run(&loop, tr_all_up, all, 5000), "not all up");
		m1.to_send = u1.to_send = 100;
		m1.msg_len = u1.msg_len = 2000;
		tr_pump(&m1);
		tr_pump(&u1);
		CHECK(tr_run(&loop, tr_received, &cm, 5000), "m2 got %llu", (unsigned long long)m2.msgs);
		CHECK(tr_run(&loop, tr_received, &cu, 5000), "u2 got %llu", (unsigned long long)u2.msgs);
		CHECK(!m2.bad_order && !m2.bad_data && !u2.bad_order && !u2.bad_data,
		    "order %u/%u data %u/%u", m2.bad_order, u2.bad_order, m2.bad_data, u2.bad_data);
		/* each transport saw only its own peer */
		CHECK(m1.ups == 1 && m2.ups == 1 && u1.ups == 1 && u2.ups == 1, "ups %d %d %d %d",
		    m1.ups, m2.ups, u1.ups, u2.ups);
		CHECK(u2.peer && memcmp(&u2.peer->addr, &u1.cfg.bind, sizeof(struct sockaddr_in)) == 0,
		    "u2 knows u1 by its UDP address");
	}
	tr_close_all(&loop, all);
}

CTP_TEST_SUITE(tr, tr_init, tr_clean,
	CTP_TEST(test_tr_names),
	CTP_TEST(test_tr_mem_up),
	CTP_TEST(test_tr_mem_streams),
	CTP_TEST(test_tr_mem_large),
	CTP_TEST(test_tr_mem_many),
	CTP_TEST(test_tr_mem_flow),
	CTP_TEST(test_tr_mem_shutdown),
	CTP_TEST(test_tr_mem_abort),
	CTP_TEST(test_tr_mem_blackhole),
	CTP_TEST(test_tr_mem_faults),
	CTP_TEST(test_tr_mem_unserved),
	CTP_TEST(test_tr_mem_max_peers),
	CTP_TEST(test_tr_mem_close_bound),
	CTP_TEST(test_tr_mem_delay),
	CTP_TEST(test_tr_mem_restart),
	CTP_TEST(test_tr_cycles),
	CTP_TEST(test_tr_udp),
	CTP_TEST(test_tr_mixed),
);
