/*
 * test_engine.c: the engine end to end, in one process: six nodes on the
 * in-memory SCTP wire (S1, S2 -> PR -> NR -> S1', S2'), the test feature
 * kv (kv_plugin.h), and a fake link to the mobile node.  Every transfer
 * mode of RFC 4067 and the relay chain of PROFILE 3, then an abort at each
 * step, each time checking where every context is afterwards and that
 * every plugin heard the outcome.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ctp/ctp_engine.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_token.h"
#include "kv_plugin.h"
#include "test.h"

enum { S1, S2, PR, NR, S1P, S2P, NNODES };

static const char *const names[NNODES] = { "s1", "s2", "pr", "nr", "s1p", "s2p" };
static const char *const addrs[NNODES] = {
	"10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6",
};
static const unsigned roles[NNODES] = {
	CTP_ROLE_SG, CTP_ROLE_SG, CTP_ROLE_AR, CTP_ROLE_AR, CTP_ROLE_SG, CTP_ROLE_SG,
};
/* who peers with whom */
static const int links[][2] = {
	{ S1, PR }, { S2, PR }, { PR, NR }, { NR, S1P }, { NR, S2P }, { S1, S2 },
};

static const uint8_t mn_key[20] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
};

struct mn_msg {
	uint8_t buf[2048];
	size_t  len;
};

static struct {
	uv_loop_t          loop;
	struct ctp_node   *node[NNODES];
	struct ctp_engine *eng[NNODES];
	struct kv_state   *kv[NNODES];
	struct ctp_addr    mn;
	struct mn_msg      to_mn[16];   /* what the nodes sent the MN */
	size_t             nto_mn;
	int                stopped;
	int                fallback;   /* NR sends what S2' refuses to S1' */
	struct ctp_conf_limits lim[NNODES];   /* nonzero members override */
} T;

static int
mn_send(void *io, const struct sockaddr *to, enum ctp_mnio_carrier carrier, const uint8_t *msg,
    size_t len)
{
	(void)io;
	(void)to;
	(void)carrier;
	if (T.nto_mn < 16 && len <= sizeof T.to_mn[0].buf) {
		memcpy(T.to_mn[T.nto_mn].buf, msg, len);
		T.to_mn[T.nto_mn].len = len;
		T.nto_mn++;
	}
	return 0;
}

static void
sa4(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof *ss);
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	inet_pton(AF_INET, a, &s->sin_addr);
}

static struct ctp_conf *
mkconf(int i, unsigned handover_ms)
{
	struct ctp_conf *c = calloc(1, sizeof *c);

	ctp_conf_defaults(c);
	c->node_name = strdup(names[i]);
	c->roles = roles[i];
	(void)ctp_addr_parse(&c->addrs[0], addrs[i]);
	c->naddrs = 1;
	c->backend = CTP_BACKEND_MEM;
	sa4(&c->bind, addrs[i], 9899);
	c->mn_icmp = 0;
	c->timers.max_transfer_ms = 100;
	c->timers.max_handover_ms = handover_ms;
	c->timers.reconnect_ms = 50;
	c->timers.request_rate = 1000;
	c->log_level = CTP_LOG_WARN;
	if (T.lim[i].transfers)
		c->limits.transfers = T.lim[i].transfers;
	if (T.lim[i].transfers_per_peer)
		c->limits.transfers_per_peer = T.lim[i].transfers_per_peer;
	if (T.lim[i].cached_pctd)
		c->limits.cached_pctd = T.lim[i].cached_pctd;
	if (T.lim[i].cdbs_per_message)
		c->limits.cdbs_per_message = T.lim[i].cdbs_per_message;
	for (size_t k = 0; k < sizeof links / sizeof links[0]; k++) {
		int other = links[k][0] == i ? links[k][1] : links[k][1] == i ? links[k][0] : -1;
		struct ctp_conf_peer *p;

		if (other < 0)
			continue;
		p = &c->peers[c->npeers++];
		p->name = strdup(names[other]);
		p->roles = roles[other];
		sa4(&p->addr, addrs[other], 5091);
		p->udp_port = 9899;
		p->sec = CTP_SEC_IPSEC;
	}
	return c;
}

