/*
 * fuzz_pcap_read.c: libFuzzer harness for the exported-PDU capture reader
 * (ctp_pcap_read_begin / ctp_pcap_read_next in ctp_pcap.c), which the
 * replay tests feed with the daemons' captures.
 *
 * Input: a whole capture file.
 *
 * Properties: every record handed out lies inside the input, after the
 * file and record headers, with a NUL-terminated name; no more records
 * than the input has 16-octet headers; the reader stops (0 or an error)
 * and stays stopped; a refusal has the code it returned, an offset inside
 * the input and one printable line.  Anything else is a finding: abort().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_pcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_pcap_read_why(const struct ctp_err *err, int rc, size_t size)
{
	size_t n = strlen(err->what);

	if (err->code != rc || err->off > size || n == 0 || n >= sizeof err->what)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)err->what[i] < 0x20 || (unsigned char)err->what[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctp_pcap_reader r;
	struct ctp_pcap_rec rec;
	struct ctp_err err = { 0 };
	size_t n = 0;
	int rc;

	if ((rc = ctp_pcap_read_begin(&r, data, size, &err)) < 0) {
		fuzz_pcap_read_why(&err, rc, size);
		return 0;
	}
	while ((rc = ctp_pcap_read_next(&r, &rec, &err)) == 1) {
		if (++n > size / 16 || rec.index != n || rec.off < 24 || rec.off + 16 > size)
			abort();
		if ((rec.len && !rec.pdu) || (rec.pdu && (rec.pdu < data + rec.off + 16 ||
		    rec.len > size || rec.pdu + rec.len > data + size)))
			abort();
		if (memchr(rec.name, 0, sizeof rec.name) == NULL)
			abort();
		if (rec.src.family != 0 && rec.src.family != 4 && rec.src.family != 6)
			abort();
	}
	if (rc < 0) {
		fuzz_pcap_read_why(&err, rc, size);
		/* it stays at the bad record */
		if (ctp_pcap_read_next(&r, &rec, NULL) != rc)
			abort();
	} else if (rc != 0 || ctp_pcap_read_next(&r, &rec, NULL) != 0)
		abort();
	return 0;
}
