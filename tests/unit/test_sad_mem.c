/*
 * test_sad_mem.c: the mem SAD backend (src/features/ipsec/ipsec_sad_mem.c)
 * through its ops, as the plugin calls it.
 *
 *  - the database: install, duplicates, list by endpoint and by selector,
 *    the state machine (freeze, snapshot, thaw, quarantine, remove),
 *    supports and the "algorithms" restriction, describe without keys,
 *    configuration errors;
 *  - a handover with real packets: two SADs in this process with the UDP
 *    datapath on 127.0.0.1 (two ports) and a mobile node made of two ESP
 *    engines and a UDP socket.  The MN talks to SAD A, A's outbound SA is
 *    frozen (no more echoes), snapshot, installed on SAD B with next + a
 *    margin; the MN carries on with B, B refuses a replayed old packet, and
 *    no sequence number reaches the MN twice;
 *  - the state file: reservations crossed while sending, a copy of the file
 *    taken mid-stream (a daemon killed at that instant) and a clean close
 *    both restart at numbers never used, with the inbound window and the
 *    frozen state restored;
 *  - a gateway that originates traffic (esp_send): dummies the peer counts
 *    and never echoes, on active outbound SAs only, with the state file's
 *    reservations;
 *  - the raw datapath on 127.0.0.1 when this process may open raw sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctp/ctp_addr.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_val.h"
#include "features/ipsec/ipsec_esp.h"
#include "features/ipsec/ipsec_sad.h"
#include "test.h"

#define NH_TEST   253   /* RFC 3692: experimentation */
#define MAX_SEEN  4096

static const struct ipsec_sad_ops *ops = &ipsec_sad_mem;

/* ---- helpers ------------------------------------------------------------ */

static char last_log[320];

static void
test_log(void *arg, int level, const char *func, const char *msg)
{
	(void)arg;
	snprintf(last_log, sizeof last_log, "%s: %s", func, msg);
	if (getenv("CTP_TEST_VERBOSE"))
		fprintf(stderr, "[%d] %s\n", level, last_log);
}

static void
fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

/*
 * The SA pair of one MN at a gateway, from the gateway's point of view:
 * in (MN -> gateway, SPI spi) and out (gateway -> MN, SPI spi + 1).
 */
static void
gw_pair(struct ipsec_sa *in, struct ipsec_sa *out, uint32_t spi, const char *gw,
    const char *mn, unsigned encr, unsigned bits, unsigned integ)
{
	const struct ipsec_alg *ea = ipsec_alg_find(IPSEC_ALG_ENCR, encr);

	CU_ASSERT_FATAL(ea != NULL);
	ipsec_sa_clear(in);
	in->spi = spi;
	in->protocol = CTP_IPPROTO_ESP;
	in->mode = CTP_MODE_TUNNEL;
	in->direction = CTP_DIRECTION_IN;
	in->flags = IPSEC_SA_F_ESN | IPSEC_SA_F_ANTI_REPLAY;
	in->family = strchr(gw, ':') ? 6 : 4;
	in->sa_type = CTP_SA_TYPE_TYPE3;
	in->moves = IPSEC_MOVES_LOCAL;
	CU_ASSERT_FATAL(ctp_addr_parse(&in->local, gw) == 0);
	CU_ASSERT_FATAL(ctp_addr_parse(&in->peer, mn) == 0);
	in->has_encr = true;
	in->encr.id = (uint16_t)encr;
	in->encr.key_bits = (uint16_t)bits;
	in->encr.key_len = (uint16_t)ipsec_alg_key_octets(ea, bits);
	fill(in->encr.key, in->encr.key_len, (uint8_t)spi);
	if (!ea->aead) {
		const struct ipsec_alg *ia = ipsec_alg_find(IPSEC_ALG_INTEG, integ);

		in->has_integ = true;
		in->integ.id = (uint16_t)integ;
		in->integ.key_len = (uint16_t)ipsec_alg_key_octets(ia, ia->keys[0].bits);
		fill(in->integ.key, in->integ.key_len, (uint8_t)(spi + 99));
	}
	in->has_replay = true;
	in->replay.window = 64;
	in->replay.bitmap_len = 8;
	in->has_lifetime = true;
	in->lifetime.hard_add_s = 3600;

	*out = *in;
	out->spi = spi + 1;
	out->direction = CTP_DIRECTION_OUT;
	out->flags = IPSEC_SA_F_ESN;
	out->has_replay = false;
	out->has_seq_out = true;
	out->seq_out.next = 1;
	fill(out->encr.key, out->encr.key_len, (uint8_t)(spi + 1));
}

/* The MN's view of a gateway SA: the other end of the same direction. */
static void
mn_view(struct ipsec_sa *mn, const struct ipsec_sa *gw)
{
	*mn = *gw;
	mn->local = gw->peer;
	mn->peer = gw->local;
	if (gw->direction == CTP_DIRECTION_IN) {
		mn->direction = CTP_DIRECTION_OUT;
		mn->flags = gw->flags & (uint8_t)~IPSEC_SA_F_ANTI_REPLAY;
		mn->has_replay = false;
		mn->has_seq_out = true;
		mn->seq_out.next = 1;
		mn->seq_out.margin = 0;
	} else {
		mn->direction = CTP_DIRECTION_IN;
		mn->flags = gw->flags | IPSEC_SA_F_ANTI_REPLAY;
		mn->has_seq_out = false;
		mn->has_replay = true;
		mn->replay.window = 128;
		mn->replay.highest = 0;
		mn->replay.bitmap_len = 16;
		memset(mn->replay.bitmap, 0, sizeof mn->replay.bitmap);
	}
}

static struct ipsec_sad *
sad_open(uv_loop_t *loop, const char *json)
{
	struct ipsec_sad_env env;
	struct ipsec_sad *s = NULL;
	struct ctp_val *cfg = NULL;
	struct ctp_err err;
	int rc;

	memset(&env, 0, sizeof env);
	env.loop = loop;
	env.log = test_log;
	ctp_err_clear(&err);
	if (json)
		CU_ASSERT_FATAL(ctp_json_parse(json, strlen(json), &cfg, &err) == 0);
	rc = ops->open(cfg, &env, &s, &err);
	if (rc != 0)
		fprintf(stderr, "sad open: %s: %s\n", ctp_errname(rc), err.what);
	ctp_val_free(cfg);
	CU_ASSERT_FATAL(rc == 0 && s != NULL);
	return s;
}

static int
sad_open_fails(const char *json, int want, const char *fragment)
{
	struct ipsec_sad_env env;
	struct ipsec_sad *s = NULL;
	struct ctp_val *cfg = NULL;
	struct ctp_err err;
	uv_loop_t loop;
	int rc;

	uv_loop_init(&loop);
	memset(&env, 0, sizeof env);
	env.loop = &loop;
	ctp_err_clear(&err);
	CU_ASSERT_FATAL(ctp_json_parse(json, strlen(json), &cfg, &err) == 0);
	rc = ops->open(cfg, &env, &s, &err);
	ctp_val_free(cfg);
	if (s)
		ops->close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (rc != want || !strstr(err.what, fragment)) {
		fprintf(stderr, "open %s: %s: %s\n", json, ctp_errname(rc), err.what);
		return 0;
	}
	return 1;
}