static struct ctp_val *
kv_config(int i)
{
	struct ctp_val *o = ctp_val_obj(), *a;

	if (i == PR) {
		a = ctp_val_arr();
		ctp_val_arr_push(a, ctp_val_str("s1"));
		ctp_val_arr_push(a, ctp_val_str("s2"));
		ctp_val_obj_set(o, "fetch", a);
	}
	if (i == NR) {
		struct ctp_val *r1 = ctp_val_obj(), *r2 = ctp_val_obj(), *fb = ctp_val_obj();

		a = ctp_val_arr();
		ctp_val_set_str(r1, "prefix", "s1:");
		ctp_val_set_str(r1, "peer", "s1p");
		ctp_val_set_str(r2, "prefix", "s2:");
		ctp_val_set_str(r2, "peer", "s2p");
		ctp_val_arr_push(a, r1);
		ctp_val_arr_push(a, r2);
		ctp_val_obj_set(o, "relay", a);
		if (T.fallback) {
			a = ctp_val_arr();
			ctp_val_set_str(fb, "peer", "s2p");
			ctp_val_set_str(fb, "to", "s1p");
			ctp_val_arr_push(a, fb);
			ctp_val_obj_set(o, "fallback", a);
		} else
			ctp_val_free(fb);
	}
	return o;
}

static void
run_until(int (*cond)(void), unsigned max_ms)
{
	uint64_t end = uv_now(&T.loop) + max_ms;

	while (!cond() && uv_now(&T.loop) < end)
		uv_run(&T.loop, UV_RUN_ONCE);
}

static int
all_up(void)
{
	for (int i = 0; i < NNODES; i++)
		for (size_t k = 0; k < ctp_node_npeers(T.node[i]); k++)
			if (ctp_node_peer_at(T.node[i], k)->state != CTP_PEER_UP)
				return 0;
	return 1;
}

static int
quiet(void)
{
	struct ctp_engine_stats st;

	for (int i = 0; i < NNODES; i++) {
		ctp_engine_stats(T.eng[i], &st);
		if (st.live)
			return 0;
	}
	return 1;
}

static void
start(unsigned handover_ms)
{
	struct ctp_err err = { 0 };

	int fallback = T.fallback;
	struct ctp_conf_limits lim[NNODES];

	memcpy(lim, T.lim, sizeof lim);
	memset(&T, 0, sizeof T);
	T.fallback = fallback;
	memcpy(T.lim, lim, sizeof lim);
	uv_loop_init(&T.loop);
	ctp_mem_wire_clear();
	ctp_log_open("test", CTP_LOG_STDERR, getenv("CTP_TEST_VERBOSE") ? CTP_LOG_DEBUG : CTP_LOG_ERR);
	(void)ctp_addr_parse(&T.mn, "192.0.2.10");
	for (int i = 0; i < NNODES; i++) {
		struct ctp_val *cfg = kv_config(i);
		struct ctp_engine_mn_ops ops = { .send = mn_send };

		CU_ASSERT_FATAL(ctp_node_new(&T.loop, mkconf(i, handover_ms), &T.node[i], &err) == 0);
		CU_ASSERT_FATAL(ctp_node_add_plugin(T.node[i], &kv_feature, cfg, &err) == 0);
		ctp_val_free(cfg);
		CU_ASSERT_FATAL(ctp_engine_new(T.node[i], &T.eng[i], &err) == 0);
		ctp_engine_set_mn_ops(T.eng[i], &ops);
		T.kv[i] = kv_of(ctp_node_registry(T.node[i]));
		CU_ASSERT_FATAL(ctp_node_start(T.node[i], &err) == 0);
	}
	run_until(all_up, 5000);
	CU_ASSERT_FATAL(all_up());
	CU_ASSERT_FATAL(ctp_engine_mn_key_set(T.eng[PR], &T.mn, mn_key, sizeof mn_key) == 0);
	/* the MN's contexts: one at each source */
	kv_add(T.kv[S1], &T.mn, "s1:a", 1);
	kv_add(T.kv[S2], &T.mn, "s2:b", 2);
	kv_add(T.kv[PR], &T.mn, "pr:c", 3);
}

