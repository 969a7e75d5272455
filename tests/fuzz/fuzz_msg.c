/*
 * fuzz_msg.c: libFuzzer harness for the message decoder and everything a
 * decoded message goes through (ctp_msg_decode, ctp_msg_check_cdbs with the
 * real plugins, ctp_msg_describe, ctp_msg_build).
 *
 * The property: whatever decodes and passes the CDB checks describes, builds
 * back, and builds back to exactly the input (for the ICMP form, exactly the
 * first Length octets).  Anything else is a finding: abort().
 *
 * The plugins are loaded once, from $CTPD_PLUGIN_DIR or else build/plugins
 * (tests/fuzz/run.sh points CTPD_PLUGIN_DIR at plugins it built with the
 * sanitizers and coverage).  Without them the CDBs of their FPTs are still
 * checked and described by the core's tables.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_describe.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_registry.h"
#include "ctp/ctp_val.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctp_host { int unused; };

static void
fuzz_msg_log(struct ctp_host *h, int level, const char *func, const char *msg)
{
	(void)h, (void)level, (void)func, (void)msg;
}

static uint64_t
fuzz_msg_now(struct ctp_host *h)
{
	(void)h;
	return 0;
}

static const struct ctp_host_ops fuzz_msg_ops = { .size = sizeof fuzz_msg_ops, .log = fuzz_msg_log, .now_ms = fuzz_msg_now };
static struct ctp_host fuzz_msg_host;
static struct ctp_registry *fuzz_msg_reg;
static struct ctp_msg *fuzz_msg_m;
static uint8_t *fuzz_msg_out;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("CTPD_PLUGIN_DIR");
	struct ctp_err err = { 0 };

	(void)argc, (void)argv;
	if (!dir || !*dir)
		dir = "build/plugins";
	fuzz_msg_m = malloc(sizeof *fuzz_msg_m);
	fuzz_msg_out = malloc(CTP_MAX_MSG_LEN);
	fuzz_msg_reg = ctp_registry_new(&fuzz_msg_ops, &fuzz_msg_host);
	if (!fuzz_msg_m || !fuzz_msg_out || !fuzz_msg_reg)
		abort();
	if (ctp_registry_load_dir(fuzz_msg_reg, dir, &err) < 0)
		fprintf(stderr, "fuzz_msg: plugins from %s: %s (continuing with %zu)\n", dir,
		    err.what, ctp_registry_count(fuzz_msg_reg));
	else
		fprintf(stderr, "fuzz_msg: %zu plugins from %s\n", ctp_registry_count(fuzz_msg_reg),
		    dir);
	return 0;
}

/* A refusal is a negative code, recorded, with an offset inside the message. */
static void
fuzz_msg_refusal(int rc, const struct ctp_err *err, size_t size)
{
	if (rc >= 0 || err->code != rc || !err->what[0] || err->off > (size > 4 ? size : 4))
		abort();
}

static void
fuzz_msg_one(const uint8_t *data, size_t size, unsigned opts)
{
	struct ctp_msg *m = fuzz_msg_m;
	struct ctp_val *v = NULL;
	struct ctp_err err = { 0 };
	size_t len = 0;
	int rc;

	if ((rc = ctp_msg_decode(m, data, size, opts, &err)) < 0) {
		fuzz_msg_refusal(rc, &err, size);
		return;
	}
	if (m->length > size || (!(opts & CTP_DEC_ICMP) && m->length != size))
		abort();
	ctp_err_clear(&err);
	if ((rc = ctp_msg_check_cdbs(m, fuzz_msg_reg, &err)) < 0) {
		fuzz_msg_refusal(rc, &err, size);
		return;
	}
	ctp_err_clear(&err);
	if (ctp_msg_describe(m, fuzz_msg_reg, &v, &err) < 0 || !v)
		abort();
	ctp_err_clear(&err);
	rc = ctp_msg_build(v, fuzz_msg_reg, fuzz_msg_out, CTP_MAX_MSG_LEN, &len, &err);
	ctp_val_free(v);
	if (rc < 0 || len != m->length || memcmp(fuzz_msg_out, data, len) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libFuzzer's buffer is exactly size octets: reads past it are caught */
	fuzz_msg_one(data, size, 0);
	fuzz_msg_one(data, size, CTP_DEC_ICMP);
	return 0;
}