static void
sad_close(struct ipsec_sad *s, uv_loop_t *loop)
{
	ops->close(s);
	/* the memory goes in the close callbacks */
	uv_run(loop, UV_RUN_NOWAIT);
}

static void
install(struct ipsec_sad *s, const struct ipsec_sa *sa)
{
	struct ctp_err err;
	int rc;

	ctp_err_clear(&err);
	rc = ops->install(s, sa, &err);
	if (rc != 0)
		fprintf(stderr, "install 0x%08x: %s: %s\n", sa->spi, ctp_errname(rc), err.what);
	CU_ASSERT_FATAL(rc == 0);
}

/* One SA of describe(), by SPI and direction; NULL when absent. */
static struct ctp_val *
described(struct ipsec_sad *s, struct ctp_val **arr, uint32_t spi, const char *dir)
{
	const char *d;
	uint64_t v;

	ctp_val_free(*arr);
	*arr = ctp_val_arr();
	CU_ASSERT_FATAL(*arr && ops->describe(s, *arr) == 0);
	for (size_t i = 0; i < (*arr)->n; i++) {
		struct ctp_val *o = (*arr)->items[i];

		if (ctp_val_get_u64(o, "spi", UINT32_MAX, &v, NULL) == 0 && v == spi &&
		    ctp_val_get_str(o, "direction", &d, NULL) == 0 && strcmp(d, dir) == 0)
			return o;
	}
	return NULL;
}

static uint64_t
num(const struct ctp_val *o, const char *key)
{
	uint64_t v = UINT64_MAX;

	CU_ASSERT(o && ctp_val_get_u64(o, key, UINT64_MAX, &v, NULL) == 0);
	return v;
}

static const char *
str(const struct ctp_val *o, const char *key)
{
	const char *v = "";

	CU_ASSERT(o && ctp_val_get_str(o, key, &v, NULL) == 0);
	return v;
}

static uint64_t
counter(struct ipsec_sad *s, const char *key)
{
	struct ctp_val *o = ctp_val_obj();
	uint64_t v;

	CU_ASSERT_FATAL(o && ipsec_sad_mem_counters(s, o) == 0);
	v = num(o, key);
	ctp_val_free(o);
	return v;
}

/* Two free UDP ports on 127.0.0.1. */
static void
free_ports(uint16_t *a, uint16_t *b)
{
	int fd[2];

	for (int i = 0; i < 2; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t sl = sizeof sin;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
		CU_ASSERT_FATAL(fd[i] >= 0);
		CU_ASSERT_FATAL(bind(fd[i], (struct sockaddr *)&sin, sizeof sin) == 0);
		CU_ASSERT_FATAL(getsockname(fd[i], (struct sockaddr *)&sin, &sl) == 0);
		*(i ? b : a) = ntohs(sin.sin_port);
	}
	close(fd[0]);
	close(fd[1]);
}

/* ---- a mobile node: two engines and a socket ---------------------------- */

struct mn {
	int               fd;
	int               raw;
	int               family;           /* AF_INET, AF_INET6 */
	struct ipsec_esp *out, *in;
	uint32_t          out_spi, in_spi;
	uint64_t          counter;
	uint64_t          seen[MAX_SEEN];   /* sequence numbers of the echoes */
	size_t            nseen;
	uint64_t          auth_fail, replay, other;
	uint8_t           last[2048];       /* the last packet sent */
	size_t            last_len;
};

static void
mn_init6(struct mn *m, const struct ipsec_sa *gw_in, const struct ipsec_sa *gw_out, int raw,
    int family)
{
	struct ipsec_sa a, b;
	struct ctp_err err;

	memset(m, 0, sizeof *m);
	m->raw = raw;
	m->family = family;
	mn_view(&a, gw_in);
	mn_view(&b, gw_out);
	ctp_err_clear(&err);
	CU_ASSERT_FATAL(ipsec_esp_new(&a, &m->out, &err) == 0);
	CU_ASSERT_FATAL(ipsec_esp_new(&b, &m->in, &err) == 0);
	m->out_spi = a.spi;
	m->in_spi = b.spi;
	ipsec_sa_clear(&a);
	ipsec_sa_clear(&b);
	if (raw)
		m->fd = socket(family, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ESP);
	else if (family == AF_INET) {
		struct sockaddr_in sin = { .sin_family = AF_INET };

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		CU_ASSERT_FATAL(bind(m->fd, (struct sockaddr *)&sin, sizeof sin) == 0);
	} else {
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

		sin6.sin6_addr = in6addr_loopback;
		m->fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		CU_ASSERT_FATAL(bind(m->fd, (struct sockaddr *)&sin6, sizeof sin6) == 0);
	}
	CU_ASSERT_FATAL(m->fd >= 0);
}

static void
mn_init(struct mn *m, const struct ipsec_sa *gw_in, const struct ipsec_sa *gw_out, int raw)
{
	mn_init6(m, gw_in, gw_out, raw, AF_INET);
}

static void
mn_free(struct mn *m)
{
	ipsec_esp_free(m->out);
	ipsec_esp_free(m->in);
	close(m->fd);
}

static void
mn_sendraw(struct mn *m, uint16_t port, const uint8_t *pkt, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	ssize_t n;

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to6.sin6_addr = in6addr_loopback;
	if (m->raw)
		to.sin_port = to6.sin6_port = 0;
	if (m->family == AF_INET6)
		n = sendto(m->fd, pkt, len, 0, (struct sockaddr *)&to6, sizeof to6);
	else
		n = sendto(m->fd, pkt, len, 0, (struct sockaddr *)&to, sizeof to);
	CU_ASSERT(n == (ssize_t)len);
}

/* Send one packet (counter, timestamp) to the gateway's port; returns its
 * sequence number. */
