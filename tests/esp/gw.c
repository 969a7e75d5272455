/*
 * gw.c: a tiny test gateway for tests/esp/run.sh: the real mem SAD
 * (src/features/ipsec/ipsec_sad_mem.c) with echo on, driven from the
 * command line and by signals, so that `ctpmn esp` has someone to talk to.
 *
 *   gw --port PORT [--raw] [--sa FILE]... [--margin M] [--state-file F]
 *      [--seq-reserve R] [--algorithms LIST] [--dir DIR] [--log FILE]
 *
 * Each --sa FILE is one SA as `ctpctl decode --json` prints a CDB of FPT
 * 0xFF01, from the gateway's side; --margin M is added to the next number
 * of every outbound SA installed (what a sink does, PROFILE 5.1).  With
 * --state-file the SAD keeps its SAs in F (and restores them at start).
 *
 *   SIGUSR1  freeze every SA and write each one's snapshot to DIR/in.json
 *            or DIR/out.json (by direction; the last of a kind wins), in
 *            the same JSON shape: what a source hands over
 *   SIGUSR2  write DIR/describe.json: describe() and the SAD's counters
 *   SIGHUP   remove every SA (the commit at the source)
 *   SIGTERM, SIGINT  close and exit 0
 *
 * Log lines (flushed at once): "ready", "snapshot N", "described",
 * "removed N", and "error: ..." before a non-zero exit.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "ctp/ctp_defs.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "ctp/ctp_tlv.h"
#include "ctp/ctp_util.h"
#include "ctp/ctp_val.h"
#include "features/ipsec/ipsec_sad.h"

#define GW_MAX_SA 16

static struct {
	uv_loop_t         loop;
	uv_signal_t       sig[5];
	struct ipsec_sad *sad;
	const char       *dir;
	FILE             *log;
} G;

static void gw_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
gw_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(G.log, fmt, ap);
	va_end(ap);
	fputc('\n', G.log);
	fflush(G.log);
}

static void
gw_sad_log(void *arg, int level, const char *func, const char *msg)
{
	(void)arg;
	if (level <= 6)
		fprintf(stderr, "gw: %s: %s\n", func, msg);
}

/* JSON CDB object -> SA (the same steps as ctpmn esp). */
static int
gw_read_sa(const char *path, struct ipsec_sa *sa)
{
	uint8_t *text = NULL, buf[2048];
	struct ctp_val *root = NULL;
	struct ctp_err err;
	struct ctp_wbuf w;
	struct ctp_cur c;
	struct ctp_cdb cdb;
	size_t len = 0, at;
	int rc;

	ctp_err_clear(&err);
	if ((rc = ctp_read_file(path, 1 << 20, &text, &len)) < 0) {
		gw_log("error: %s: %s", path, ctp_strerror(rc));
		return -1;
	}
	rc = ctp_json_parse((const char *)text, len, &root, &err);
	ctp_wipe(text, len);
	free(text);
	if (rc == 0) {
		ctp_wbuf_init(&w, buf, sizeof buf);
		at = ctp_cdb_begin(&w, CTP_FPT_IPSEC_SA, 0, 0);
		if ((rc = ctp_tlv_build(ctp_fpt_def(CTP_FPT_IPSEC_SA), ctp_val_get(root, "tlvs"), &w,
		    &err)) == 0 && (rc = ctp_cdb_end(&w, at, 0, 0)) == 0) {
			ctp_cur_init(&c, buf, w.len, 0);
			rc = ctp_cdb_next(&c, 0, &cdb, &err) == 1 ? ipsec_sa_decode(&cdb, sa, &err) :
			    CTP_E_CDB;
		}
	}
	ctp_val_free(root);
	ctp_wipe(buf, sizeof buf);
	if (rc < 0) {
		gw_log("error: %s: %s", path, err.code ? err.what : ctp_strerror(rc));
		return -1;
	}
	return 0;
}