static void
stopped(void *arg)
{
	(void)arg;
	T.stopped++;
}

static int
all_stopped(void)
{
	return T.stopped == NNODES;
}

static void
stop(void)
{
	for (int i = 0; i < NNODES; i++) {
		ctp_engine_free(T.eng[i]);
		ctp_node_stop(T.node[i], stopped, NULL);
	}
	run_until(all_stopped, 10000);
	CU_ASSERT(all_stopped());
	uv_run(&T.loop, UV_RUN_DEFAULT);
	CU_ASSERT(uv_loop_close(&T.loop) == 0);
	ctp_mem_wire_clear();
}

/* Every collect got its done, every install its done. */
static void
assert_balanced(void)
{
	for (int i = 0; i < NNODES; i++) {
		unsigned c, sd, in, kd;

		kv_calls(T.kv[i], &c, &sd, &in, &kd);
		CU_ASSERT_EQUAL(c, sd);
		CU_ASSERT_EQUAL(in, kd);
	}
}

/* A CTAR as the MN sends it, into node i's MN input. */
static void
ctar_to(int i, int ar, uint32_t seq, int good_token)
{
	struct ctp_msg *m = malloc(sizeof *m);
	uint8_t buf[256];
	size_t len;
	struct ctp_err err = { 0 };
	struct sockaddr_storage from;

	ctp_msg_init(m, CTP_MSG_CTAR, 4);
	m->flags |= CTP_HDR_X;
	m->mn_prev = T.mn;
	(void)ctp_addr_parse(&m->ar, addrs[ar]);
	m->seq = seq;
	(void)ctp_token_compute(mn_key, sizeof mn_key, &T.mn, seq, NULL, 0, &m->token);
	if (!good_token)
		m->token ^= 1;
	CU_ASSERT_FATAL(ctp_msg_encode(m, buf, sizeof buf, &len, &err) == 0);
	sa4(&from, "192.0.2.99", 40000);
	ctp_engine_mn_input(T.eng[i], (struct sockaddr *)&from, CTP_MNIO_UDP, buf, len);
	free(m);
}

/* The last CTAA the MN got: its failure count, or -1 when none came. */
static int
last_ctaa_failures(void)
{
	for (size_t k = T.nto_mn; k-- > 0;) {
		struct ctp_msg *m = malloc(sizeof *m);
		struct ctp_err err = { 0 };
		int n = -1;

		if (ctp_msg_decode(m, T.to_mn[k].buf, T.to_mn[k].len, 0, &err) == 0 &&
		    m->type == CTP_MSG_CTAA)
			n = (int)m->nstatus;
		free(m);
		if (n >= 0)
			return n;
	}
	return -1;
}

static int
got_ctaa(void)
{
	return last_ctaa_failures() >= 0 && quiet();
}

/* Reactive, mobile-controlled (RFC 4067 2.8 d), with the whole relay chain:
 * PR collects from S1 and S2, NR relays to S1' and S2'. */