static uint64_t
mn_send(struct mn *m, uint16_t port)
{
	uint8_t pl[16];
	struct ctp_wbuf w;
	struct timespec ts;
	uint64_t seq = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ctp_wbuf_init(&w, pl, sizeof pl);
	ctp_wbuf_u64(&w, ++m->counter);
	ctp_wbuf_u64(&w, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	ctp_wbuf_init(&w, m->last, sizeof m->last);
	CU_ASSERT_FATAL(ipsec_esp_encap(m->out, pl, sizeof pl, NH_TEST, &w, &seq) == 0);
	m->last_len = w.len;
	mn_sendraw(m, port, m->last, m->last_len);
	return seq;
}

/* Read what arrived: echoes are decapsulated and their numbers kept. */
static void
mn_drain(struct mn *m)
{
	uint8_t buf[4096], out[4096];

	for (;;) {
		ssize_t n = recv(m->fd, buf, sizeof buf, 0);
		struct ipsec_esp_rx rx;
		struct ctp_wbuf w;
		struct ctp_cur c;
		const uint8_t *esp;
		size_t len;
		uint32_t spi, sl;
		int rc;

		if (n <= 0)
			return;
		ctp_cur_init(&c, buf, (size_t)n, 0);
		if (m->raw && m->family == AF_INET) {
			uint8_t vhl;

			/* raw IPv4: step over the header */
			if (ctp_cur_u8(&c, &vhl) < 0 || ctp_cur_skip(&c, (size_t)(vhl & 15) * 4 - 1) < 0)
				continue;
		}
		len = c.left;
		if (ctp_cur_view(&c, len, &esp) < 0 || ipsec_esp_peek(esp, len, &spi, &sl) < 0 ||
		    spi != m->in_spi) {
			m->other++;   /* our own packets, on raw sockets */
			continue;
		}
		ctp_wbuf_init(&w, out, sizeof out);
		rc = ipsec_esp_decap(m->in, esp, len, &w, &rx);
		if (rc == CTP_E_AUTH)
			m->auth_fail++;
		else if (rc == CTP_E_STATE)
			m->replay++;
		else if (rc == 0 && m->nseen < MAX_SEEN) {
			CU_ASSERT_EQUAL(rx.next_header, NH_TEST);
			CU_ASSERT_EQUAL(rx.len, 16);
			m->seen[m->nseen++] = rx.seq;
		}
	}
}

/* Run the loop and the MN until it has seen `want` echoes, or for `ms`
 * when want is 0 (waiting for nothing to happen). */
static void
pump(uv_loop_t *loop, struct mn *m, size_t want, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = m->fd, .events = POLLIN };

		uv_run(loop, UV_RUN_NOWAIT);
		mn_drain(m);
		if (want && m->nseen >= want)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return;
		(void)poll(&p, 1, 1);
	}
}

/* No number twice, and ascending within one run. */
static void
check_unique(const struct mn *m)
{
	for (size_t i = 0; i < m->nseen; i++)
		for (size_t j = i + 1; j < m->nseen; j++)
			if (m->seen[i] == m->seen[j]) {
				fprintf(stderr, "sequence number %llu seen twice\n",
				    (unsigned long long)m->seen[i]);
				CU_FAIL("a sequence number was used twice");
				return;
			}
}

/* ---- the database ------------------------------------------------------- */

static void
test_sad_database(void)
{
	struct ipsec_sa in, out, in2, out2, snap, ah;
	struct ipsec_sa_ref refs[IPSEC_SAD_MAX_LIST], rin, rout;
	struct ctp_addr mn, other, inner;
	struct ctp_val *arr = NULL, *o;
	struct ipsec_sad *s;
	struct ctp_err err;
	uint64_t hi = 99;
	size_t n = 0;
	char *json;
	char keyhex[2 * 32 + 1];

	s = sad_open(NULL, NULL);
	gw_pair(&in, &out, 0x1000, "192.0.2.1", "198.51.100.7", CTP_ENCR_AES_GCM_16, 128, 0);
	gw_pair(&in2, &out2, 0x2000, "192.0.2.1", "198.51.100.8", CTP_ENCR_AES_CBC, 256,
	    CTP_INTEG_HMAC_SHA2_512_256);
	/* the second MN's traffic is covered by a selector of its SAs */
	in2.nsel = 1;
	in2.sel[0].family = 4;
	in2.sel[0].src_plen = 24;
	in2.sel[0].dst_plen = 0;
	CU_ASSERT_FATAL(ctp_addr_parse(&in2.sel[0].src, "10.9.8.0") == 0);
	CU_ASSERT_FATAL(ctp_addr_parse(&in2.sel[0].dst, "0.0.0.0") == 0);
	in2.sel[0].sport_hi = in2.sel[0].dport_hi = 65535;
	install(s, &in);
	install(s, &out);
	install(s, &in2);
	install(s, &out2);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ops->install(s, &in, &err), CTP_E_EXIST);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_SPI_CONFLICT);
	ipsec_sa_ref_of(&in, &rin);
	ipsec_sa_ref_of(&out, &rout);
	CU_ASSERT_EQUAL(ops->spi_in_use(s, 0x1000, CTP_IPPROTO_ESP, &in.local), 1);
	CU_ASSERT_EQUAL(ops->spi_in_use(s, 0x1000, CTP_IPPROTO_ESP, &in.peer), 0);
	CU_ASSERT_EQUAL(ops->spi_in_use(s, 0x1001, CTP_IPPROTO_ESP, &out.peer), 1);
	CU_ASSERT_EQUAL(ops->spi_in_use(s, 0x1000, CTP_IPPROTO_AH, &in.local), 0);

	/* list: by endpoint, in install order; by a selector's prefix */
	CU_ASSERT_FATAL(ctp_addr_parse(&mn, "198.51.100.7") == 0);
	CU_ASSERT_EQUAL(ops->list(s, &mn, refs, IPSEC_SAD_MAX_LIST, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT(n == 2 && refs[0].spi == 0x1000 && refs[1].spi == 0x1001);
	CU_ASSERT(ctp_addr_eq(&refs[0].dst, &in.local) && ctp_addr_eq(&refs[1].dst, &out.peer));
	CU_ASSERT_FATAL(ctp_addr_parse(&inner, "10.9.8.77") == 0);
	CU_ASSERT_EQUAL(ops->list(s, &inner, refs, IPSEC_SAD_MAX_LIST, &n), 0);
	CU_ASSERT(n == 1 && refs[0].spi == 0x2000);
	CU_ASSERT_FATAL(ctp_addr_parse(&other, "203.0.113.1") == 0);
	CU_ASSERT_EQUAL(ops->list(s, &other, refs, IPSEC_SAD_MAX_LIST, &n), 0);
	CU_ASSERT_EQUAL(n, 0);   /* the 0.0.0.0/0 side of a selector covers nobody */
	CU_ASSERT_EQUAL(ops->list(s, &mn, refs, 1, &n), CTP_E_LIMIT);
	CU_ASSERT_EQUAL(n, 1);

	/* an active outbound SA cannot be snapshot: the source stops first */
	CU_ASSERT_EQUAL(ops->snapshot(s, &rout, &snap), CTP_E_STATE);
	CU_ASSERT_EQUAL(ops->snapshot(s, &rin, &snap), 0);
	CU_ASSERT(snap.has_replay && snap.replay.window == 64 && snap.replay.highest == 0);
	CU_ASSERT(snap.has_usage && snap.usage.packets == 0 && snap.usage.use_ms == 0);
	CU_ASSERT(memcmp(snap.encr.key, in.encr.key, in.encr.key_len) == 0);
	CU_ASSERT_EQUAL(ipsec_sa_verify(&snap, NULL), 0);
	CU_ASSERT_EQUAL(ops->freeze(s, &rout, &hi), 0);
	CU_ASSERT_EQUAL(hi, 0);   /* nothing sent: everything below 1 */
	/* again: refused, another transfer has it (it would go twice) */
	CU_ASSERT_EQUAL(ops->freeze(s, &rout, &hi), CTP_E_STATE);
	CU_ASSERT_EQUAL(ops->snapshot(s, &rout, &snap), 0);
	CU_ASSERT(snap.has_seq_out && snap.seq_out.next == 1 && snap.seq_out.margin == 0);
	CU_ASSERT(snap.has_lifetime && snap.lifetime.hard_add_s == 3600);
	CU_ASSERT_EQUAL(ipsec_sa_verify(&snap, NULL), 0);
	o = described(s, &arr, 0x1001, "out");
	CU_ASSERT_STRING_EQUAL(str(o, "state"), "frozen");
	CU_ASSERT_EQUAL(ops->thaw(s, &rout), 0);
	o = described(s, &arr, 0x1001, "out");
	CU_ASSERT_STRING_EQUAL(str(o, "state"), "active");
	CU_ASSERT_EQUAL(ops->quarantine(s, &rout), 0);
	CU_ASSERT_EQUAL(ops->thaw(s, &rout), CTP_E_STATE);
	CU_ASSERT_EQUAL(ops->freeze(s, &rout, &hi), CTP_E_STATE);
	/* quarantined SAs are out of every transfer */
	CU_ASSERT_EQUAL(ops->list(s, &mn, refs, IPSEC_SAD_MAX_LIST, &n), 0);
	CU_ASSERT(n == 1 && refs[0].spi == 0x1000);

	/* describe: algorithms by name, no key octets anywhere */
	o = described(s, &arr, 0x2001, "out");
	CU_ASSERT_STRING_EQUAL(str(o, "encr"), "ENCR_AES_CBC");
	CU_ASSERT_STRING_EQUAL(str(o, "integ"), "AUTH_HMAC_SHA2_512_256");
	CU_ASSERT_EQUAL(num(o, "encr_key_bits"), 256);
	CU_ASSERT_EQUAL(arr->n, 4);
	json = ctp_json_string(arr, 0);
	CU_ASSERT_FATAL(json != NULL);
	for (int k = 0; k < 4; k++) {
		const struct ipsec_sa *sa = k == 0 ? &in : k == 1 ? &out : k == 2 ? &in2 : &out2;

		for (size_t i = 0; i < 16; i++)
			snprintf(keyhex + 2 * i, 3, "%02x", sa->encr.key[i]);
		CU_ASSERT_PTR_NULL(strstr(json, keyhex));
		if (sa->has_integ) {
			for (size_t i = 0; i < 16; i++)
				snprintf(keyhex + 2 * i, 3, "%02x", sa->integ.key[i]);
			CU_ASSERT_PTR_NULL(strstr(json, keyhex));
		}
	}
	CU_ASSERT_PTR_NULL(strstr(json, "key\""));
	free(json);

	CU_ASSERT_EQUAL(ops->remove(s, &rout), 0);
	CU_ASSERT_EQUAL(ops->remove(s, &rout), CTP_E_NOTFOUND);
	CU_ASSERT_EQUAL(ops->freeze(s, &rout, &hi), CTP_E_NOTFOUND);
	CU_ASSERT_EQUAL(ops->snapshot(s, &rout, &snap), CTP_E_NOTFOUND);
	CU_ASSERT_EQUAL(ops->spi_in_use(s, 0x1001, CTP_IPPROTO_ESP, &out.peer), 0);

	/* every algorithm of the table, AH refused */
	for (size_t i = 0; i < ipsec_alg_count; i++)
		CU_ASSERT_EQUAL(ops->supports(s, ipsec_algs[i].type, ipsec_algs[i].id,
		    ipsec_algs[i].keys[0].bits), 1);
	CU_ASSERT_EQUAL(ops->supports(s, IPSEC_ALG_ENCR, CTP_ENCR_AES_GCM_16, 100), 0);
	CU_ASSERT_EQUAL(ops->supports(s, IPSEC_ALG_ENCR, 2, 64), 0);   /* DES */
	ah = in;
	ah.protocol = CTP_IPPROTO_AH;
	ah.spi = 0x3000;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ops->install(s, &ah, &err), CTP_E_UNSUPPORTED);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_ALG_UNSUPPORTED);

	ctp_val_free(arr);
	ops->close(s);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&out);
	ipsec_sa_clear(&in2);
	ipsec_sa_clear(&out2);
	ipsec_sa_clear(&snap);
	ipsec_sa_clear(&ah);
}