/* SA -> JSON CDB object, in DIR/NAME. */
static int
gw_write_sa(const struct ipsec_sa *sa, const char *name)
{
	uint8_t buf[2048];
	struct ctp_val *o = ctp_val_obj(), *arr = ctp_val_arr();
	struct ctp_wbuf w;
	struct ctp_cur c;
	struct ctp_cdb cdb;
	struct ctp_err err;
	char path[512];
	FILE *f;
	int rc;

	ctp_err_clear(&err);
	ctp_wbuf_init(&w, buf, sizeof buf);
	if (!o || !arr || ipsec_sa_encode(sa, &w) < 0) {
		ctp_val_free(o);
		ctp_val_free(arr);
		return -1;
	}
	ctp_cur_init(&c, buf, w.len, 0);
	rc = ctp_cdb_next(&c, 0, &cdb, &err) == 1 ? ctp_tlv_describe(ctp_fpt_def(cdb.fpt),
	    cdb.data, cdb.len, CTP_CDB_HDR_LEN, arr, &err) : CTP_E_CDB;
	ctp_wipe(buf, sizeof buf);
	ctp_val_set_u64(o, "fpt", CTP_FPT_IPSEC_SA);
	ctp_val_obj_set(o, "tlvs", arr);
	snprintf(path, sizeof path, "%s/%s", G.dir, name);
	if (rc < 0 || (f = fopen(path, "w")) == NULL) {
		ctp_val_free(o);
		return -1;
	}
	ctp_json_write(o, f, CTP_JSON_PRETTY);
	fputc('\n', f);
	fclose(f);
	ctp_val_free(o);
	return 0;
}

/* Every SA of the SAD: describe() lists them, spi_in_use() gives nothing
 * more, so the refs are rebuilt from describe's spi, protocol and dst. */
static size_t
gw_refs(struct ipsec_sa_ref *refs, size_t max)
{
	struct ctp_val *arr = ctp_val_arr();
	size_t n = 0;

	if (!arr || ipsec_sad_mem.describe(G.sad, arr) < 0) {
		ctp_val_free(arr);
		return 0;
	}
	for (size_t i = 0; i < arr->n && n < max; i++) {
		const char *dst;
		uint64_t spi;

		if (ctp_val_get_u64(arr->items[i], "spi", UINT32_MAX, &spi, NULL) == 0 &&
		    ctp_val_get_str(arr->items[i], "dst", &dst, NULL) == 0 &&
		    ctp_addr_parse(&refs[n].dst, dst) == 0) {
			refs[n].spi = (uint32_t)spi;
			refs[n].protocol = CTP_IPPROTO_ESP;
			n++;
		}
	}
	ctp_val_free(arr);
	return n;
}

