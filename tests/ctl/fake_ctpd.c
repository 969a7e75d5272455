/*
 * fake_ctpd.c: a stand-in daemon for tests/ctl/run.sh, so ctpctl's client
 * side (tables, --json, exit codes) is tested before ctpd exists.  It is
 * the real control socket server (ctp_ctl.c) with canned replies:
 *
 *   fake_ctpd SOCKET REPLIES.json
 *
 * REPLIES.json is an object: command name -> the reply's members (an
 * object; "ok" is added by the module), or a string, which the command then
 * fails with.  "echo" is built in: it answers with the request's members.
 * SIGTERM or SIGINT close the socket (which unlinks it) and end the loop.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ctp/ctp_ctl.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_util.h"
#include "ctp/ctp_val.h"

static struct ctp_ctl *ctl;
static uv_signal_t sigterm, sigint;

/* A deep copy of obj's members into reply, through the JSON text. */
static int
fake_copy(const struct ctp_val *obj, struct ctp_val *reply, struct ctp_err *err)
{
	char *text = ctp_json_string(obj, 0);
	struct ctp_val *copy = NULL;
	int rc;

	if (!text)
		return CTP_E_NOMEM;
	rc = ctp_json_parse(text, strlen(text), &copy, err);
	free(text);
	for (size_t i = 0; rc == 0 && i < copy->n; i++) {
		rc = ctp_val_obj_set(reply, copy->members[i].key, copy->members[i].val);
		copy->members[i].val = NULL;
	}
	ctp_val_free(copy);
	return rc;
}

static int
fake_canned(const struct ctp_val *req, struct ctp_val *reply, void *ud, struct ctp_err *err)
{
	const struct ctp_val *v = ud;

	if (v->kind == CTP_V_STR)
		return ctp_err_set(err, CTP_E_STATE, 0, 0, "%s", v->s);
	return fake_copy(v, reply, err);
}

static int
fake_echo(const struct ctp_val *req, struct ctp_val *reply, void *ud, struct ctp_err *err)
{
	return fake_copy(req, reply, err);
}

static void
fake_stop(uv_signal_t *s, int signum)
{
	ctp_ctl_close(ctl);
	uv_close((uv_handle_t *)&sigterm, NULL);
	uv_close((uv_handle_t *)&sigint, NULL);
}

int
main(int argc, char **argv)
{
	struct ctp_val *replies = NULL;
	struct ctp_err err = { 0 };
	uv_loop_t *loop = uv_default_loop();
	uint8_t *text;
	size_t len;

	if (argc != 3) {
		fprintf(stderr, "usage: fake_ctpd SOCKET REPLIES.json\n");
		return 2;
	}
	/* what ctpd does too: a client that leaves early must not kill us */
	signal(SIGPIPE, SIG_IGN);
	ctp_log_open("fake_ctpd", CTP_LOG_STDERR, CTP_LOG_WARN);
	if (ctp_read_file(argv[2], 1 << 20, &text, &len) < 0 ||
	    ctp_json_parse((const char *)text, len, &replies, &err) < 0 ||
	    replies->kind != CTP_V_OBJ) {
		fprintf(stderr, "fake_ctpd: %s: unreadable, or not a JSON object %s\n", argv[2],
		    err.what);
		return 1;
	}
	free(text);
	if (ctp_ctl_open(loop, argv[1], 4, &ctl, &err) < 0) {
		fprintf(stderr, "fake_ctpd: %s\n", err.what);
		return 1;
	}
	for (size_t i = 0; i < replies->n; i++)
		ctp_ctl_register(ctl, replies->members[i].key, fake_canned, replies->members[i].val);
	ctp_ctl_register(ctl, "echo", fake_echo, NULL);
	uv_signal_init(loop, &sigterm);
	uv_signal_init(loop, &sigint);
	uv_signal_start(&sigterm, fake_stop, SIGTERM);
	uv_signal_start(&sigint, fake_stop, SIGINT);
	uv_run(loop, UV_RUN_DEFAULT);
	ctp_val_free(replies);
	return uv_loop_close(loop) == 0 ? 0 : 1;
}