static void
test_reactive_chain(void)
{
	start(2000);
	ctar_to(NR, PR, 1001, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 0);
	CU_ASSERT(quiet());
	/* every context moved exactly once */
	CU_ASSERT_EQUAL(kv_count(T.kv[S1], &T.mn), 0);
	CU_ASSERT_EQUAL(kv_count(T.kv[S2], &T.mn), 0);
	CU_ASSERT_EQUAL(kv_count(T.kv[PR], &T.mn), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[NR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1P], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S2P], &T.mn, "s2:b"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn), 1);
	assert_balanced();
	/* the CTAR again (a retransmission, or a replay): no second transfer
	 * (RFC 4067 2.5.1), only the same CTAA again */
	{
		struct ctp_engine_stats before, after;
		size_t len = T.to_mn[T.nto_mn - 1].len;
		uint8_t last[2048];

		memcpy(last, T.to_mn[T.nto_mn - 1].buf, len);
		ctp_engine_stats(T.eng[NR], &before);
		T.nto_mn = 0;
		ctar_to(NR, PR, 1001, 1);
		run_until(quiet, 500);
		ctp_engine_stats(T.eng[NR], &after);
		CU_ASSERT_EQUAL(after.started, before.started);
		CU_ASSERT_EQUAL(after.ctar_duplicate, before.ctar_duplicate + 1);
		CU_ASSERT_EQUAL(T.nto_mn, 1);
		CU_ASSERT(T.nto_mn == 1 && T.to_mn[0].len == len &&
		    memcmp(T.to_mn[0].buf, last, len) == 0);
	}
	stop();
}

/* Everything refused at the sinks: every source has its context back. */
static void
test_refused_everywhere(void)
{
	start(2000);
	kv_set_fail_install(T.kv[NR], 1);
	kv_set_fail_install(T.kv[S1P], 1);
	kv_set_fail_install(T.kv[S2P], 1);
	ctar_to(NR, PR, 1002, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 3);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S2], &T.mn, "s2:b"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[PR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn) + kv_count(T.kv[S1P], &T.mn) +
	    kv_count(T.kv[S2P], &T.mn), 0);
	assert_balanced();
	stop();
}

/* One sink refuses: only its context goes back to its source. */
static void
test_refused_one(void)
{
	start(2000);
	kv_set_fail_install(T.kv[S2P], 1);
	ctar_to(NR, PR, 1003, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 1);
	CU_ASSERT_EQUAL(kv_count(T.kv[S1], &T.mn), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[S2], &T.mn, "s2:b"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[PR], &T.mn), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1P], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[S2P], &T.mn), 0);
	assert_balanced();
	stop();
}

/* A second relay round: S2' refuses, NR's plugin sends it to S1' instead. */
static void
test_review_round(void)
{
	T.fallback = 1;
	start(2000);
	kv_set_fail_install(T.kv[S2P], 1);
	ctar_to(NR, PR, 1007, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1P], &T.mn, "s2:b"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1P], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[S2P], &T.mn) + kv_count(T.kv[S2], &T.mn), 0);
	assert_balanced();
	stop();
	T.fallback = 0;
}

/* The CT-Req never reaches pAR: nAR gives up, tells the MN; nothing moved. */
static void
test_ctreq_lost(void)
{
	struct sockaddr_storage a, b;
	struct ctp_mem_fault f = { .blackhole = 1 };

	start(2000);
	sa4(&a, addrs[NR], 9899);
	sa4(&b, addrs[PR], 9899);
	ctp_mem_wire_fault((struct sockaddr *)&a, (struct sockaddr *)&b, &f);
	ctar_to(NR, PR, 1004, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 1);   /* everything: timed out */
	CU_ASSERT_EQUAL(kv_get(T.kv[S1], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S2], &T.mn, "s2:b"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[PR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn), 0);
	assert_balanced();
	ctp_mem_wire_clear();
	stop();
}

/* A source never answers the fetch: its context stays, the rest moves. */
static void
test_fetch_lost(void)
{
	struct sockaddr_storage a, b;
	struct ctp_mem_fault f = { .blackhole = 1 };

	start(2000);
	sa4(&a, addrs[PR], 9899);
	sa4(&b, addrs[S1], 9899);
	ctp_mem_wire_fault((struct sockaddr *)&a, (struct sockaddr *)&b, &f);
	ctar_to(NR, PR, 1005, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[S1P], &T.mn), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[S2P], &T.mn, "s2:b"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[NR], &T.mn, "pr:c"), KV_ACTIVE);
	assert_balanced();
	ctp_mem_wire_clear();
	stop();
}