static void
test_sad_config(void)
{
	struct ipsec_sa in, out;
	struct ipsec_sad *s;
	struct ctp_err err;

	CU_ASSERT(sad_open_fails("{\"datapth\": \"udp\"}", CTP_E_CONFIG, "unknown configuration key"));
	CU_ASSERT(sad_open_fails("{\"datapath\": \"tcp\"}", CTP_E_CONFIG, "\"datapath\""));
	CU_ASSERT(sad_open_fails("{\"port\": 0}", CTP_E_CONFIG, "\"port\""));
	CU_ASSERT(sad_open_fails("{\"echo\": \"maybe\"}", CTP_E_CONFIG, "boolean"));
	CU_ASSERT(sad_open_fails("{\"algorithms\": [\"ENCR_ROT13\"]}", CTP_E_CONFIG, "ENCR_ROT13"));
	CU_ASSERT(sad_open_fails("{\"backend\": \"xfrm\"}", CTP_E_CONFIG, "backend"));
	CU_ASSERT(sad_open_fails("{\"state-file\": \"/nonexistent-dir/x/sad\"}", CTP_E_IO,
	    "state file"));

	/* "endpoint lacks the algorithm": only what the list names */
	s = sad_open(NULL, "{\"backend\": \"mem\", \"datapath\": \"none\", \"echo\": \"true\", "
	    "\"algorithms\": \"ENCR_AES_GCM_16, AUTH_HMAC_SHA2_256_128 ENCR_AES_CBC\"}");
	CU_ASSERT_EQUAL(ops->supports(s, IPSEC_ALG_ENCR, CTP_ENCR_AES_GCM_16, 256), 1);
	CU_ASSERT_EQUAL(ops->supports(s, IPSEC_ALG_ENCR, CTP_ENCR_AES_GCM_12, 256), 0);
	CU_ASSERT_EQUAL(ops->supports(s, IPSEC_ALG_ENCR, CTP_ENCR_CHACHA20_POLY1305, 256), 0);
	CU_ASSERT_EQUAL(ops->supports(s, IPSEC_ALG_INTEG, CTP_INTEG_HMAC_SHA2_256_128, 256), 1);
	CU_ASSERT_EQUAL(ops->supports(s, IPSEC_ALG_INTEG, CTP_INTEG_HMAC_SHA1_96, 160), 0);
	CU_ASSERT_EQUAL(ops->supports(s, IPSEC_ALG_INTEG, CTP_INTEG_NONE, 0), 1);
	gw_pair(&in, &out, 0x5000, "192.0.2.1", "198.51.100.9", CTP_ENCR_CHACHA20_POLY1305, 256, 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ops->install(s, &in, &err), CTP_E_UNSUPPORTED);
	CU_ASSERT_EQUAL(err.status, CTP_ST_IPSEC_ALG_UNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "ENCR_CHACHA20_POLY1305"));
	gw_pair(&in, &out, 0x5000, "192.0.2.1", "198.51.100.9", CTP_ENCR_AES_CBC, 128,
	    CTP_INTEG_HMAC_SHA1_96);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ops->install(s, &in, &err), CTP_E_UNSUPPORTED);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "AUTH_HMAC_SHA1_96"));
	gw_pair(&in, &out, 0x5000, "192.0.2.1", "198.51.100.9", CTP_ENCR_AES_CBC, 128,
	    CTP_INTEG_HMAC_SHA2_256_128);
	install(s, &in);
	ops->close(s);
	/* an invalid SA is refused with ipsec_sa_verify()'s words */
	s = sad_open(NULL, "{\"max-sas\": 1}");
	in.seq_out.next = 0;
	out.has_seq_out = false;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ops->install(s, &out, &err), CTP_E_VALUE);
	install(s, &in);
	out.has_seq_out = true;
	out.seq_out.next = 1;
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ops->install(s, &out, &err), CTP_E_LIMIT);
	ops->close(s);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&out);
}

