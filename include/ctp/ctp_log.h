/*
 * ctp_log.h: the one log API.
 *
 * Every line starts with the function that logs it.  Levels follow syslog;
 * CTP_LOG_PRIVATE is below DEBUG and is the only level at which key bytes may
 * be printed: it is off unless the operator asks for it explicitly.
 * State changes go through ctp_log_state() so they all read
 * "old -> new (event)".  Single-threaded (the loop thread owns logging).
 */
#ifndef CTP_LOG_H
#define CTP_LOG_H

#include <stdarg.h>

enum ctp_log_level {
	CTP_LOG_ERR = 3,
	CTP_LOG_WARN = 4,
	CTP_LOG_NOTICE = 5,
	CTP_LOG_INFO = 6,
	CTP_LOG_DEBUG = 7,
	CTP_LOG_PRIVATE = 8,
};

enum ctp_log_sink { CTP_LOG_STDERR, CTP_LOG_SYSLOG, CTP_LOG_NONE };

void ctp_log_open(const char *ident, enum ctp_log_sink sink, int level);
void ctp_log_set_level(int level);
int ctp_log_level(void);
/* Nonzero when a line at level would be written or seen by the hook: the
 * macros below check it first, so their arguments (an address formatted
 * for the line) are not even computed for a line that would be dropped. */
int ctp_log_enabled(int level);
/* Optional hook that sees every line written (tests, the control socket). */
void ctp_log_set_hook(void (*hook)(int level, const char *line, void *arg), void *arg);

void ctp_logf(int level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ctp_vlogf(int level, const char *func, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Expressions of type void; the arguments are evaluated only when the
 * level is enabled (do not put side effects in them). */
#define ctp_log_if_(level, ...) \
	(ctp_log_enabled(level) ? ctp_logf((level), __func__, __VA_ARGS__) : (void)0)
#define ctp_log(level, ...) ctp_log_if_((level), __VA_ARGS__)
#define log_err(...)    ctp_log_if_(CTP_LOG_ERR, __VA_ARGS__)
#define log_warn(...)   ctp_log_if_(CTP_LOG_WARN, __VA_ARGS__)
#define log_notice(...) ctp_log_if_(CTP_LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   ctp_log_if_(CTP_LOG_INFO, __VA_ARGS__)
#define log_debug(...)  ctp_log_if_(CTP_LOG_DEBUG, __VA_ARGS__)

/* "what id: old -> new (event)" at INFO. */
#define ctp_log_state(what, id, old, new, event) \
	ctp_log_if_(CTP_LOG_INFO, "%s %s: %s -> %s (%s)", (what), (id), (old), (new), (event))

/* Start-up failures and broken invariants only, never peer input. */
void ctp_fatal(const char *func, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