static void
cut_nr_to_pr(void *arg)
{
	struct sockaddr_storage a, b;
	struct ctp_mem_fault f = { .blackhole = 1 };

	(void)arg;
	sa4(&a, addrs[NR], 9899);
	sa4(&b, addrs[PR], 9899);
	ctp_mem_wire_fault((struct sockaddr *)&a, (struct sockaddr *)&b, &f);
}

/*
 * The verdict (CTDR from NR) is lost after the sinks installed: nobody
 * upstream can know whether the sinks use the contexts, so the sources
 * keep theirs out of use (quarantined) and no context is active twice.
 */
static void
test_verdict_lost(void)
{
	start(2000);
	kv_on_install(T.kv[NR], cut_nr_to_pr, NULL);
	ctar_to(NR, PR, 1006, 1);
	run_until(quiet, 8000);
	CU_ASSERT(quiet());
	CU_ASSERT_EQUAL(kv_get(T.kv[S1], &T.mn, "s1:a"), KV_QUARANTINED);
	CU_ASSERT_EQUAL(kv_get(T.kv[S2], &T.mn, "s2:b"), KV_QUARANTINED);
	CU_ASSERT_EQUAL(kv_get(T.kv[PR], &T.mn, "pr:c"), KV_QUARANTINED);
	CU_ASSERT_EQUAL(kv_get(T.kv[NR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1P], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S2P], &T.mn, "s2:b"), KV_ACTIVE);
	assert_balanced();
	ctp_mem_wire_clear();
	stop();
}

static void
push(int from, int to)
{
	struct ctp_trigger t = { .kind = CTP_TRIGGER_PUSH, .mn = T.mn, .peer = names[to] };
	struct ctp_err err = { 0 };

	CU_ASSERT(ctp_engine_trigger(T.eng[from], &t, &err) == 0);
}

/* PR has only the first push live (mn2's has ended). */
static int
quiet_pr(void)
{
	struct ctp_engine_stats st;

	ctp_engine_stats(T.eng[PR], &st);
	return st.live == 1 && st.started == 2;
}

static int
nr_holds(void)
{
	struct ctp_engine_stats st;

	ctp_engine_stats(T.eng[NR], &st);
	return st.held == 1;
}

/* Network-controlled predictive (RFC 4067 2.8 a): PR pushes, NR holds the
 * contexts inactive until the MN's CTAR checks out with the pushed key. */
static void
test_predictive_push(void)
{
	start(2000);
	push(PR, NR);
	run_until(nr_holds, 3000);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn), 0);   /* held, not installed */
	/* a forged CTAR is refused and installs nothing */
	ctar_to(NR, PR, 2001, 0);
	run_until(got_ctaa, 200);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn), 0);
	/* the MN's own, with the same seq: accepted */
	T.nto_mn = 0;
	ctar_to(NR, PR, 2001, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[NR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1P], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[S1], &T.mn) + kv_count(T.kv[PR], &T.mn), 0);
	assert_balanced();
	stop();
}

/* The MN never comes: NR cancels when CT_MAX_HANDOVER_TIME ends, and the
 * sources resume (nothing was installed anywhere). */
static void
test_predictive_no_mn(void)
{
	start(300);
	push(PR, NR);
	run_until(nr_holds, 3000);
	run_until(quiet, 5000);
	CU_ASSERT(quiet());
	CU_ASSERT_EQUAL(kv_get(T.kv[S1], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S2], &T.mn, "s2:b"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[PR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn) + kv_count(T.kv[S1P], &T.mn), 0);
	assert_balanced();
	stop();
}