/* ---- a handover with real packets --------------------------------------- */

static void
test_sad_udp_handover(void)
{
	char cfg[256];
	uv_loop_t loop;
	struct ipsec_sad *a, *b;
	struct ipsec_sa in, out, snap_in, snap_out;
	struct ipsec_sa_ref rin, rout;
	struct ctp_val *arr = NULL, *o;
	struct mn m;
	uint16_t pa, pb;
	uint64_t hi = 0, seq3 = 0;
	uint8_t old[2048], junk[32] = { 0 };
	size_t oldlen = 0, before;

	uv_loop_init(&loop);
	free_ports(&pa, &pb);
	snprintf(cfg, sizeof cfg, "{\"datapath\": \"udp\", \"port\": %u, \"echo\": true}", pa);
	a = sad_open(&loop, cfg);
	snprintf(cfg, sizeof cfg, "{\"datapath\": \"udp\", \"port\": %u, \"echo\": true}", pb);
	b = sad_open(&loop, cfg);
	gw_pair(&in, &out, 0x10000, "127.0.0.1", "127.0.0.1", CTP_ENCR_AES_GCM_16, 256, 0);
	install(a, &in);
	install(a, &out);
	ipsec_sa_ref_of(&in, &rin);
	ipsec_sa_ref_of(&out, &rout);
	mn_init(&m, &in, &out, 0);

	/* 1. the MN and gateway A */
	for (int i = 0; i < 5; i++) {
		uint64_t s = mn_send(&m, pa);

		if (i == 2) {
			seq3 = s;
			memcpy(old, m.last, m.last_len);
			oldlen = m.last_len;
		}
	}
	pump(&loop, &m, 5, 2000);
	CU_ASSERT_EQUAL_FATAL(m.nseen, 5);
	for (size_t i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(m.seen[i], i + 1);
	o = described(a, &arr, 0x10000, "in");
	CU_ASSERT_EQUAL(num(o, "packets"), 5);
	CU_ASSERT_EQUAL(num(o, "bytes"), 80);
	CU_ASSERT_EQUAL(num(o, "last_seq"), 5);
	o = described(a, &arr, 0x10001, "out");
	CU_ASSERT_EQUAL(num(o, "packets"), 5);
	CU_ASSERT_EQUAL(num(o, "next_seq"), 6);

	/* 2. the transfer starts: A's outbound SA stops, its inbound one
	 * keeps accepting (the MN may still send to A) */
	CU_ASSERT_EQUAL(ops->freeze(a, &rout, &hi), 0);
	CU_ASSERT_EQUAL(hi, 5);
	CU_ASSERT_EQUAL(ops->freeze(a, &rin, NULL), 0);
	mn_send(&m, pa);
	mn_send(&m, pa);
	pump(&loop, &m, 0, 150);
	CU_ASSERT_EQUAL(m.nseen, 5);   /* no echo from a frozen SA */
	o = described(a, &arr, 0x10000, "in");
	CU_ASSERT_EQUAL(num(o, "packets"), 7);
	o = described(a, &arr, 0x10001, "out");
	CU_ASSERT_EQUAL(num(o, "blocked"), 2);
	CU_ASSERT_EQUAL(num(o, "next_seq"), 6);

	/* 3. snapshot at A, install at B with the margin (the plugin's job) */
	CU_ASSERT_EQUAL_FATAL(ops->snapshot(a, &rout, &snap_out), 0);
	CU_ASSERT_EQUAL_FATAL(ops->snapshot(a, &rin, &snap_in), 0);
	CU_ASSERT_EQUAL(snap_out.seq_out.next, hi + 1);
	CU_ASSERT_EQUAL(snap_out.usage.packets, 5);
	CU_ASSERT_EQUAL(snap_in.replay.highest, 7);
	CU_ASSERT_EQUAL(snap_in.replay.bitmap[0], 0xfe);   /* 7..1 */
	CU_ASSERT_EQUAL(snap_in.usage.packets, 7);
	CU_ASSERT(snap_in.usage.use_ms > 0 && snap_in.usage.add_ms >= snap_in.usage.use_ms);
	snap_out.seq_out.next += 16384;
	snap_out.seq_out.margin = 16384;
	install(b, &snap_out);
	install(b, &snap_in);

	/* 4. the MN carries on with B: its next number is accepted, the
	 * echo comes from above the margin */
	mn_send(&m, pb);
	pump(&loop, &m, 6, 2000);
	CU_ASSERT_EQUAL_FATAL(m.nseen, 6);
	CU_ASSERT_EQUAL(m.seen[5], 6 + 16384);
	/* a replay of an old packet (the 3rd, accepted at A) is refused */
	CU_ASSERT_EQUAL(seq3, 3);
	before = m.nseen;
	mn_sendraw(&m, pb, old, oldlen);
	pump(&loop, &m, 0, 150);
	CU_ASSERT_EQUAL(m.nseen, before);
	o = described(b, &arr, 0x10000, "in");
	CU_ASSERT_EQUAL(num(o, "replay_drops"), 1);
	CU_ASSERT_EQUAL(num(o, "packets"), 8);   /* 7 from A's snapshot, 1 here */
	for (int i = 0; i < 10; i++)
		mn_send(&m, pb);
	pump(&loop, &m, 16, 2000);
	CU_ASSERT_EQUAL(m.nseen, 16);
	CU_ASSERT_EQUAL(m.seen[15], 16 + 16384);
	CU_ASSERT_EQUAL(m.auth_fail, 0);
	CU_ASSERT_EQUAL(m.replay, 0);
	check_unique(&m);

	/* 5. the commit: A removes its copies; the MN's stray packets are now
	 * unknown SPIs there */
	CU_ASSERT_EQUAL(ops->remove(a, &rin), 0);
	CU_ASSERT_EQUAL(ops->remove(a, &rout), 0);
	mn_send(&m, pa);
	pump(&loop, &m, 0, 100);
	CU_ASSERT_EQUAL(counter(a, "unknown_spi"), 1);
	CU_ASSERT_EQUAL(m.nseen, 16);

	/* 6. RFC 3948 on the port: IKE (non-ESP marker) and keep-alives */
	junk[4] = 0x21;
	mn_sendraw(&m, pb, junk, sizeof junk);
	junk[0] = 0xff;
	mn_sendraw(&m, pb, junk, 1);
	mn_sendraw(&m, pb, junk, 3);
	junk[0] = 0;
	mn_sendraw(&m, pb, junk, 5);   /* a short IKE packet is still IKE */
	pump(&loop, &m, 0, 100);
	CU_ASSERT_EQUAL(counter(b, "ike"), 2);
	CU_ASSERT_EQUAL(counter(b, "keepalive"), 1);
	CU_ASSERT_EQUAL(counter(b, "malformed"), 1);
	CU_ASSERT_EQUAL(counter(b, "echoed"), 11);

	/* 7. a flood of mutated packets through the socket: counted, never
	 * echoed, and B still answers the next good one */
	{
		uint64_t x = 0x2545f4914f6cdd1du;

		mn_send(&m, pb);   /* only to have a fresh good packet in m.last */
		pump(&loop, &m, 17, 2000);
		for (int i = 0; i < 400; i++) {
			uint8_t bad[2048];
			size_t n = m.last_len;

			memcpy(bad, m.last, n);
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (x % 3 == 0)
				n = 1 + x / 8 % n;
			else
				bad[x / 8 % n] ^= (uint8_t)(1u << (x / 4096 % 8));
			mn_sendraw(&m, pb, bad, n);
			if (i % 50 == 49)
				pump(&loop, &m, 0, 5);
		}
		pump(&loop, &m, 0, 50);
		CU_ASSERT_EQUAL(m.nseen, 17);
		mn_send(&m, pb);
		pump(&loop, &m, 18, 2000);
		CU_ASSERT_EQUAL(m.nseen, 18);
		CU_ASSERT_EQUAL(counter(b, "echoed"), 13);
	}

	ctp_val_free(arr);
	mn_free(&m);
	sad_close(a, &loop);
	sad_close(b, &loop);
	CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&out);
	ipsec_sa_clear(&snap_in);
	ipsec_sa_clear(&snap_out);
}

