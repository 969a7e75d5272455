/*
 * ctp_err.c: names and texts of the CTP_E_* codes, and recording an error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctp/ctp_err.h"

static const char *const errnames[] = {
#define CTP_ERR_NAME_(name, text) "CTP_E_" #name,
	CTP_ERRNO_MAP(CTP_ERR_NAME_)
#undef CTP_ERR_NAME_
};

static const char *const errtexts[] = {
#define CTP_ERR_TEXT_(name, text) text,
	CTP_ERRNO_MAP(CTP_ERR_TEXT_)
#undef CTP_ERR_TEXT_
};

const char *
ctp_errname(int code)
{
	if (code == 0)
		return "CTP_OK";
	if (code < 0 && -code <= CTP_EIDX_COUNT_)
		return errnames[-code - 1];
	return "CTP_E_UNKNOWN";
}

const char *
ctp_strerror(int code)
{
	if (code == 0)
		return "success";
	if (code < 0 && -code <= CTP_EIDX_COUNT_)
		return errtexts[-code - 1];
	return "unknown error";
}

int
ctp_err_set(struct ctp_err *err, int code, size_t off, uint8_t status, const char *fmt, ...)
{
	va_list ap;

	if (!err || err->code)
		return code;
	err->code = code;
	err->off = off;
	err->status = status;
	va_start(ap, fmt);
	vsnprintf(err->what, sizeof err->what, fmt, ap);
	va_end(ap);
	return code;
}

void
ctp_err_clear(struct ctp_err *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}