/* Mobile-controlled predictive (RFC 4067 2.8 b): CTAR to PR naming NR,
 * then the same seq and token to NR. */
static void
test_predictive_mobile(void)
{
	start(2000);
	ctar_to(PR, NR, 3001, 1);
	run_until(nr_holds, 3000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 0);   /* PR's CTAA */
	T.nto_mn = 0;
	ctar_to(NR, PR, 3001, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[NR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S2P], &T.mn, "s2:b"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[PR], &T.mn), 0);
	assert_balanced();
	stop();
}

/* Network-controlled reactive (RFC 4067 2.8 c): NR pulls with token 0,
 * PR answers with the key, NR waits for the MN. */
static void
test_reactive_pull(void)
{
	struct ctp_trigger t = { .kind = CTP_TRIGGER_PULL, .peer = "pr" };
	struct ctp_err err = { 0 };

	start(2000);
	t.mn = T.mn;
	CU_ASSERT(ctp_engine_trigger(T.eng[NR], &t, &err) == 0);
	run_until(nr_holds, 3000);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn), 0);
	ctar_to(NR, PR, 4001, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[NR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[S1], &T.mn) + kv_count(T.kv[S2], &T.mn), 0);
	assert_balanced();
	stop();
}

/* The same, but the MN's CTAR overtakes the PCTD: NR keeps it and checks
 * it when the contexts come. */
static void
test_reactive_pull_early_ctar(void)
{
	struct ctp_trigger t = { .kind = CTP_TRIGGER_PULL, .peer = "pr" };
	struct ctp_err err = { 0 };

	start(2000);
	t.mn = T.mn;
	CU_ASSERT(ctp_engine_trigger(T.eng[NR], &t, &err) == 0);
	ctar_to(NR, PR, 4002, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[NR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1P], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[PR], &T.mn), 0);
	assert_balanced();
	stop();
}