/* Hard lifetimes stop an SA; quarantine stops it for good. */
static void
test_sad_lifetime_and_quarantine(void)
{
	char cfg[256];
	uv_loop_t loop;
	struct ipsec_sad *a;
	struct ipsec_sa in, out;
	struct ipsec_sa_ref rin, rout;
	struct ctp_val *arr = NULL, *o;
	struct mn m;
	uint16_t pa, pb;

	uv_loop_init(&loop);
	free_ports(&pa, &pb);
	snprintf(cfg, sizeof cfg, "{\"datapath\": \"udp\", \"port\": %u, \"echo\": \"yes\"}", pa);
	a = sad_open(&loop, cfg);
	gw_pair(&in, &out, 0x20000, "127.0.0.1", "127.0.0.1", CTP_ENCR_CHACHA20_POLY1305, 256, 0);
	out.lifetime.hard_packets = 3;
	install(a, &in);
	install(a, &out);
	ipsec_sa_ref_of(&in, &rin);
	ipsec_sa_ref_of(&out, &rout);
	mn_init(&m, &in, &out, 0);
	for (int i = 0; i < 5; i++)
		mn_send(&m, pa);
	pump(&loop, &m, 5, 300);
	CU_ASSERT_EQUAL(m.nseen, 3);
	o = described(a, &arr, 0x20001, "out");
	CU_ASSERT_EQUAL(num(o, "expired"), 2);
	CU_ASSERT_EQUAL(ops->quarantine(a, &rin), 0);
	mn_send(&m, pa);
	pump(&loop, &m, 0, 100);
	o = described(a, &arr, 0x20000, "in");
	CU_ASSERT_EQUAL(num(o, "packets"), 5);
	CU_ASSERT_EQUAL(num(o, "blocked"), 1);
	CU_ASSERT_STRING_EQUAL(str(o, "state"), "quarantined");
	check_unique(&m);
	ctp_val_free(arr);
	mn_free(&m);
	sad_close(a, &loop);
	CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&out);
}

/* ---- the state file ----------------------------------------------------- */

static int
copy_file(const char *from, const char *to)
{
	size_t len = 0;
	unsigned char *buf = ctp_test_read_file(from, &len);
	FILE *f;
	int ok;

	if (!buf)
		return 0;
	f = fopen(to, "wb");
	ok = f && fwrite(buf, 1, len, f) == len;
	if (f)
		fclose(f);
	ctp_wipe(buf, len);
	free(buf);
	return ok;
}

static void
test_sad_state_file(void)
{
	char dir[] = "/tmp/ctp-sad-XXXXXX", path[128], crash[128], cfg[512];
	uv_loop_t loop;
	struct ipsec_sad *a;
	struct ipsec_sa in, out;
	struct ipsec_sa_ref rout;
	struct ctp_val *arr = NULL, *o;
	struct mn m;
	struct stat st;
	uint16_t pa, pb;
	uint8_t old[2048];
	size_t oldlen = 0;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/sad", dir);
	snprintf(crash, sizeof crash, "%s/sad.crash", dir);
	uv_loop_init(&loop);
	free_ports(&pa, &pb);
	snprintf(cfg, sizeof cfg, "{\"datapath\": \"udp\", \"port\": %u, \"echo\": true, "
	    "\"state-file\": \"%s\", \"seq-reserve\": 100}", pa, path);
	a = sad_open(&loop, cfg);
	gw_pair(&in, &out, 0x30000, "127.0.0.1", "127.0.0.1", CTP_ENCR_AES_CTR, 128,
	    CTP_INTEG_HMAC_SHA2_256_128);
	install(a, &in);
	install(a, &out);
	ipsec_sa_ref_of(&out, &rout);
	CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	o = described(a, &arr, 0x30001, "out");
	CU_ASSERT_EQUAL(num(o, "seq_reserved"), 101);
	mn_init(&m, &in, &out, 0);

	/* 150 packets cross the reservation once (at 101) */
	for (int i = 0; i < 150; i++) {
		mn_send(&m, pa);
		if (i % 10 == 9)
			pump(&loop, &m, (size_t)i + 1, 2000);
		if (i == 119)
			/* a daemon killed right now would leave this file */
			CU_ASSERT(copy_file(path, crash));
		if (i == 139) {
			memcpy(old, m.last, m.last_len);
			oldlen = m.last_len;
		}
	}
	pump(&loop, &m, 150, 2000);
	CU_ASSERT_EQUAL_FATAL(m.nseen, 150);
	o = described(a, &arr, 0x30001, "out");
	CU_ASSERT_EQUAL(num(o, "seq_reserved"), 201);
	CU_ASSERT_EQUAL(num(o, "next_seq"), 151);
	sad_close(a, &loop);

	/* a clean restart: the counter resumes at the reservation, the
	 * window remembers packet 140 */
	a = sad_open(&loop, cfg);
	o = described(a, &arr, 0x30001, "out");
	CU_ASSERT_EQUAL(num(o, "next_seq"), 201);
	CU_ASSERT_EQUAL(num(o, "seq_reserved"), 301);
	CU_ASSERT_EQUAL(num(o, "packets"), 150);
	o = described(a, &arr, 0x30000, "in");
	CU_ASSERT_EQUAL(num(o, "replay_highest"), 150);
	mn_sendraw(&m, pa, old, oldlen);
	pump(&loop, &m, 0, 100);
	o = described(a, &arr, 0x30000, "in");
	CU_ASSERT_EQUAL(num(o, "replay_drops"), 1);
	mn_send(&m, pa);
	pump(&loop, &m, 151, 2000);
	CU_ASSERT_EQUAL_FATAL(m.nseen, 151);
	CU_ASSERT_EQUAL(m.seen[150], 201);
	/* frozen for a transfer that died with the daemon: no verdict will
	 * come, so it comes back quarantined (PROFILE 5.1), never active */
	CU_ASSERT_EQUAL(ops->freeze(a, &rout, NULL), 0);
	sad_close(a, &loop);
	a = sad_open(&loop, cfg);
	o = described(a, &arr, 0x30001, "out");
	CU_ASSERT_STRING_EQUAL(str(o, "state"), "quarantined");
	CU_ASSERT_EQUAL(num(o, "next_seq"), 301);
	mn_send(&m, pa);
	pump(&loop, &m, 0, 100);
	CU_ASSERT_EQUAL(m.nseen, 151);
	sad_close(a, &loop);

	/* the file of the "killed" daemon: written when 101 crossed the
	 * reservation, so it resumes at 201, above everything sent then (120) */
	CU_ASSERT_FATAL(rename(crash, path) == 0);
	a = sad_open(&loop, cfg);
	o = described(a, &arr, 0x30001, "out");
	CU_ASSERT_EQUAL(num(o, "next_seq"), 201);
	CU_ASSERT_STRING_EQUAL(str(o, "state"), "active");
	sad_close(a, &loop);

	/* a corrupt file is refused, not half-loaded: the state octet of the
	 * second record (12 octets of file header, 44 of record header and the
	 * first record's CDB, whose length is at 14) */
	{
		FILE *f = fopen(path, "r+b");
		int hi, lo;

		CU_ASSERT_FATAL(f != NULL);
		CU_ASSERT(fseek(f, 14, SEEK_SET) == 0);
		hi = fgetc(f);
		lo = fgetc(f);
		CU_ASSERT(fseek(f, 12 + 44 + (hi << 8 | lo), SEEK_SET) == 0 && fputc(0x7f, f) != EOF);
		fclose(f);
	}
	{
		size_t l1 = 0, l2 = 0;
		unsigned char *before = ctp_test_read_file(path, &l1), *after;

		CU_ASSERT(sad_open_fails(cfg, CTP_E_VALUE, "record 1"));
		/* and left as it was: a failed load writes nothing back */
		after = ctp_test_read_file(path, &l2);
		CU_ASSERT(before && after && l1 == l2 && memcmp(before, after, l1) == 0);
		free(before);
		free(after);
	}
	check_unique(&m);
	ctp_val_free(arr);
	mn_free(&m);
	unlink(path);
	rmdir(dir);
	CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&out);
}

