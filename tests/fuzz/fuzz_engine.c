/*
 * fuzz_engine.c: libFuzzer harness for what a peer or a mobile node can make
 * the engine do: two nodes, pr (10.9.0.3) and nr (10.9.0.4), access routers
 * and each other's peer, on the in-memory SCTP wire (security ipsec: no
 * TLS), each with the real ipsec and mld plugins and an engine; pr holds the
 * key of the MN 192.0.2.10.  The input is a list of messages:
 *
 *   octet  0      where: 0 pr -> nr (a peer's message), 1 nr -> pr,
 *                        2 an MN -> nr, 3 an MN -> pr (the UDP encoding);
 *                        bit 2 set: let the loop run 50 ms first (timers)
 *   octets 1-2    the length L (big-endian), then L octets of message
 *
 * and whatever follows the last whole record is ignored.  Peer messages go
 * through the sender's node (ctp_node_send, which checks nothing), the wire
 * and the receiver's node (decode, CDB checks) to its engine; MN messages go
 * straight to ctp_engine_mn_input.  After each one the loop runs until the
 * wire is quiet.  Each input runs on nodes of its own, so a finding
 * replays alone.
 *
 * Properties: no crash, no leak, no hang; every transfer ends and every
 * handle closes when the engines and nodes are stopped (uv_loop_close);
 * the live-transfer counts stay within the limits.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "ctp/ctp_conf.h"
#include "ctp/ctp_engine.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_node.h"
#include "ctp/ctp_tr.h"
#include "ctp/ctp_val.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ENGINE_SPINS    200000
#define FUZZ_ENGINE_MAX_RECS 32

static const uint8_t fuzz_engine_key[20] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
};

static struct {
	const char        *plugins;
	uv_loop_t          loop;
	struct ctp_node   *node[2];
	struct ctp_engine *eng[2];
	int                stopped;
	uint64_t           to_mn;
} F;

static const char *const fuzz_engine_names[2] = { "pr", "nr" };
static const char *const fuzz_engine_addrs[2] = { "10.9.0.3", "10.9.0.4" };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	F.plugins = getenv("CTPD_PLUGIN_DIR");
	if (!F.plugins || !*F.plugins)
		F.plugins = "build/plugins";
	/* the nodes load and unload the plugins for every input; libFuzzer
	 * keeps reading an instrumented library's counters: keep them mapped */
	for (size_t i = 0; i < 2; i++) {
		char so[512];

		snprintf(so, sizeof so, "%s/%s.so", F.plugins, i ? "mld" : "ipsec");
		if (!dlopen(so, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
			fprintf(stderr, "fuzz_engine: %s\n", dlerror());
	}
	ctp_log_open("fuzz", CTP_LOG_STDERR, getenv("FUZZ_ENGINE_VERBOSE") ? CTP_LOG_DEBUG :
	    CTP_LOG_ERR - 1);
	return 0;
}

static void
fuzz_engine_sa4(struct sockaddr_storage *ss, const char *a, uint16_t port)
{
	struct sockaddr_in *s = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof *ss);
	s->sin_family = AF_INET;
	s->sin_port = htons(port);
	if (inet_pton(AF_INET, a, &s->sin_addr) != 1)
		abort();
}

static struct ctp_conf *
fuzz_engine_conf(int i)
{
	struct ctp_conf *c = calloc(1, sizeof *c);
	struct ctp_conf_peer *p;

	if (!c)
		abort();
	ctp_conf_defaults(c);
	c->node_name = strdup(fuzz_engine_names[i]);
	c->roles = CTP_ROLE_AR;
	(void)ctp_addr_parse(&c->addrs[0], fuzz_engine_addrs[i]);
	c->naddrs = 1;
	c->backend = CTP_BACKEND_MEM;
	fuzz_engine_sa4(&c->bind, fuzz_engine_addrs[i], 9899);
	c->mn_icmp = 0;
	c->timers.max_transfer_ms = 10;
	c->timers.max_handover_ms = 100;
	c->timers.reconnect_ms = 50;
	c->timers.request_rate = 1000;
	/* small, so that inputs can reach them */
	c->limits.transfers = 8;
	c->limits.transfers_per_peer = 4;
	c->limits.cached_pctd = 2;
	c->limits.cdbs_per_message = 16;
	c->plugin_dir = strdup(F.plugins);
	p = &c->peers[c->npeers++];
	p->name = strdup(fuzz_engine_names[!i]);
	p->roles = CTP_ROLE_AR;
	fuzz_engine_sa4(&p->addr, fuzz_engine_addrs[!i], 5091);
	p->udp_port = 9899;
	p->sec = CTP_SEC_IPSEC;
	for (size_t k = 0; k < 2; k++) {
		c->plugins[k].name = strdup(k ? "mld" : "ipsec");
		c->plugins[k].config = ctp_val_obj();
	}
	c->nplugins = 2;
	if (!c->node_name || !c->plugin_dir || !p->name || !c->plugins[0].name ||
	    !c->plugins[1].name || !c->plugins[0].config || !c->plugins[1].config)
		abort();
	return c;
}

