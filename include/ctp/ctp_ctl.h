/*
 * ctp_ctl.h: the control socket (a UNIX stream socket, mode 0600) and its
 * protocol: one JSON object per line each way.
 *
 *   request:  {"cmd": "peers"}            (more members are arguments)
 *   reply:    {"ok": true, ...}  or  {"ok": false, "error": "one line"}
 *
 * The module knows no commands: the daemon registers a handler per name.
 * Limits: at most max_clients connections (more are answered with an error
 * and closed), requests of at most 64 KiB, idle clients closed after 30 s.
 * Nothing written to the socket ever contains key bytes: handlers build
 * their replies from descriptions that leave keys out.
 * The program must ignore SIGPIPE: libuv writes with write(2), so a client
 * that disconnects before its reply is written would otherwise kill it.
 */
#ifndef CTP_CTL_H
#define CTP_CTL_H

#include <uv.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_val.h"

#define CTP_CTL_MAX_REQUEST (64 * 1024)

struct ctp_ctl;

/*
 * A handler fills *reply (an object; "ok" is added by the module) and
 * returns 0, or returns CTP_E_* with err->what for the client.
 */
typedef int (*ctp_ctl_fn)(const struct ctp_val *req, struct ctp_val *reply, void *ud,
    struct ctp_err *err);

int ctp_ctl_open(uv_loop_t *loop, const char *path, unsigned max_clients,
    struct ctp_ctl **out, struct ctp_err *err);
int ctp_ctl_register(struct ctp_ctl *c, const char *cmd, ctp_ctl_fn fn, void *ud);
/* Close every client and the listener; unlinks the socket file.  The memory
 * goes once the handles have closed (the loop turns once more). */
void ctp_ctl_close(struct ctp_ctl *c);
unsigned ctp_ctl_clients(const struct ctp_ctl *c);

/*
 * The client side, for ctpctl: send one request and wait for the reply
 * (blocking, with a timeout).  CTP_E_IO with a clear message when no daemon
 * listens at path.
 */
int ctp_ctl_call(const char *path, const struct ctp_val *req, unsigned timeout_ms,
    struct ctp_val **reply, struct ctp_err *err);

#endif
