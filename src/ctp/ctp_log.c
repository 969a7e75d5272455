/*
 * ctp_log.c: the log sink.  One line per call, "func: message", to stderr
 * (with a time stamp and level when not a terminal's plain output) or syslog.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "ctp/ctp_log.h"

static const char *ident = "ctp";
static enum ctp_log_sink sink = CTP_LOG_STDERR;
static int maxlevel = CTP_LOG_NOTICE;
static void (*hook)(int, const char *, void *);
static void *hook_arg;

static const char *const levelnames[] = {
	[CTP_LOG_ERR] = "error", [CTP_LOG_WARN] = "warning", [CTP_LOG_NOTICE] = "notice",
	[CTP_LOG_INFO] = "info", [CTP_LOG_DEBUG] = "debug", [CTP_LOG_PRIVATE] = "private",
};

void
ctp_log_open(const char *name, enum ctp_log_sink s, int level)
{
	ident = name;
	sink = s;
	maxlevel = level;
	if (sink == CTP_LOG_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
ctp_log_set_level(int level)
{
	maxlevel = level;
}

int
ctp_log_level(void)
{
	return maxlevel;
}

int
ctp_log_enabled(int level)
{
	return level <= maxlevel || hook != NULL;
}

void
ctp_log_set_hook(void (*h)(int, const char *, void *), void *arg)
{
	hook = h;
	hook_arg = arg;
}

void
ctp_vlogf(int level, const char *func, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (level > maxlevel && !hook)
		return;
	n = snprintf(line, sizeof line, "%s: ", func);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	if (hook)
		hook(level, line, hook_arg);
	if (level > maxlevel)
		return;
	if (sink == CTP_LOG_SYSLOG) {
		syslog(level > CTP_LOG_DEBUG ? LOG_DEBUG : level, "%s", line);
	} else if (sink == CTP_LOG_STDERR) {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof when, "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s[%s] %s\n", when, ts.tv_nsec / 1000000, ident,
		    level >= CTP_LOG_ERR && level <= CTP_LOG_PRIVATE ? levelnames[level] : "?", line);
	}
}

void
ctp_logf(int level, const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctp_vlogf(level, func, fmt, ap);
	va_end(ap);
}

void
ctp_fatal(const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctp_vlogf(CTP_LOG_ERR, func, fmt, ap);
	va_end(ap);
	exit(1);
}
