/*
 * ctpmn_sa.c: the MN applies what a verified CTN tells it to its own copies
 * of its SAs (PROFILE 4; proto/DECISIONS.md 35-43).
 *
 * The MN's SAs are files in the shape `ctpctl decode --json` prints an SA
 * CDB ({"fpt": 65281, "tlvs": [...]}), written from the GATEWAY's side, the
 * same files `ctpmn esp --sa` reads.  A CTN's SA CDB describes one of them
 * from the MN's side: SA_ID with the SPI from now on and the direction as
 * the MN sees it (2 = the MN's outbound = the gateway's inbound, 1), ENDPOINTS
 * with peer_addr the gateway's address from now on, PREV_SPI when the new
 * gateway had to choose another SPI, PMTU when the new path is smaller.
 * The matching file gets the new SPI, the new gateway address (its
 * ENDPOINTS local_addr) and the PMTU, and is rewritten in place (a new file
 * renamed over the old one).  Keys and sequence counters never change.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctp/ctp_msg.h"
#include "ctp/ctp_tlv.h"
#include "ctp/ctp_util.h"
#include "ctp/ctp_val.h"
#include "ctpmn.h"

/* The TLV object named name in an SA's "tlvs" array, or NULL. */
static struct ctp_val *
tlv_of(const struct ctp_val *sa, const char *name)
{
	const struct ctp_val *tlvs = ctp_val_get(sa, "tlvs");
	const char *n;

	for (size_t i = 0; tlvs && tlvs->kind == CTP_V_ARR && i < tlvs->n; i++)
		if (ctp_val_get_str(tlvs->items[i], "tlv", &n, NULL) == 0 && strcmp(n, name) == 0)
			return tlvs->items[i];
	return NULL;
}

static uint64_t
u64_of(const struct ctp_val *o, const char *key)
{
	uint64_t v = 0;

	(void)ctp_val_get_u64(o, key, UINT64_MAX, &v, NULL);
	return v;
}

/* The SA object of a file: the file itself, or its message's one IPsec SA CDB. */
static struct ctp_val *
sa_of(struct ctp_val *file)
{
	const struct ctp_val *cdbs = ctp_val_get(file, "cdbs");

	if (!cdbs)
		return file;
	for (size_t i = 0; cdbs->kind == CTP_V_ARR && i < cdbs->n; i++)
		if (u64_of(cdbs->items[i], "fpt") == CTP_FPT_IPSEC_SA)
			return cdbs->items[i];
	return NULL;
}

static int
write_file(const char *path, const struct ctp_val *v)
{
	char tmp[4096];
	FILE *f;
	int rc;

	int fd;

	/* the file holds keys: only its owner reads the new one */
	snprintf(tmp, sizeof tmp, "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		remove(tmp);
		return -1;
	}
	rc = ctp_json_write(v, f, CTP_JSON_PRETTY);
	fputc('\n', f);
	if (fclose(f) != 0 || rc < 0 || rename(tmp, path) < 0) {
		remove(tmp);
		return -1;
	}
	return 0;
}

/* Apply one CTN SA description (cdb) to the first matching file. */
static int
apply_one(const struct ctp_cdb *cdb, char *const *files, size_t nfiles, struct ctp_val *report)
{
	const struct ctp_fpt_def *fd = ctp_fpt_def(CTP_FPT_IPSEC_SA);
	struct ctp_val *arr = ctp_val_arr(), *note = NULL, *d;
	const struct ctp_val *said, *ep, *prev, *pmtu;
	struct ctp_err err = { 0 };
	uint64_t spi, proto, dir, want;
	const char *gw;
	int rc = -1;

	if (!arr || ctp_tlv_describe(fd, cdb->data, cdb->len, 0, arr, &err) < 0)
		goto out;
	if ((d = ctp_val_obj()) == NULL || ctp_val_obj_set(d, "tlvs", arr) < 0)
		goto out;
	arr = NULL;
	said = tlv_of(d, "SA_ID");
	ep = tlv_of(d, "ENDPOINTS");
	prev = tlv_of(d, "PREV_SPI");
	pmtu = tlv_of(d, "PMTU");
	if (!said || !ep || ctp_val_get_str(ep, "peer_addr", &gw, NULL) < 0) {
		ctp_val_free(d);
		goto out;
	}
	spi = u64_of(said, "spi");
	proto = u64_of(said, "protocol");
	dir = u64_of(said, "direction");
	want = prev ? u64_of(prev, "prev_spi") : spi;
	/* the CTN speaks from the MN's side, the files from the gateway's */
	dir = dir == 1 ? 2 : dir == 2 ? 1 : 0;
	for (size_t i = 0; i < nfiles && rc < 0; i++) {
		struct ctp_val *file = NULL, *sa, *fsaid, *fep, *fpm;
		uint8_t *text;
		size_t len;

		if (ctp_read_file(files[i], 1 << 20, &text, &len) < 0)
			continue;
		if (ctp_json_parse((const char *)text, len, &file, &err) < 0) {
			free(text);
			continue;
		}
		free(text);
		if ((sa = sa_of(file)) == NULL || (fsaid = tlv_of(sa, "SA_ID")) == NULL ||
		    (fep = tlv_of(sa, "ENDPOINTS")) == NULL || u64_of(fsaid, "spi") != want ||
		    u64_of(fsaid, "protocol") != proto || u64_of(fsaid, "direction") != dir) {
			ctp_val_free(file);
			continue;
		}
		ctp_val_set_u64(fsaid, "spi", spi);
		ctp_val_set_str(fep, "local_addr", gw);
		if (pmtu && (fpm = tlv_of(sa, "PMTU")) != NULL)
			ctp_val_set_u64(fpm, "pmtu", u64_of(pmtu, "pmtu"));
		if (write_file(files[i], file) == 0) {
			rc = 0;
			if ((note = ctp_val_obj()) != NULL) {
				ctp_val_set_str(note, "file", files[i]);
				ctp_val_set_u64(note, "spi", spi);
				if (prev)
					ctp_val_set_u64(note, "prev_spi", want);
				ctp_val_set_str(note, "gateway", gw);
				ctp_val_arr_push(report, note);
			}
		}
		ctp_val_free(file);
	}
	ctp_val_free(d);
out:
	ctp_val_free(arr);
	return rc;
}

int
ctpmn_sa_apply(char *const *files, size_t nfiles, const struct ctp_msg *ctn,
    struct ctp_val *report)
{
	int applied = 0;

	for (size_t i = 0; i < ctn->ncdb; i++)
		if (ctn->cdb[i].fpt == CTP_FPT_IPSEC_SA &&
		    apply_one(&ctn->cdb[i], files, nfiles, report) == 0)
			applied++;
	return applied;
}
