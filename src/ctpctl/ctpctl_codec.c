/*
 * ctpctl_codec.c: `ctpctl decode` and `ctpctl encode`, the offline tools.
 *
 * decode: one CXTP message (raw octets or hex text, from a file, standard
 * input or --hex) is decoded, every CDB checked by the plugin that serves
 * its FPT, and printed as a tree or as JSON.  Malformed input: exit 1 and one
 * line on standard error naming the byte offset and what is wrong.
 *
 * encode: the JSON of decode back to octets; decode | encode reproduces the
 * input exactly.  The result is decoded again before it is written, so
 * encode never emits a message ctpd would refuse unless --force says so.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctp/ctp_describe.h"
#include "ctp/ctp_msg.h"
#include "ctp/ctp_util.h"
#include "ctp/ctp_val.h"
#include "ctpctl.h"

static int
decode_check(const uint8_t *buf, size_t len, const struct ctp_registry *reg,
    struct ctp_msg *m, struct ctp_err *err)
{
	int rc = ctp_msg_decode(m, buf, len, 0, err);

	if (rc == 0)
		rc = ctp_msg_check_cdbs(m, reg, err);
	return rc;
}

static void
report(const char *cmd, const struct ctp_err *err)
{
	fprintf(stderr, "ctpctl %s: offset %zu: %s\n", cmd, err->off, err->what);
}

int
ctpctl_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "hex", required_argument, NULL, 'x' },
		{ "plugins", required_argument, NULL, 'P' },
		{ "no-plugins", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *hex = NULL, *plugindir = NULL;
	int json = 0, noplugins = 0, c, rc = 1;
	struct ctp_registry *reg = NULL;
	struct ctp_val *v = NULL;
	struct ctp_msg *m = NULL;
	struct ctp_err err = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jx:P:Nh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'x': hex = optarg; break;
		case 'P': plugindir = optarg; break;
		case 'N': noplugins = 1; break;
		case 'h':
			printf("usage: ctpctl decode [--json] [--plugins DIR] (--hex HEX | FILE | -)\n");
			return 0;
		default:
			return 2;
		}
	}
	if ((hex == NULL) == (optind >= argc) || argc - optind > 1) {
		fprintf(stderr, "ctpctl decode: give one of --hex HEX or FILE (- for standard input)\n");
		return 2;
	}
	if (hex) {
		len = strlen(hex);
		if ((buf = malloc(len + 1)) == NULL)
			goto out;
		memcpy(buf, hex, len + 1);
		if (ctp_hex_decode((char *)buf, len, buf, len, &len) < 0) {
			fprintf(stderr, "ctpctl decode: --hex: not an even number of hex digits\n");
			goto out;
		}
	} else {
		if ((rc = ctp_read_file(argv[optind], CTP_MAX_MSG_LEN * 2 + 64, &buf, &len)) < 0) {
			fprintf(stderr, "ctpctl decode: %s: %s\n", argv[optind], ctp_strerror(rc));
			rc = 1;
			goto out;
		}
		rc = 1;
		if (ctp_maybe_unhex(buf, &len) < 0) {
			fprintf(stderr, "ctpctl decode: %s: hex text with an odd number of digits\n",
			    argv[optind]);
			goto out;
		}
	}
	if (!noplugins && (reg = ctpctl_load_plugins(plugindir)) == NULL)
		goto out;
	if ((m = malloc(sizeof *m)) == NULL)
		goto out;
	if (decode_check(buf, len, reg, m, &err) < 0 ||
	    ctp_msg_describe(m, reg, &v, &err) < 0) {
		report("decode", &err);
		goto out;
	}
	if (json) {
		ctp_json_write(v, stdout, CTP_JSON_PRETTY);
		putchar('\n');
	} else
		ctp_val_print_tree(v, stdout);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	ctp_val_free(v);
	free(m);
	free(buf);
	ctp_registry_free(reg);
	return rc;
}

int
ctpctl_encode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "hex", no_argument, NULL, 'x' },
		{ "raw", no_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ "plugins", required_argument, NULL, 'P' },
		{ "no-plugins", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c, rc = 1, force = 0, noplugins = 0, as_hex = -1;
	const char *plugindir = NULL;
	struct ctp_registry *reg = NULL;
	struct ctp_val *v = NULL;
	struct ctp_msg *m = NULL;
	struct ctp_err err = { 0 };
	uint8_t *text = NULL, *out = NULL;
	size_t tlen, olen = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jxrfP:Nh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': break;   /* JSON is the only input form; the flag names it */
		case 'x': as_hex = 1; break;
		case 'r': as_hex = 0; break;
		case 'f': force = 1; break;
		case 'P': plugindir = optarg; break;
		case 'N': noplugins = 1; break;
		case 'h':
			printf("usage: ctpctl encode --json [--hex | --raw] [--force] [--plugins DIR] FILE|-\n");
			return 0;
		default:
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "ctpctl encode: give one JSON file (- for standard input)\n");
		return 2;
	}
	if ((rc = ctp_read_file(argv[optind], 16u << 20, &text, &tlen)) < 0) {
		fprintf(stderr, "ctpctl encode: %s: %s\n", argv[optind], ctp_strerror(rc));
		rc = 1;
		goto out;
	}
	rc = 1;
	if (ctp_json_parse((const char *)text, tlen, &v, &err) < 0) {
		fprintf(stderr, "ctpctl encode: %s: %s\n", argv[optind], err.what);
		goto out;
	}
	if (!noplugins && (reg = ctpctl_load_plugins(plugindir)) == NULL)
		goto out;
	if ((out = malloc(CTP_MAX_MSG_LEN + 1024)) == NULL || (m = malloc(sizeof *m)) == NULL)
		goto out;
	if (ctp_msg_build(v, reg, out, CTP_MAX_MSG_LEN + 1024, &olen, &err) < 0) {
		fprintf(stderr, "ctpctl encode: %s: %s\n", argv[optind], err.what);
		goto out;
	}
	ctp_err_clear(&err);
	if (decode_check(out, olen, reg, m, &err) < 0) {
		fprintf(stderr, "ctpctl encode: %s: the result would not decode: offset %zu: %s%s\n",
		    argv[optind], err.off, err.what, force ? " (written anyway: --force)" : "");
		if (!force)
			goto out;
	}
	if (as_hex < 0)
		as_hex = isatty(STDOUT_FILENO);
	if (as_hex) {
		for (size_t i = 0; i < olen; i++)
			printf("%02x", out[i]);
		printf("\n");
	} else
		fwrite(out, 1, olen, stdout);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	ctp_val_free(v);
	free(m);
	free(text);
	free(out);
	ctp_registry_free(reg);
	return rc;
}