/* ---- a gateway originates traffic (type 4: both ends are gateways) ------- */

/* Run the loop until node b's inbound SA spi has accepted `want` packets,
 * at most ms; its describe object then. */
static struct ctp_val *
wait_packets(uv_loop_t *loop, struct ipsec_sad *b, struct ctp_val **arr, uint32_t spi,
    uint64_t want, int ms)
{
	struct ctp_val *o = NULL;

	for (int i = 0; i <= ms; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		if ((o = described(b, arr, spi, "in")) != NULL && num(o, "packets") >= want)
			break;
		(void)poll(NULL, 0, 1);
	}
	return o;
}

static void
test_sad_esp_send(void)
{
	char dir[] = "/tmp/ctp-sad-XXXXXX", path[128], cfg[512];
	uv_loop_t loop;
	struct ipsec_sad *a, *b, *c, *none;
	struct ipsec_sa in, out, x_in, y;
	struct ipsec_sa_ref rx, rxin, rnone;
	struct ctp_val *arr = NULL, *o;
	struct ctp_err err;
	uint16_t pa, pb, pc, pd;
	uint64_t persisted;

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/sad", dir);
	uv_loop_init(&loop);
	free_ports(&pa, &pb);
	free_ports(&pc, &pd);
	/* both gateways echo: only dummies keep them from bouncing packets */
	snprintf(cfg, sizeof cfg, "{\"datapath\": \"udp\", \"port\": %u, \"echo\": true}", pa);
	a = sad_open(&loop, cfg);
	snprintf(cfg, sizeof cfg, "{\"datapath\": \"udp\", \"port\": %u, \"echo\": true}", pb);
	b = sad_open(&loop, cfg);
	/* X: A -> B (out at A, ENCAP to B's port; in at B); Y: B -> A, out at
	 * B, which an echo at B would use */
	gw_pair(&in, &out, 0x40000, "127.0.0.1", "127.0.0.1", CTP_ENCR_CHACHA20_POLY1305, 256, 0);
	out.has_encap = true;
	out.encap.type = CTP_ENCAP_ESPINUDP;
	out.encap.sport = pa;
	out.encap.dport = pb;
	install(a, &out);
	x_in = out;
	x_in.direction = CTP_DIRECTION_IN;
	x_in.flags = IPSEC_SA_F_ESN | IPSEC_SA_F_ANTI_REPLAY;
	x_in.has_seq_out = false;
	x_in.has_replay = true;
	x_in.replay.window = 64;
	x_in.replay.bitmap_len = 8;
	x_in.encap.sport = pb;
	x_in.encap.dport = pa;
	install(b, &x_in);
	y = out;
	y.spi = 0x40002;
	y.encap.sport = pb;
	y.encap.dport = pa;
	install(b, &y);
	ipsec_sa_ref_of(&out, &rx);
	ipsec_sa_ref_of(&x_in, &rxin);

	/* 1. five packets, numbers 1..5, accepted at B, never echoed */
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(a, &rx, 5, &err), 5);
	o = wait_packets(&loop, b, &arr, 0x40001, 5, 2000);
	CU_ASSERT_EQUAL(num(o, "packets"), 5);
	CU_ASSERT_EQUAL(num(o, "highest_seen"), 5);
	CU_ASSERT_EQUAL(num(o, "replay_drops"), 0);
	CU_ASSERT_EQUAL(num(o, "auth_failures"), 0);
	o = described(a, &arr, 0x40001, "out");
	CU_ASSERT_EQUAL(num(o, "highest_sent"), 5);
	CU_ASSERT_EQUAL(num(o, "next_seq"), 6);
	CU_ASSERT_EQUAL(num(o, "packets"), 5);
	for (int i = 0; i < 50; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		(void)poll(NULL, 0, 1);
	}
	CU_ASSERT_EQUAL(counter(a, "originated"), 5);
	CU_ASSERT_EQUAL(counter(b, "echoed"), 0);
	CU_ASSERT_EQUAL(counter(a, "in"), 0);
	o = described(b, &arr, 0x40002, "out");
	CU_ASSERT_EQUAL(num(o, "next_seq"), 1);

	/* 2. what cannot send */
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(b, &rxin, 1, &err), CTP_E_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "outbound"));
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(a, &rx, 0, &err), CTP_E_INVAL);
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(a, &rx, IPSEC_SAD_MEM_SEND_MAX + 1, &err),
	    CTP_E_INVAL);
	rnone = rx;
	rnone.spi = 0x4ffff;
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(a, &rnone, 1, &err), CTP_E_NOTFOUND);

	/* 3. PROFILE 5.1: a frozen SA sends nothing, not even here; thawed, it
	 * carries on at 6; quarantined, never again */
	CU_ASSERT_EQUAL(ops->freeze(a, &rx, NULL), 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(a, &rx, 3, &err), CTP_E_STATE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "frozen"));
	CU_ASSERT_EQUAL(ops->thaw(a, &rx), 0);
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(a, &rx, 1, &err), 1);
	o = wait_packets(&loop, b, &arr, 0x40001, 6, 2000);
	CU_ASSERT_EQUAL(num(o, "packets"), 6);
	CU_ASSERT_EQUAL(num(o, "highest_seen"), 6);
	CU_ASSERT_EQUAL(ops->quarantine(a, &rx), 0);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(a, &rx, 1, &err), CTP_E_STATE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "quarantined"));
	CU_ASSERT_EQUAL(counter(a, "originated"), 6);
	o = described(a, &arr, 0x40001, "out");
	CU_ASSERT_EQUAL(num(o, "next_seq"), 7);

	/* 4. no datapath, nothing to send on */
	none = sad_open(&loop, NULL);
	y.spi = 0x40010;
	install(none, &y);
	ipsec_sa_ref_of(&y, &rnone);
	ctp_err_clear(&err);
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(none, &rnone, 1, &err), CTP_E_INVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.what, "datapath"));
	sad_close(none, &loop);

	/* 5. with a state file, a number goes out only once the file covers
	 * it: reservations of 3 are crossed at 4 and 7 */
	snprintf(cfg, sizeof cfg, "{\"datapath\": \"udp\", \"port\": %u, \"state-file\": \"%s\", "
	    "\"seq-reserve\": 3}", pc, path);
	c = sad_open(&loop, cfg);
	y.spi = 0x40020;
	y.encap.dport = pb;
	install(c, &y);
	ipsec_sa_ref_of(&y, &rnone);
	persisted = counter(c, "persisted");
	CU_ASSERT_EQUAL(ipsec_sad_mem_esp_send(c, &rnone, 7, &err), 7);
	CU_ASSERT_EQUAL(counter(c, "persisted"), persisted + 2);
	o = described(c, &arr, 0x40020, "out");
	CU_ASSERT_EQUAL(num(o, "highest_sent"), 7);
	CU_ASSERT_EQUAL(num(o, "seq_reserved"), 10);
	sad_close(c, &loop);
	/* a restart resumes above every number sent */
	c = sad_open(&loop, cfg);
	o = described(c, &arr, 0x40020, "out");
	CU_ASSERT_EQUAL(num(o, "next_seq"), 10);
	sad_close(c, &loop);
	unlink(path);
	rmdir(dir);

	ctp_val_free(arr);
	sad_close(a, &loop);
	sad_close(b, &loop);
	CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&out);
	ipsec_sa_clear(&x_in);
	ipsec_sa_clear(&y);
}

