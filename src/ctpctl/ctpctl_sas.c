/*
 * ctpctl_sas.c: `ctpctl sas [--json]`, the SAs the ipsec plugin's SA
 * database holds (the daemon's "sas" command, src/features/ipsec/
 * ipsec_xfer.h).
 *
 *   sas  {"backend": str,             "mem" or "xfrm"
 *         "sas": [{"spi": n, "protocol": "esp" | "ah", "dst": str,
 *                  "direction": "in" | "out", "mode": str,
 *                  "state": "active" | "frozen" | "quarantined",
 *                  "encr": str, "integ": str, "packets": n, "bytes": n,
 *                  "add_ms": n, ...}]}
 *
 * The members of an SA are the backend's (ipsec_sad.h describe): both give
 * the lookup triple, the state, the algorithms by IANA name, counters and
 * ages; mem adds "local", "peer" and "next_seq", xfrm "src" and "seq_out".
 * The table prints "-" for what an SA lacks.  No reply ever holds a key.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_val.h"
#include "ctpctl.h"

#define CTPCTL_SAS_COLS 13

/* One cell: a string, an integer, or "-". */
static const char *
ctpctl_sas_cell(const struct ctp_val *o, const char *key, char *buf, size_t len)
{
	const struct ctp_val *v = ctp_val_get(o, key);

	if (v && v->kind == CTP_V_STR && v->s[0])
		snprintf(buf, len, "%s", v->s);
	else if (v && v->kind == CTP_V_INT && !v->neg)
		snprintf(buf, len, "%" PRIu64, v->u);
	else
		snprintf(buf, len, "-");
	return buf;
}

/* The first of two keys that the SA has. */
static const char *
ctpctl_sas_either(const struct ctp_val *o, const char *k1, const char *k2, char *buf,
    size_t len)
{
	return ctpctl_sas_cell(o, ctp_val_get(o, k1) ? k1 : k2, buf, len);
}

/* An age as people read it: 850 ms, 12.5 s, 3m07s, 2h05m, 4d03h. */
static const char *
ctpctl_sas_age(const struct ctp_val *o, const char *key, char *buf, size_t len)
{
	const struct ctp_val *v = ctp_val_get(o, key);
	uint64_t ms, s;

	if (!v || v->kind != CTP_V_INT || v->neg)
		return ctpctl_sas_cell(o, key, buf, len);
	ms = v->u;
	s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, len, "%" PRIu64 " ms", ms);
	else if (s < 60)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 " s", s, ms % 1000 / 100);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
	return buf;
}

/* One row of cells for an SA. */
static void
ctpctl_sas_row(const struct ctp_val *o, char cell[CTPCTL_SAS_COLS][64])
{
	const struct ctp_val *spi = ctp_val_get(o, "spi");
	int out = strcmp(ctpctl_sas_cell(o, "direction", cell[2], 64), "out") == 0;

	if (spi && spi->kind == CTP_V_INT && !spi->neg && spi->u <= UINT32_MAX)
		snprintf(cell[0], 64, "0x%08" PRIx64, spi->u);
	else
		snprintf(cell[0], 64, "-");
	ctpctl_sas_cell(o, "protocol", cell[1], 64);
	ctpctl_sas_cell(o, "mode", cell[3], 64);
	ctpctl_sas_cell(o, "state", cell[4], 64);
	/* mem names both ends; xfrm gives src and dst, whose roles follow the
	 * direction (an inbound SA's destination is this node) */
	ctpctl_sas_either(o, "local", out ? "src" : "dst", cell[5], 64);
	ctpctl_sas_either(o, "peer", out ? "dst" : "src", cell[6], 64);
	ctpctl_sas_cell(o, "encr", cell[7], 64);
	ctpctl_sas_cell(o, "integ", cell[8], 64);
	ctpctl_sas_cell(o, "packets", cell[9], 64);
	ctpctl_sas_cell(o, "bytes", cell[10], 64);
	/* outbound: the next number it sends; inbound: the highest it took */
	if (out)
		ctpctl_sas_either(o, "next_seq", "seq_out", cell[11], 64);
	else
		ctpctl_sas_cell(o, "replay_highest", cell[11], 64);
	ctpctl_sas_age(o, "add_ms", cell[12], 64);
}

