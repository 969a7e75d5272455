/*
 * ctp_util.c: file reading and hex-or-binary input for the programs.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_util.h"
#include "ctp/ctp_val.h"

int
ctp_read_file(const char *path, size_t max, uint8_t **bufp, size_t *lenp)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t len = 0, cap = 4096;
	uint8_t *buf;
	int rc = 0;

	if (!f)
		return CTP_E_IO;
	if ((buf = malloc(cap + 1)) == NULL)
		rc = CTP_E_NOMEM;
	while (rc == 0) {
		size_t n;

		if (len == cap) {
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			uint8_t *nb;

			if (cap > max) {
				rc = CTP_E_LIMIT;
				break;
			}
			if ((nb = realloc(buf, ncap + 1)) == NULL) {
				rc = CTP_E_NOMEM;
				break;
			}
			buf = nb;
			cap = ncap;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				rc = CTP_E_IO;
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = 0;
	*bufp = buf;
	*lenp = len;
	return 0;
}

int
ctp_maybe_unhex(uint8_t *buf, size_t *len)
{
	size_t digits = 0, n;

	for (size_t i = 0; i < *len; i++) {
		if (isxdigit(buf[i]))
			digits++;
		else if ((buf[i] == 'x' || buf[i] == 'X') && i > 0 && buf[i - 1] == '0')
			continue;   /* a 0x prefix */
		else if (!isspace(buf[i]))
			return 0;   /* binary */
	}
	if (digits == 0)
		return 0;
	if (ctp_hex_decode((const char *)buf, *len, buf, *len, &n) < 0)
		return CTP_E_VALUE;
	*len = n;
	return 0;
}