/* ---- the raw datapath --------------------------------------------------- */

static void
test_sad_raw(void)
{
	int probe = socket(AF_INET, SOCK_RAW, IPPROTO_ESP);
	uv_loop_t loop;
	struct ipsec_sad *a;
	struct ipsec_sa in, out;
	struct mn m;

	if (probe < 0) {
		fprintf(stderr, "\n  test_sad_raw: no raw sockets here (%s): skipped\n",
		    strerror(errno));
		return;
	}
	close(probe);
	uv_loop_init(&loop);
	a = sad_open(&loop, "{\"datapath\": \"raw\", \"echo\": true}");
	gw_pair(&in, &out, 0x40000, "127.0.0.1", "127.0.0.1", CTP_ENCR_AES_GCM_8, 128, 0);
	install(a, &in);
	install(a, &out);
	mn_init(&m, &in, &out, 1);
	for (int i = 0; i < 5; i++)
		mn_send(&m, 0);
	pump(&loop, &m, 5, 2000);
	CU_ASSERT_EQUAL(m.nseen, 5);
	check_unique(&m);
	/* the SAD sees its own echoes on the loopback: looped, not unknown */
	pump(&loop, &m, 0, 50);
	CU_ASSERT_EQUAL(counter(a, "looped"), 5);
	CU_ASSERT_EQUAL(counter(a, "unknown_spi"), 0);
	mn_free(&m);
	sad_close(a, &loop);
	CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&out);
}

/* IPv6 on ::1: UDP always, raw ESP when this process may; the destination
 * comes from IPV6_PKTINFO in both. */
static void
test_sad_ipv6(void)
{
	struct sockaddr_in6 probe_addr = { .sin6_family = AF_INET6 };
	int probe = socket(AF_INET6, SOCK_DGRAM, 0), raw;
	char cfg[256];
	uv_loop_t loop;
	struct ipsec_sad *a;
	struct ipsec_sa in, out;
	struct ctp_val *arr = NULL, *o;
	struct mn m;
	uint16_t pa, pb;

	probe_addr.sin6_addr = in6addr_loopback;
	if (probe < 0 || bind(probe, (struct sockaddr *)&probe_addr, sizeof probe_addr) < 0) {
		fprintf(stderr, "\n  test_sad_ipv6: ::1 is not usable here: skipped\n");
		if (probe >= 0)
			close(probe);
		return;
	}
	close(probe);
	uv_loop_init(&loop);
	free_ports(&pa, &pb);
	gw_pair(&in, &out, 0x50000, "::1", "::1", CTP_ENCR_AES_CBC, 192,
	    CTP_INTEG_HMAC_SHA2_384_192);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if ((raw = socket(AF_INET6, SOCK_RAW, IPPROTO_ESP)) < 0)
				break;
			close(raw);
			a = sad_open(&loop, "{\"datapath\": \"raw\", \"echo\": true}");
		} else {
			snprintf(cfg, sizeof cfg, "{\"datapath\": \"udp\", \"port\": %u, "
			    "\"echo\": true}", pa);
			a = sad_open(&loop, cfg);
		}
		install(a, &in);
		install(a, &out);
		mn_init6(&m, &in, &out, pass, AF_INET6);
		for (int i = 0; i < 5; i++)
			mn_send(&m, pass ? 0 : pa);
		pump(&loop, &m, 5, 2000);
		CU_ASSERT_EQUAL(m.nseen, 5);
		check_unique(&m);
		o = described(a, &arr, 0x50000, "in");
		CU_ASSERT_STRING_EQUAL(str(o, "dst"), "::1");
		CU_ASSERT_EQUAL(num(o, "packets"), 5);
		mn_free(&m);
		sad_close(a, &loop);
	}
	ctp_val_free(arr);
	CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
	ipsec_sa_clear(&in);
	ipsec_sa_clear(&out);
}

CTP_TEST_SUITE(sad_mem, NULL, NULL,
    CTP_TEST(test_sad_database),
    CTP_TEST(test_sad_config),
    CTP_TEST(test_sad_udp_handover),
    CTP_TEST(test_sad_lifetime_and_quarantine),
    CTP_TEST(test_sad_state_file),
    CTP_TEST(test_sad_esp_send),
    CTP_TEST(test_sad_raw),
    CTP_TEST(test_sad_ipv6),
);