/* A CT-Req for an MN PR has no key for: refused at once, nothing moves. */
static void
test_unknown_mn(void)
{
	start(2000);
	CU_ASSERT(ctp_engine_mn_key_del(T.eng[PR], &T.mn) == 0);
	ctar_to(NR, PR, 5001, 1);
	run_until(got_ctaa, 2000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 1);
	CU_ASSERT_EQUAL(kv_get(T.kv[PR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn), 0);
	assert_balanced();
	stop();
}

/* A wrong token on a CT-Req: PR refuses, nothing moves. */
static void
test_bad_token_reactive(void)
{
	start(2000);
	ctar_to(NR, PR, 5002, 0);
	run_until(got_ctaa, 2000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 1);
	CU_ASSERT_EQUAL(kv_get(T.kv[PR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn), 0);
	stop();
}

/* Limits: what a peer can make a node hold is bounded, and a refusal
 * moves nothing. */
static void
test_limit_cdbs(void)
{
	T.lim[NR].cdbs_per_message = 2;   /* the CTD carries control + 3 contexts */
	start(2000);
	ctar_to(NR, PR, 6001, 1);
	run_until(got_ctaa, 5000);
	CU_ASSERT_EQUAL(last_ctaa_failures(), 1);
	CU_ASSERT_EQUAL(kv_get(T.kv[S1], &T.mn, "s1:a"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_get(T.kv[PR], &T.mn, "pr:c"), KV_ACTIVE);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &T.mn), 0);
	assert_balanced();
	stop();
	memset(T.lim, 0, sizeof T.lim);
}

static void
test_limit_per_peer(void)
{
	struct ctp_addr mn2;
	struct ctp_engine_stats st;

	T.lim[PR].transfers_per_peer = 1;
	start(2000);
	(void)ctp_addr_parse(&mn2, "192.0.2.11");
	CU_ASSERT(ctp_engine_mn_key_set(T.eng[PR], &mn2, mn_key, sizeof mn_key) == 0);
	push(PR, NR);                     /* one transfer with nr, held there */
	run_until(nr_holds, 3000);
	{
		struct ctp_trigger t = { .kind = CTP_TRIGGER_PUSH, .mn = mn2, .peer = "nr" };
		struct ctp_err err = { 0 };

		CU_ASSERT(ctp_engine_trigger(T.eng[PR], &t, &err) < 0);   /* the second: refused */
	}
	ctp_engine_stats(T.eng[PR], &st);
	CU_ASSERT(st.refused >= 1);
	stop();
	memset(T.lim, 0, sizeof T.lim);
}

static void
test_limit_cached_pctd(void)
{
	struct ctp_addr mn2;
	struct ctp_trigger t = { .kind = CTP_TRIGGER_PUSH, .peer = "nr" };
	struct ctp_err err = { 0 };
	struct ctp_engine_stats st;

	T.lim[NR].cached_pctd = 1;
	start(2000);
	(void)ctp_addr_parse(&mn2, "192.0.2.11");
	kv_add(T.kv[PR], &mn2, "pr:d", 4);
	CU_ASSERT(ctp_engine_mn_key_set(T.eng[PR], &mn2, mn_key, sizeof mn_key) == 0);
	push(PR, NR);
	run_until(nr_holds, 3000);
	t.mn = mn2;
	CU_ASSERT(ctp_engine_trigger(T.eng[PR], &t, &err) == 0);
	run_until(quiet_pr, 3000);
	ctp_engine_stats(T.eng[NR], &st);
	CU_ASSERT_EQUAL(st.held, 1);
	/* NR refused the second push: PR took mn2's context back */
	CU_ASSERT_EQUAL(kv_get(T.kv[PR], &mn2, "pr:d"), KV_ACTIVE);
	stop();
	memset(T.lim, 0, sizeof T.lim);
}

static int
move_finished(void)
{
	struct ctp_engine_move m;

	return ctp_engine_move_status(T.eng[S1], &m) == 0 && !m.running && quiet();
}

/* A whole SG's fail-over: 40 MNs with two items each, two transfers at a
 * time; one MN already on its way is skipped and moves on its own. */
static void
test_move_all(void)
{
	struct ctp_trigger t = { .kind = CTP_TRIGGER_MOVE, .peer = "s2" };
	struct ctp_err err = { 0 };
	struct ctp_engine_stats st;
	struct ctp_engine_move m;
	struct ctp_addr mn;
	size_t count = 0;
	char a[32];

	T.lim[S1].transfers_per_peer = 4;
	start(2000);
	for (int i = 0; i < 40; i++) {
		snprintf(a, sizeof a, "198.51.100.%d", i + 1);
		CU_ASSERT_FATAL(ctp_addr_parse(&mn, a) == 0);
		kv_add(T.kv[S1], &mn, "s1:x", (uint32_t)i);
		kv_add(T.kv[S1], &mn, "s1:y", (uint32_t)i);
	}
	/* not an SG; no such peer */
	CU_ASSERT(ctp_engine_move_all(T.eng[S1], "pr", NULL, 0, &count, &err) == CTP_E_INVAL);
	CU_ASSERT(ctp_engine_move_all(T.eng[S1], "nobody", NULL, 0, &count, &err) == CTP_E_NOTFOUND);
	t.mn = T.mn;
	CU_ASSERT(ctp_engine_trigger(T.eng[S1], &t, &err) == 0);
	CU_ASSERT_FATAL(ctp_engine_move_all(T.eng[S1], "s2", NULL, 0, &count, &err) == 0);
	CU_ASSERT_EQUAL(count, 41);
	/* one batch at a time */
	CU_ASSERT(ctp_engine_move_all(T.eng[S1], "s2", NULL, 0, &count, &err) == CTP_E_STATE);
	run_until(move_finished, 10000);
	CU_ASSERT_FATAL(move_finished());
	for (int i = 0; i < 40; i++) {
		snprintf(a, sizeof a, "198.51.100.%d", i + 1);
		(void)ctp_addr_parse(&mn, a);
		CU_ASSERT_EQUAL(kv_count(T.kv[S1], &mn), 0);
		CU_ASSERT_EQUAL(kv_get(T.kv[S2], &mn, "s1:x"), KV_ACTIVE);
		CU_ASSERT_EQUAL(kv_get(T.kv[S2], &mn, "s1:y"), KV_ACTIVE);
	}
	CU_ASSERT_EQUAL(kv_get(T.kv[S2], &T.mn, "s1:a"), KV_ACTIVE);
	ctp_engine_stats(T.eng[S1], &st);
	CU_ASSERT_EQUAL(st.committed, 41);
	CU_ASSERT(ctp_engine_move_status(T.eng[S1], &m) == 0);
	CU_ASSERT_EQUAL(m.mns, 41);
	CU_ASSERT_EQUAL(m.committed, 40);
	CU_ASSERT_EQUAL(m.skipped, 1);
	CU_ASSERT_EQUAL(m.failed, 0);
	CU_ASSERT_EQUAL(m.queued, 0);
	CU_ASSERT_STRING_EQUAL(m.peer, "s2");
	/* nothing left: a second batch is empty and finishes at once */
	CU_ASSERT(ctp_engine_move_all(T.eng[S1], "s2", NULL, 0, &count, &err) == 0);
	CU_ASSERT_EQUAL(count, 0);
	assert_balanced();
	stop();
	memset(T.lim, 0, sizeof T.lim);
}

/* The node-wide bound: NR holds one transfer, a second push is refused
 * (NO_RESOURCES) and PR takes that context back. */
static void
test_limit_transfers(void)
{
	struct ctp_addr mn2;
	struct ctp_trigger t = { .kind = CTP_TRIGGER_PUSH, .peer = "nr" };
	struct ctp_err err = { 0 };
	struct ctp_engine_stats st;

	T.lim[NR].transfers = 1;
	start(2000);
	(void)ctp_addr_parse(&mn2, "192.0.2.12");
	kv_add(T.kv[PR], &mn2, "pr:e", 5);
	CU_ASSERT(ctp_engine_mn_key_set(T.eng[PR], &mn2, mn_key, sizeof mn_key) == 0);
	push(PR, NR);
	run_until(nr_holds, 3000);
	t.mn = mn2;
	CU_ASSERT(ctp_engine_trigger(T.eng[PR], &t, &err) == 0);
	run_until(quiet_pr, 3000);
	ctp_engine_stats(T.eng[NR], &st);
	CU_ASSERT_EQUAL(st.live, 1);
	CU_ASSERT(st.refused >= 1);
	CU_ASSERT_EQUAL(kv_count(T.kv[NR], &mn2), 0);
	CU_ASSERT_EQUAL(kv_get(T.kv[PR], &mn2, "pr:e"), KV_ACTIVE);
	stop();
	memset(T.lim, 0, sizeof T.lim);
}

CTP_TEST_SUITE(engine, NULL, NULL,
	CTP_TEST(test_reactive_chain),
	CTP_TEST(test_refused_everywhere),
	CTP_TEST(test_refused_one),
	CTP_TEST(test_review_round),
	CTP_TEST(test_ctreq_lost),
	CTP_TEST(test_fetch_lost),
	CTP_TEST(test_verdict_lost),
	CTP_TEST(test_predictive_push),
	CTP_TEST(test_predictive_no_mn),
	CTP_TEST(test_predictive_mobile),
	CTP_TEST(test_reactive_pull),
	CTP_TEST(test_reactive_pull_early_ctar),
	CTP_TEST(test_unknown_mn),
	CTP_TEST(test_bad_token_reactive),
	CTP_TEST(test_limit_cdbs),
	CTP_TEST(test_limit_per_peer),
	CTP_TEST(test_limit_cached_pctd),
	CTP_TEST(test_limit_transfers),
	CTP_TEST(test_move_all),
);
