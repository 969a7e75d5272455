/*
 * ctpctl_engine.c: commands that drive transfers on a running ctpd.
 *
 *   ctpctl trigger push|pull|move MN PEER [--fpt FPT]...
 *       push: at pAR, predictive: the MN's contexts (and key) to nAR PEER;
 *       pull: at nAR, reactive: ask pAR PEER for them (token 0);
 *       move: at an SG, hand them to the SG PEER (load balancing, fail-over).
 *   ctpctl trigger move-all PEER [--fpt FPT]...
 *       at an SG: every MN's contexts to the SG PEER (a whole node's
 *       fail-over), paced by the daemon; ctpctl status shows the progress.
 *   ctpctl mn-key set MN KEY | del MN | list | load FILE
 *       the MN-pAR keys of RFC 4067 2.7 (hex, 20 or 32 octets); load takes the
 *       JSON array `ctpmn keys` prints.  No command ever prints a key.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_util.h"
#include "ctp/ctp_val.h"
#include "ctpctl.h"

static int
ctpctl_reply_done(struct ctp_val *reply, int json)
{
	int rc = CTPCTL_EXIT_OK;

	if (json)
		rc = ctpctl_print_json(reply);
	ctp_val_free(reply);
	return rc;
}

int
ctpctl_trigger(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fpt", required_argument, NULL, 'F' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char use[] =
	    "usage: ctpctl [-s SOCKET] trigger push|pull|move MN PEER [--fpt FPT]... [--json]\n"
	    "       ctpctl [-s SOCKET] trigger move-all PEER [--fpt FPT]... [--json]\n";
	int all;
	struct ctp_val *req, *fpts, *reply;
	int c, json = 0, rc;

	optind = 1;
	if ((fpts = ctp_val_arr()) == NULL)
		return CTPCTL_EXIT_ERROR;
	while ((c = getopt_long(argc, argv, "F:s:jh", opts, NULL)) != -1) {
		char *end;
		unsigned long f;

		switch (c) {
		case 'F':
			f = strtoul(optarg, &end, 0);
			if (*end || f == 0 || f > 0xffff) {
				fprintf(stderr, "ctpctl trigger: --fpt \"%s\" is not an FPT\n", optarg);
				ctp_val_free(fpts);
				return CTPCTL_EXIT_USAGE;
			}
			ctp_val_arr_push(fpts, ctp_val_u64(f));
			break;
		case 's': ctpctl_socket = optarg; break;
		case 'j': json = 1; break;
		case 'h': fputs(use, stdout); ctp_val_free(fpts); return CTPCTL_EXIT_OK;
		default: ctp_val_free(fpts); return CTPCTL_EXIT_USAGE;
		}
	}
	all = optind < argc && strcmp(argv[optind], "move-all") == 0;
	if (argc - optind != 3 - all || (!all && strcmp(argv[optind], "push") &&
	    strcmp(argv[optind], "pull") && strcmp(argv[optind], "move"))) {
		fputs(use, stderr);
		ctp_val_free(fpts);
		return CTPCTL_EXIT_USAGE;
	}
	req = ctpctl_request("trigger");
	if (req) {
		ctp_val_set_str(req, "kind", argv[optind]);
		if (!all)
			ctp_val_set_str(req, "mn", argv[optind + 1]);
		ctp_val_set_str(req, "peer", argv[optind + 2 - all]);
		ctp_val_obj_set(req, "fpts", fpts);
	} else
		ctp_val_free(fpts);
	if ((rc = ctpctl_ask("trigger", req, &reply)) != CTPCTL_EXIT_OK)
		return rc;
	if (!json && all) {
		uint64_t n = 0;

		(void)ctp_val_get_u64(reply, "mns", UINT64_MAX, &n, NULL);
		printf("move-all towards %s: %llu MNs queued (ctpctl status shows the progress)\n",
		    argv[optind + 1], (unsigned long long)n);
	} else if (!json)
		printf("%s %s towards %s: started (ctpctl transfers shows it)\n", argv[optind],
		    argv[optind + 1], argv[optind + 2]);
	return ctpctl_reply_done(reply, json);
}

int
ctpctl_mn_key(int argc, char **argv)
{
	static const char use[] =
	    "usage: ctpctl [-s SOCKET] mn-key set MN KEY | del MN | list | load FILE\n";
	struct ctp_val *req, *reply, *keys = NULL;
	const char *op;
	int rc;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(use, stdout);
		return CTPCTL_EXIT_OK;
	}
	if (argc < 2) {
		fputs(use, stderr);
		return CTPCTL_EXIT_USAGE;
	}
	op = argv[1];
	if (!((strcmp(op, "set") == 0 && argc == 4) || (strcmp(op, "del") == 0 && argc == 3) ||
	    (strcmp(op, "list") == 0 && argc == 2) || (strcmp(op, "load") == 0 && argc == 3))) {
		fputs(use, stderr);
		return CTPCTL_EXIT_USAGE;
	}
	if (strcmp(op, "load") == 0) {
		struct ctp_err err = { 0 };
		uint8_t *text;
		size_t len;

		if (ctp_read_file(argv[2], 64u << 20, &text, &len) < 0) {
			fprintf(stderr, "ctpctl mn-key: cannot read %s\n", argv[2]);
			return CTPCTL_EXIT_USAGE;
		}
		rc = ctp_json_parse((const char *)text, len, &keys, &err);
		free(text);
		if (rc < 0 || keys->kind != CTP_V_ARR) {
			fprintf(stderr, "ctpctl mn-key: %s: %s\n", argv[2],
			    rc < 0 ? err.what : "expected a JSON array of {\"mn\", \"key\"}");
			ctp_val_free(keys);
			return CTPCTL_EXIT_USAGE;
		}
		op = "set";
	}
	if ((req = ctpctl_request("mn-key")) == NULL) {
		ctp_val_free(keys);
		return CTPCTL_EXIT_ERROR;
	}
	ctp_val_set_str(req, "op", op);
	if (keys)
		ctp_val_obj_set(req, "keys", keys);
	else if (argc >= 3)
		ctp_val_set_str(req, "mn", argv[2]);
	if (argc == 4)
		ctp_val_set_str(req, "key", argv[3]);
	if ((rc = ctpctl_ask("mn-key", req, &reply)) != CTPCTL_EXIT_OK)
		return rc;
	if (strcmp(op, "list") == 0) {
		const struct ctp_val *mns = ctp_val_get(reply, "mns");

		for (size_t i = 0; mns && i < mns->n; i++)
			printf("%s\n", mns->items[i]->s);
	} else {
		uint64_t n = 0;

		(void)ctp_val_get_u64(reply, "count", UINT64_MAX, &n, NULL);
		printf("%llu key%s %s\n", (unsigned long long)n, n == 1 ? "" : "s",
		    strcmp(op, "del") == 0 ? "deleted" : "set");
	}
	ctp_val_free(reply);
	return CTPCTL_EXIT_OK;
}