/* What the engines send mobile nodes: counted, gone. */
static int
fuzz_engine_mn_send(void *io, const struct sockaddr *to, enum ctp_mnio_carrier carrier,
    const uint8_t *msg, size_t len)
{
	(void)io, (void)to, (void)carrier, (void)msg, (void)len;
	F.to_mn++;
	return 0;
}

static int
fuzz_engine_up(void)
{
	for (int i = 0; i < 2; i++)
		if (ctp_node_peer_at(F.node[i], 0)->state != CTP_PEER_UP)
			return 0;
	return 1;
}

/* Run the loop until the wire has nothing more to carry. */
static void
fuzz_engine_settle(void)
{
	uint64_t carried = 0, before;
	long spins = 0;

	do {
		before = carried;
		for (int k = 0; k < 8; k++)
			uv_run(&F.loop, UV_RUN_NOWAIT);
		ctp_mem_wire_stats(&carried, NULL, NULL, NULL);
		if (++spins > FUZZ_ENGINE_SPINS / 8) {
			fprintf(stderr, "fuzz_engine: the wire never goes quiet\n");
			abort();
		}
	} while (carried != before);
}

static void
fuzz_engine_stopped(void *arg)
{
	(void)arg;
	F.stopped++;
}

static void
fuzz_engine_check_limits(void)
{
	for (int i = 0; i < 2; i++) {
		struct ctp_engine_stats st;

		ctp_engine_stats(F.eng[i], &st);
		if (st.live > 8 || st.held > 2)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctp_err err = { 0 };
	struct ctp_addr mn;
	size_t off = 0, recs = 0;
	long spins;

	if (uv_loop_init(&F.loop) != 0)
		abort();
	ctp_mem_wire_clear();
	F.stopped = 0;
	for (int i = 0; i < 2; i++) {
		struct ctp_engine_mn_ops ops = { .send = fuzz_engine_mn_send };

		if (ctp_node_new(&F.loop, fuzz_engine_conf(i), &F.node[i], &err) < 0 ||
		    ctp_engine_new(F.node[i], &F.eng[i], &err) < 0) {
			fprintf(stderr, "fuzz_engine: %s (plugins from %s)\n", err.what, F.plugins);
			abort();
		}
		ctp_engine_set_mn_ops(F.eng[i], &ops);
		if (ctp_node_start(F.node[i], &err) < 0) {
			fprintf(stderr, "fuzz_engine: %s\n", err.what);
			abort();
		}
	}
	for (spins = 0; !fuzz_engine_up() && spins < FUZZ_ENGINE_SPINS; spins++)
		uv_run(&F.loop, UV_RUN_ONCE);
	if (!fuzz_engine_up()) {
		fprintf(stderr, "fuzz_engine: the nodes do not come up\n");
		abort();
	}
	(void)ctp_addr_parse(&mn, "192.0.2.10");
	if (ctp_engine_mn_key_set(F.eng[0], &mn, fuzz_engine_key, sizeof fuzz_engine_key) < 0)
		abort();

	while (size - off >= 3 && recs++ < FUZZ_ENGINE_MAX_RECS) {
		unsigned where = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		const uint8_t *msg = data + off + 3;
		struct sockaddr_storage from;

		if (len > size - off - 3)
			break;
		off += 3 + len;
		if (where & 4) {
			/* let timers run: retransmissions, time-outs, held contexts */
			uint64_t end = uv_now(&F.loop) + 50;

			while (uv_now(&F.loop) < end)
				uv_run(&F.loop, UV_RUN_ONCE);
		}
		switch (where & 3) {
		case 0:
		case 1:
			/* the sender's node does not look at what it sends */
			if (len >= 4)
				(void)ctp_node_send(ctp_node_peer_at(F.node[where & 1], 0), msg, len,
				    CTP_CHAN_KEYS);
			break;
		case 2:
		case 3:
			fuzz_engine_sa4(&from, "192.0.2.99", 40000);
			ctp_engine_mn_input(F.eng[(where & 3) == 2 ? 1 : 0], (struct sockaddr *)&from,
			    CTP_MNIO_UDP, msg, len);
			break;
		}
		fuzz_engine_settle();
		fuzz_engine_check_limits();
	}

	for (int i = 0; i < 2; i++) {
		ctp_engine_free(F.eng[i]);
		ctp_node_stop(F.node[i], fuzz_engine_stopped, NULL);
	}
	for (spins = 0; F.stopped < 2 && spins < FUZZ_ENGINE_SPINS; spins++)
		uv_run(&F.loop, UV_RUN_ONCE);
	uv_run(&F.loop, UV_RUN_DEFAULT);
	if (F.stopped < 2 || uv_loop_close(&F.loop) != 0) {
		fprintf(stderr, "fuzz_engine: the nodes did not stop cleanly\n");
		abort();
	}
	ctp_mem_wire_clear();
	return 0;
}