static int
ctpctl_sas_show(const struct ctp_val *r)
{
	static const char *const head[CTPCTL_SAS_COLS] = { "SPI", "PROTO", "DIR", "MODE", "STATE",
	    "LOCAL", "PEER", "ENCR", "INTEG", "PACKETS", "BYTES", "SEQ", "AGE" };
	static const char align[CTPCTL_SAS_COLS + 1] = "lllllllllrrrr";
	const struct ctp_val *list = ctp_val_get(r, "sas");
	char (*cells)[CTPCTL_SAS_COLS][64];
	size_t w[CTPCTL_SAS_COLS], rows;
	char backend[64];

	if (!list || list->kind != CTP_V_ARR) {
		fprintf(stderr, "ctpctl sas: the daemon's reply has no \"sas\" list\n");
		return CTPCTL_EXIT_ERROR;
	}
	ctpctl_sas_cell(r, "backend", backend, sizeof backend);
	if (list->n == 0) {
		printf("no SAs (SA database: %s)\n", backend);
		return CTPCTL_EXIT_OK;
	}
	rows = list->n + 1;
	if ((cells = calloc(rows, sizeof *cells)) == NULL) {
		fprintf(stderr, "ctpctl: out of memory\n");
		return CTPCTL_EXIT_ERROR;
	}
	for (size_t c = 0; c < CTPCTL_SAS_COLS; c++)
		snprintf(cells[0][c], 64, "%s", head[c]);
	for (size_t i = 0; i < list->n; i++)
		ctpctl_sas_row(list->items[i], cells[i + 1]);
	/* columns as wide as their widest cell, two blanks apart; the last
	 * column unpadded, so no line ends in blanks */
	for (size_t c = 0; c < CTPCTL_SAS_COLS; c++) {
		w[c] = 0;
		for (size_t k = 0; k < rows; k++)
			if (strlen(cells[k][c]) > w[c])
				w[c] = strlen(cells[k][c]);
	}
	for (size_t k = 0; k < rows; k++) {
		for (size_t c = 0; c < CTPCTL_SAS_COLS; c++) {
			int last = c + 1 == CTPCTL_SAS_COLS;

			if (align[c] == 'r')
				printf("%*s", (int)w[c], cells[k][c]);
			else if (last)
				printf("%s", cells[k][c]);
			else
				printf("%-*s", (int)w[c], cells[k][c]);
			if (!last)
				printf("  ");
		}
		putchar('\n');
	}
	printf("%zu SA%s (SA database: %s)\n", list->n, list->n == 1 ? "" : "s", backend);
	free(cells);
	return CTPCTL_EXIT_OK;
}

int
ctpctl_sas(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char use[] = "usage: ctpctl [-s SOCKET] sas [--json]\n";
	struct ctp_val *reply;
	int c, json = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "js:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 's': ctpctl_socket = optarg; break;
		case 'h': fputs(use, stdout); return CTPCTL_EXIT_OK;
		default: return CTPCTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ctpctl sas: unexpected argument \"%s\" (%s)\n", argv[optind], use);
		return CTPCTL_EXIT_USAGE;
	}
	if ((rc = ctpctl_ask("sas", ctpctl_request("sas"), &reply)) != CTPCTL_EXIT_OK)
		return rc;
	if (json) {
		/* the reply without "ok", as the other daemon commands print it */
		for (size_t i = 0; i < reply->n; i++)
			if (strcmp(reply->members[i].key, "ok") == 0) {
				ctp_val_free(reply->members[i].val);
				free(reply->members[i].key);
				memmove(&reply->members[i], &reply->members[i + 1],
				    (reply->n - i - 1) * sizeof reply->members[0]);
				reply->n--;
				break;
			}
		rc = ctpctl_print_json(reply);
	} else
		rc = ctpctl_sas_show(reply);
	ctp_val_free(reply);
	if (fflush(stdout) != 0 && rc == CTPCTL_EXIT_OK)
		rc = CTPCTL_EXIT_ERROR;
	return rc;
}