static void
gw_on_signal(uv_signal_t *h, int signum)
{
	struct ipsec_sa_ref refs[GW_MAX_SA * 4];
	size_t n = gw_refs(refs, sizeof refs / sizeof refs[0]), done = 0;

	(void)h;
	if (signum == SIGUSR1) {
		struct ipsec_sa *sa = malloc(sizeof *sa);

		for (size_t i = 0; sa && i < n; i++) {
			uint64_t hi = 0;

			if (ipsec_sad_mem.freeze(G.sad, &refs[i], &hi) == 0 &&
			    ipsec_sad_mem.snapshot(G.sad, &refs[i], sa) == 0 &&
			    gw_write_sa(sa, sa->direction == CTP_DIRECTION_IN ? "in.json" : "out.json") == 0)
				done++;
			ipsec_sa_clear(sa);
		}
		free(sa);
		gw_log("snapshot %zu", done);
	} else if (signum == SIGUSR2) {
		struct ctp_val *o = ctp_val_obj(), *arr = ctp_val_arr(), *cnt = ctp_val_obj();
		char path[512];
		FILE *f;

		snprintf(path, sizeof path, "%s/describe.json", G.dir);
		if (o && arr && cnt && ipsec_sad_mem.describe(G.sad, arr) == 0 &&
		    ipsec_sad_mem_counters(G.sad, cnt) == 0 && (f = fopen(path, "w")) != NULL) {
			ctp_val_obj_set(o, "sas", arr);
			ctp_val_obj_set(o, "counters", cnt);
			arr = cnt = NULL;
			ctp_json_write(o, f, CTP_JSON_PRETTY);
			fputc('\n', f);
			fclose(f);
		}
		ctp_val_free(o);
		ctp_val_free(arr);
		ctp_val_free(cnt);
		gw_log("described");
	} else if (signum == SIGHUP) {
		for (size_t i = 0; i < n; i++)
			if (ipsec_sad_mem.remove(G.sad, &refs[i]) == 0)
				done++;
		gw_log("removed %zu", done);
	} else {
		ipsec_sad_mem.close(G.sad);
		G.sad = NULL;
		for (int i = 0; i < 5; i++)
			uv_close((uv_handle_t *)&G.sig[i], NULL);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "raw", no_argument, NULL, 'r' },
		{ "sa", required_argument, NULL, 's' },
		{ "margin", required_argument, NULL, 'm' },
		{ "state-file", required_argument, NULL, 'f' },
		{ "seq-reserve", required_argument, NULL, 'R' },
		{ "algorithms", required_argument, NULL, 'a' },
		{ "dir", required_argument, NULL, 'd' },
		{ "log", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	static const int sigs[5] = { SIGUSR1, SIGUSR2, SIGHUP, SIGTERM, SIGINT };
	const char *files[GW_MAX_SA], *state = NULL, *algs = NULL;
	unsigned long port = 4500, margin = 0, reserve = 0;
	struct ipsec_sad_env env;
	struct ctp_val *cfg;
	struct ipsec_sa *sa;
	struct ctp_err err;
	size_t nfiles = 0;
	int raw = 0, opt, rc = 0;

	G.log = stdout;
	G.dir = ".";
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p': port = strtoul(optarg, NULL, 10); break;
		case 'r': raw = 1; break;
		case 's':
			if (nfiles < GW_MAX_SA)
				files[nfiles++] = optarg;
			break;
		case 'm': margin = strtoul(optarg, NULL, 10); break;
		case 'f': state = optarg; break;
		case 'R': reserve = strtoul(optarg, NULL, 10); break;
		case 'a': algs = optarg; break;
		case 'd': G.dir = optarg; break;
		case 'l':
			if ((G.log = fopen(optarg, "a")) == NULL) {
				perror(optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: gw --port PORT [--raw] [--sa FILE]... [--margin M] "
			    "[--state-file F] [--seq-reserve R] [--algorithms LIST] [--dir DIR] "
			    "[--log FILE]\n");
			return 2;
		}
	}
	uv_loop_init(&G.loop);
	cfg = ctp_val_obj();
	ctp_val_set_str(cfg, "datapath", raw ? "raw" : "udp");
	if (!raw)
		ctp_val_set_u64(cfg, "port", port);
	ctp_val_obj_set(cfg, "echo", ctp_val_bool(1));
	if (state)
		ctp_val_set_str(cfg, "state-file", state);
	if (reserve)
		ctp_val_set_u64(cfg, "seq-reserve", reserve);
	if (algs)
		ctp_val_set_str(cfg, "algorithms", algs);
	memset(&env, 0, sizeof env);
	env.loop = &G.loop;
	env.log = gw_sad_log;
	ctp_err_clear(&err);
	rc = ipsec_sad_mem.open(cfg, &env, &G.sad, &err);
	ctp_val_free(cfg);
	if (rc < 0) {
		gw_log("error: open: %s", err.what);
		return 1;
	}
	sa = malloc(sizeof *sa);
	for (size_t i = 0; sa && rc == 0 && i < nfiles; i++) {
		if (gw_read_sa(files[i], sa) < 0) {
			rc = -1;
			break;
		}
		if (sa->direction == CTP_DIRECTION_OUT && margin) {
			sa->seq_out.next += margin;
			sa->seq_out.margin = (uint32_t)margin;
		}
		ctp_err_clear(&err);
		if ((rc = ipsec_sad_mem.install(G.sad, sa, &err)) < 0)
			gw_log("error: install %s: %s", files[i], err.what);
		ipsec_sa_clear(sa);
	}
	free(sa);
	if (rc < 0) {
		ipsec_sad_mem.close(G.sad);
		uv_run(&G.loop, UV_RUN_DEFAULT);
		return 1;
	}
	for (int i = 0; i < 5; i++) {
		uv_signal_init(&G.loop, &G.sig[i]);
		uv_signal_start(&G.sig[i], gw_on_signal, sigs[i]);
	}
	gw_log("ready");
	uv_run(&G.loop, UV_RUN_DEFAULT);
	uv_loop_close(&G.loop);
	if (G.log != stdout)
		fclose(G.log);
	return 0;
}
