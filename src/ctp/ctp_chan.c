/*
 * ctp_chan.c: the secure channel above one association (ctp_chan.h,
 * PROFILE 2).
 *
 * States and events:
 *
 *   INIT ----start----------------------------------------> READY     ipsec, none
 *   INIT ----start (client sends ClientHello)--------------> HANDSHAKE tls
 *   HANDSHAKE --handshake done, server---------------------> READY
 *   HANDSHAKE --handshake done, client---------------------> CONFIRM
 *   CONFIRM --NewSessionTicket, or data from the server----> READY
 *   HANDSHAKE, CONFIRM --deadline (handshake_ms)-----------> FAILED
 *   any live state --refusal (certificate, identity, PSK,
 *       ALPN, PPID, stream, garbage, framing, transport)---> FAILED    fail() once
 *   any --ctp_chan_free------------------------------------> CLOSED    no callbacks
 *
 * CONFIRM exists because a TLS 1.3 client finishes its handshake one flight
 * before the server has checked the client's certificate (RFC 8446 2, and
 * transport-feasibility 3).  OpenSSL's server writes its NewSessionTicket
 * only after it has verified the client's Certificate, CertificateVerify
 * and Finished, so the ticket is the client's proof.  A server that sends
 * no ticket still proves it with its first application data; one that
 * sends neither runs into the handshake deadline.
 *
 * Callbacks run from ctp_chan_start, ctp_chan_input, ctp_chan_send (fail
 * only) and the deadline timer.  The owner may call ctp_chan_free from any
 * of them: the memory stays until the timer's close callback, and every
 * call site checks the state before touching the channel again.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ctp/ctp_chan.h"
#include "ctp/ctp_log.h"
#include "ctp/ctp_proto.h"
#include "ctp/ctp_secret.h"
#include "ctp_tls_int.h"

#define CTP_CHAN_HDR_LEN     4        /* the CXTP header; Length in octets 2-3 */
#define CTP_CHAN_MSG_MAX     65535    /* what a 16-bit Length can say */
#define CTP_CHAN_PSK_MIN     16       /* 128 bits: a PSK must not be guessable */
#define CTP_CHAN_PSK_MAX     64       /* what an OpenSSL session can hold */
#define CTP_CHAN_HANDSHAKE_MS_DEFAULT 5000  /* as ctp_conf's handshake-ms */
/* TLS records are grouped into SCTP messages of at most this size: one full
 * record (16384 + 256 + 5) fits, and a 60 KB message becomes a few SCTP
 * messages instead of one the transport's queue might never accept.  Each
 * SCTP message holds whole records, which is what Wireshark decrypts. */
#define CTP_CHAN_SCTP_MAX    (16384 + 512)
#define CTP_CHAN_TLS_HDR     5

enum ctp_chan_state {
	CTP_CHAN_INIT,
	CTP_CHAN_HANDSHAKE,
	CTP_CHAN_CONFIRM,
	CTP_CHAN_READY,
	CTP_CHAN_FAILED,
	CTP_CHAN_CLOSED,
};

struct ctp_chan {
	uv_timer_t               timer;     /* the handshake deadline; its close
	                                       callback frees the channel */
	const struct ctp_tr_ops *ops;
	struct ctp_tr_peer      *tp;
	struct ctp_chan_cb       cb;
	void                    *ud;
	enum ctp_sec             mode;
	int                      client;
	int                      allow_keys_plain;
	unsigned                 handshake_ms;
	uint32_t                 ppid_plain;
	uint32_t                 ppid_tls;
	char                    *name;
	char                    *identity;
	char                    *psk_identity;
	struct ctp_secret       *psk;
	char                     where[64];   /* the peer's address, for logs */
	enum ctp_chan_state      state;

	/* tls */
	SSL                     *ssl;
	struct ctp_tls_conn      conn;        /* what the SSL_CTX callbacks see */
	char                     cipher[80];
	/* ciphertext the transport has not taken yet (out_off: sent so far) */
	uint8_t                 *out;
	size_t                   out_off, out_len, out_cap;
	/* one CXTP message being reassembled from the TLS byte stream */
	uint8_t                 *rx;
	size_t                   rx_len, rx_need, rx_cap;
};

static const char *const ctp_chan_state_names[] = {
	[CTP_CHAN_INIT] = "init",
	[CTP_CHAN_HANDSHAKE] = "handshake",
	[CTP_CHAN_CONFIRM] = "confirm",
	[CTP_CHAN_READY] = "ready",
	[CTP_CHAN_FAILED] = "failed",
	[CTP_CHAN_CLOSED] = "closed",
};

const char *
ctp_sec_name(enum ctp_sec s)
{
	switch (s) {
	case CTP_SEC_TLS:
		return "tls";
	case CTP_SEC_IPSEC:
		return "ipsec";
	case CTP_SEC_NONE:
		return "none";
	}
	return "?";
}

static void
ctp_chan_set_state(struct ctp_chan *c, enum ctp_chan_state s, const char *event)
{
	ctp_log_state("chan", c->name, ctp_chan_state_names[c->state], ctp_chan_state_names[s],
	    event);
	c->state = s;
}

static void
ctp_chan_where(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "address unknown");
	}
}

/* A PPID for messages: its value, and its four letters when it has them. */
static const char *
ctp_chan_ppid_str(uint32_t ppid, char *buf, size_t len)
{
	char s[5];

	for (int i = 0; i < 4; i++) {
		unsigned ch = ppid >> (24 - 8 * i) & 0xff;

		if (ch < 0x20 || ch > 0x7e) {
			snprintf(buf, len, "0x%08x", ppid);
			return buf;
		}
		s[i] = (char)ch;
	}
	s[4] = '\0';
	snprintf(buf, len, "0x%08x \"%s\"", ppid, s);
	return buf;
}

static void
ctp_chan_rx_wipe(struct ctp_chan *c)
{
	ctp_wipe(c->rx, c->rx_cap);
	c->rx_len = c->rx_need = 0;
}

/*
 * The one exit for every refusal: logged with the peer's name, address and
 * the reason, then fail().  Later refusals of a failed channel are moot.
 */
static void
ctp_chan_fail(struct ctp_chan *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
ctp_chan_fail(struct ctp_chan *c, const char *fmt, ...)
{
	char reason[320];
	va_list ap;

	if (c->state == CTP_CHAN_FAILED || c->state == CTP_CHAN_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	/* Reasons quote certificate subjects and identities the peer chose. */
	for (char *p = reason; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	log_err("peer %s (%s): refused: %s", c->name, c->where, reason);
	ctp_chan_set_state(c, CTP_CHAN_FAILED, "refused");
	uv_timer_stop(&c->timer);
	ctp_chan_rx_wipe(c);
	if (c->cb.fail)
		c->cb.fail(c, reason, c->ud);
}

static void
ctp_chan_ready(struct ctp_chan *c, const char *event)
{
	uv_timer_stop(&c->timer);
	ctp_chan_set_state(c, CTP_CHAN_READY, event);
	if (c->mode == CTP_SEC_TLS)
		log_notice("peer %s (%s): ready: %s, %s%s%s", c->name, c->where, c->cipher,
		    c->psk ? "PSK identity \"" : "certificates verified both ways",
		    c->psk ? c->psk_identity : "", c->psk ? "\"" : "");
	else
		log_notice("peer %s (%s): ready: plaintext CXTP (security %s)", c->name,
		    c->where, ctp_sec_name(c->mode));
	if (c->cb.ready)
		c->cb.ready(c, c->ud);
}

/* ---- ciphertext out -------------------------------------------------------- */

/* How much of p (whole TLS records, at most CTP_CHAN_SCTP_MAX unless one
 * record is larger) goes into the next SCTP message. */
static size_t
ctp_chan_records(const uint8_t *p, size_t n)
{
	size_t off = 0;

	while (off + CTP_CHAN_TLS_HDR <= n) {
		size_t rec = CTP_CHAN_TLS_HDR + ((size_t)p[off + 3] << 8 | p[off + 4]);

		if (off + rec > n || (off > 0 && off + rec > CTP_CHAN_SCTP_MAX))
			break;
		off += rec;
	}
	/* OpenSSL writes whole records; anything else goes out as it is. */
	return off ? off : n;
}

static int
ctp_chan_out_reserve(struct ctp_chan *c, size_t more)
{
	uint8_t *p;
	size_t cap;

	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + more <= c->out_cap)
		return 0;
	cap = c->out_len + more;
	if (cap < 4096)
		cap = 4096;
	if (!(p = realloc(c->out, cap)))
		return CTP_E_NOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

/*
 * Move what OpenSSL wrote into the transport, in order.  What the transport
 * refuses (CTP_E_AGAIN) waits in c->out for ctp_chan_writable: records
 * cannot be dropped or reordered.  0, or the transport's error.
 */
static int
ctp_chan_flush(struct ctp_chan *c)
{
	BIO *w = SSL_get_wbio(c->ssl);
	size_t pend;
	int n, r;

	while ((pend = BIO_ctrl_pending(w)) > 0) {
		if (pend > INT_MAX)
			pend = INT_MAX;
		if (ctp_chan_out_reserve(c, pend) < 0)
			return CTP_E_NOMEM;
		if ((n = BIO_read(w, c->out + c->out_len, (int)pend)) <= 0)
			break;
		c->out_len += (size_t)n;
	}
	while (c->out_off < c->out_len) {
		size_t len = ctp_chan_records(c->out + c->out_off, c->out_len - c->out_off);

		r = c->ops->send(c->tp, 0, c->ppid_tls, c->out + c->out_off, len);
		if (r == CTP_E_AGAIN)
			return 0;
		if (r < 0)
			return r;
		c->out_off += len;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

static int
ctp_chan_flush_or_fail(struct ctp_chan *c)
{
	int r = ctp_chan_flush(c);

	if (r < 0)
		ctp_chan_fail(c, "transport refused TLS records: %s", ctp_strerror(r));
	return r;
}

/* ---- plaintext in ---------------------------------------------------------- */

/* One whole message to the owner; -1 when the owner freed the channel. */
static int
ctp_chan_deliver(struct ctp_chan *c, const uint8_t *p, size_t len)
{
	if (c->cb.msg)
		c->cb.msg(c, p, len, c->ud);
	return c->state == CTP_CHAN_READY ? 0 : -1;
}

static int
ctp_chan_rx_reserve(struct ctp_chan *c, size_t need)
{
	uint8_t *p;

	if (need <= c->rx_cap)
		return 0;
	/* No realloc: the old buffer holds plaintext and must be wiped. */
	if (!(p = malloc(need)))
		return CTP_E_NOMEM;
	if (c->rx_len)
		memcpy(p, c->rx, c->rx_len);
	ctp_wipe(c->rx, c->rx_cap);
	free(c->rx);
	c->rx = p;
	c->rx_cap = need;
	return 0;
}

/*
 * CXTP messages in the TLS byte stream, framed by their own Length (octets
 * 2-3, the whole message): one message may span records and one record may
 * hold several.  A Length below the header means the stream is not CXTP,
 * and nothing after it can be framed again.  -1 when the channel is gone.
 */
static int
ctp_chan_frame(struct ctp_chan *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t take;

		if (c->rx_len == 0 && n >= CTP_CHAN_HDR_LEN) {
			size_t len = (size_t)p[2] << 8 | p[3];

			/* the common case: the whole message is here, no copy */
			if (len >= CTP_CHAN_HDR_LEN && len <= n) {
				if (ctp_chan_deliver(c, p, len) < 0)
					return -1;
				p += len;
				n -= len;
				continue;
			}
		}
		if (c->rx_len < CTP_CHAN_HDR_LEN) {
			if (ctp_chan_rx_reserve(c, 256) < 0)
				goto nomem;
			take = CTP_CHAN_HDR_LEN - c->rx_len < n ? CTP_CHAN_HDR_LEN - c->rx_len : n;
			memcpy(c->rx + c->rx_len, p, take);
			c->rx_len += take;
			p += take;
			n -= take;
			if (c->rx_len < CTP_CHAN_HDR_LEN)
				break;
			c->rx_need = (size_t)c->rx[2] << 8 | c->rx[3];
			if (c->rx_need < CTP_CHAN_HDR_LEN) {
				ctp_chan_fail(c, "bad framing in the TLS stream: message Length %zu "
				    "is below the %d-octet header (not CXTP)", c->rx_need,
				    CTP_CHAN_HDR_LEN);
				return -1;
			}
			/* rx_need <= CTP_CHAN_MSG_MAX: the cap holds by construction */
			if (ctp_chan_rx_reserve(c, c->rx_need) < 0)
				goto nomem;
		}
		take = c->rx_need - c->rx_len < n ? c->rx_need - c->rx_len : n;
		memcpy(c->rx + c->rx_len, p, take);
		c->rx_len += take;
		p += take;
		n -= take;
		if (c->rx_len == c->rx_need) {
			int r;

			c->rx_len = 0;
			r = ctp_chan_deliver(c, c->rx, c->rx_need);
			ctp_wipe(c->rx, c->rx_need);
			if (r < 0)
				return -1;
		}
	}
	return 0;
nomem:
	ctp_chan_fail(c, "out of memory reassembling a message");
	return -1;
}

/* ---- the TLS connection ---------------------------------------------------- */

/* Read everything the TLS connection has: post-handshake messages (the
 * ticket a CONFIRM client waits for), then application data. */
static void
ctp_chan_read(struct ctp_chan *c)
{
	uint8_t buf[16384];
	size_t used = 0;
	char why[256];
	int n, e;

	for (;;) {
		ERR_clear_error();
		n = SSL_read(c->ssl, buf, sizeof buf);
		if (n > 0 && (size_t)n > used)
			used = (size_t)n;
		/* what went wrong, asked at once: the ready callback below may
		 * write (messages queued while the peer was down), and then
		 * SSL_get_error() and the error queue would speak of that */
		e = n > 0 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, n);
		if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE &&
		    e != SSL_ERROR_ZERO_RETURN)
			ctp_tls_why(c->ssl, &c->conn, why, sizeof why);
		if (c->state == CTP_CHAN_CONFIRM && (c->conn.ticket || n > 0)) {
			ctp_chan_ready(c, c->conn.ticket ? "NewSessionTicket: the server verified us" :
			    "application data: the server verified us");
			if (c->state != CTP_CHAN_READY)
				break;
		}
		if (n > 0) {
			if (ctp_chan_frame(c, buf, (size_t)n) < 0)
				break;
			continue;
		}
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			/* a KeyUpdate answer, for instance */
			(void)ctp_chan_flush_or_fail(c);
			break;
		}
		if (e == SSL_ERROR_ZERO_RETURN) {
			ERR_clear_error();
			if (!c->cb.closed) {
				ctp_chan_fail(c, "peer closed the TLS connection (close_notify)");
				break;
			}
			log_info("peer %s (%s): closed the TLS connection (close_notify)", c->name,
			    c->where);
			ctp_chan_set_state(c, CTP_CHAN_FAILED, "close_notify");
			uv_timer_stop(&c->timer);
			ctp_chan_rx_wipe(c);
			c->cb.closed(c, c->ud);
			break;
		}
		(void)ctp_chan_flush(c);   /* our alert, if OpenSSL wrote one */
		/* A confirming client hears here that the server refused it. */
		if (c->state == CTP_CHAN_CONFIRM)
			ctp_chan_fail(c, "TLS handshake: %s", why);
		else
			ctp_chan_fail(c, "TLS after the handshake: %s", why);
		break;
	}
	ctp_wipe(buf, used);
}

static void
ctp_chan_handshake_done(struct ctp_chan *c)
{
	BIO *w = SSL_get_wbio(c->ssl);
	int reused = SSL_session_reused(c->ssl);

	/* Refuse before flushing: a client's Finished (and a server's ticket)
	 * must not tell the peer it was accepted. */
	if (!ctp_tls_alpn_ok(c->ssl)) {
		(void)BIO_reset(w);
		ctp_chan_fail(c, "TLS handshake: peer did not select ALPN %s", CTP_TLS_ALPN);
		return;
	}
	if (c->psk && !reused) {
		(void)BIO_reset(w);
		ctp_chan_fail(c, "TLS handshake: the PSK was not used");
		return;
	}
	if (!c->psk && (reused || !SSL_get0_peer_certificate(c->ssl) ||
	    SSL_get_verify_result(c->ssl) != X509_V_OK)) {
		(void)BIO_reset(w);
		ctp_chan_fail(c, "TLS handshake: peer not authenticated by a certificate");
		return;
	}
	snprintf(c->cipher, sizeof c->cipher, "%s%s",
	    SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl)), c->psk ? " (PSK)" : "");
	if (ctp_chan_flush_or_fail(c) < 0)
		return;
	if (!c->client)
		ctp_chan_ready(c, "handshake done: client verified");
	else
		ctp_chan_set_state(c, CTP_CHAN_CONFIRM,
		    "handshake done: waiting for the server's NewSessionTicket");
}

static void
ctp_chan_handshake(struct ctp_chan *c)
{
	char why[256];
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		ctp_chan_handshake_done(c);
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		(void)ctp_chan_flush_or_fail(c);
		return;
	}
	ctp_tls_why(c->ssl, &c->conn, why, sizeof why);
	/* The alert OpenSSL queued tells the peer why. */
	(void)ctp_chan_flush(c);
	ctp_chan_fail(c, "TLS handshake: %s", why);
}

static void
ctp_chan_deadline_cb(uv_timer_t *t)
{
	struct ctp_chan *c = t->data;

	if (c->state == CTP_CHAN_HANDSHAKE)
		ctp_chan_fail(c, "TLS handshake not done after %u ms (the %s did not complete it)",
		    c->handshake_ms, c->client ? "server" : "client");
	else if (c->state == CTP_CHAN_CONFIRM)
		ctp_chan_fail(c, "TLS handshake not confirmed after %u ms: our side is done but "
		    "the server sent no NewSessionTicket or data to show it accepted us",
		    c->handshake_ms);
}

/* ---- the API ---------------------------------------------------------------- */

static void
ctp_chan_destroy(struct ctp_chan *c)
{
	SSL_free(c->ssl);
	free(c->out);
	ctp_chan_rx_wipe(c);
	free(c->rx);
	ctp_secret_free(c->psk);
	free(c->name);
	free(c->identity);
	free(c->psk_identity);
	free(c);
}

static void
ctp_chan_close_cb(uv_handle_t *h)
{
	ctp_chan_destroy(h->data);
}

int
ctp_chan_new(uv_loop_t *loop, const struct ctp_tr_ops *ops, struct ctp_tr_peer *tp,
    const struct ctp_chan_cfg *cfg, const struct ctp_chan_cb *cb, void *ud,
    struct ctp_chan **out, struct ctp_err *err)
{
	struct ctp_chan *c;
	const char *name;
	int r;

	if (out)
		*out = NULL;
	if (!loop || !ops || !ops->send || !tp || !cfg || !cb || !out)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_chan_new: missing argument");
	name = cfg->peer_name ? cfg->peer_name : "?";
	if (cfg->mode != CTP_SEC_TLS && cfg->mode != CTP_SEC_IPSEC && cfg->mode != CTP_SEC_NONE)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "peer %s: unknown security mode %d",
		    name, (int)cfg->mode);
	if (cfg->mode == CTP_SEC_TLS) {
		if (!cfg->tls)
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
			    "peer %s: security tls without TLS material", name);
		if (cfg->psk) {
			if (cfg->psk_len < CTP_CHAN_PSK_MIN || cfg->psk_len > CTP_CHAN_PSK_MAX)
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
				    "peer %s: PSK of %zu octets (%d to %d allowed)", name,
				    cfg->psk_len, CTP_CHAN_PSK_MIN, CTP_CHAN_PSK_MAX);
			if (!cfg->psk_identity || !*cfg->psk_identity ||
			    strlen(cfg->psk_identity) > 255)
				return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
				    "peer %s: a PSK needs an identity of 1 to 255 octets", name);
		} else if (!ctp_tls_has_certs(cfg->tls)) {
			return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
			    "peer %s: security tls needs certificates or a PSK", name);
		}
	}
	if (!(c = calloc(1, sizeof *c)))
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "ctp_chan_new: out of memory");
	c->ops = ops;
	c->tp = tp;
	c->cb = *cb;
	c->ud = ud;
	c->mode = cfg->mode;
	c->client = !!cfg->client;
	c->allow_keys_plain = !!cfg->allow_keys_plain;
	c->handshake_ms = cfg->handshake_ms ? cfg->handshake_ms : CTP_CHAN_HANDSHAKE_MS_DEFAULT;
	c->ppid_plain = cfg->ppid_plain ? cfg->ppid_plain : CTP_PPID_PLAIN;
	c->ppid_tls = cfg->ppid_tls ? cfg->ppid_tls : CTP_PPID_TLS;
	c->state = CTP_CHAN_INIT;
	ctp_chan_where(&tp->addr, c->where, sizeof c->where);
	if (!(c->name = strdup(name)) ||
	    !(c->identity = strdup(cfg->identity ? cfg->identity : name)))
		goto nomem;
	if (c->mode == CTP_SEC_TLS) {
		if (cfg->psk) {
			if (!(c->psk = ctp_secret_dup(cfg->psk, cfg->psk_len)) ||
			    !(c->psk_identity = strdup(cfg->psk_identity)))
				goto nomem;
		}
		c->conn.psk = c->psk;
		c->conn.psk_identity = c->psk_identity;
		c->conn.identity = c->identity;
		if ((r = ctp_tls_ssl_new(cfg->tls, c->client, &c->conn, &c->ssl, err)) < 0) {
			ctp_chan_destroy(c);
			return r;
		}
	}
	/* Last: from here on the memory can only go through uv_close. */
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	log_debug("peer %s (%s): channel: security %s%s%s", c->name, c->where,
	    ctp_sec_name(c->mode), c->mode != CTP_SEC_TLS ? "" : c->client ? ", client" : ", server",
	    c->mode != CTP_SEC_TLS ? "" : c->psk ? ", PSK" : ", certificates");
	*out = c;
	return 0;
nomem:
	ctp_chan_destroy(c);
	return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "ctp_chan_new: out of memory");
}

void
ctp_chan_start(struct ctp_chan *c)
{
	if (!c || c->state != CTP_CHAN_INIT)
		return;
	if (c->mode != CTP_SEC_TLS) {
		if (c->mode == CTP_SEC_NONE)
			log_warn("peer %s (%s): security none: CXTP in the clear, for "
			    "laboratories only; key material %s", c->name, c->where,
			    c->allow_keys_plain ? "ALLOWED in the clear" : "refused");
		ctp_chan_ready(c, "association up, plaintext");
		return;
	}
	uv_timer_start(&c->timer, ctp_chan_deadline_cb, c->handshake_ms, 0);
	ctp_chan_set_state(c, CTP_CHAN_HANDSHAKE, c->client ? "association up, ClientHello" :
	    "association up, waiting for ClientHello");
	if (c->client)
		ctp_chan_handshake(c);
}

void
ctp_chan_input(struct ctp_chan *c, uint16_t sid, uint32_t ppid, const uint8_t *buf,
    size_t len)
{
	char got[32], want[32];

	if (!c || c->state == CTP_CHAN_FAILED || c->state == CTP_CHAN_CLOSED)
		return;
	if (c->state == CTP_CHAN_INIT) {
		ctp_chan_fail(c, "message before the channel was started");
		return;
	}
	if (c->mode != CTP_SEC_TLS) {
		/* One message per SCTP message; the decoder judges its content. */
		if (ppid != c->ppid_plain) {
			ctp_chan_fail(c, "message with PPID %s on a security %s channel "
			    "(expected %s)", ctp_chan_ppid_str(ppid, got, sizeof got),
			    ctp_sec_name(c->mode), ctp_chan_ppid_str(c->ppid_plain, want, sizeof want));
			return;
		}
		(void)ctp_chan_deliver(c, buf, len);
		return;
	}
	if (ppid != c->ppid_tls) {
		ctp_chan_fail(c, "message with PPID %s on a security tls channel (expected %s)",
		    ctp_chan_ppid_str(ppid, got, sizeof got),
		    ctp_chan_ppid_str(c->ppid_tls, want, sizeof want));
		return;
	}
	if (sid != 0) {
		ctp_chan_fail(c, "TLS records on stream %u (only stream 0, ordered, carries them)",
		    sid);
		return;
	}
	if (len == 0)
		return;
	if (len > INT_MAX || BIO_write(SSL_get_rbio(c->ssl), buf, (int)len) != (int)len) {
		ctp_chan_fail(c, "out of memory buffering TLS records");
		return;
	}
	if (c->state == CTP_CHAN_HANDSHAKE)
		ctp_chan_handshake(c);
	if (c->state == CTP_CHAN_CONFIRM || c->state == CTP_CHAN_READY)
		ctp_chan_read(c);
}

void
ctp_chan_writable(struct ctp_chan *c)
{
	if (!c || c->mode != CTP_SEC_TLS)
		return;
	if (c->state == CTP_CHAN_HANDSHAKE || c->state == CTP_CHAN_CONFIRM ||
	    c->state == CTP_CHAN_READY)
		(void)ctp_chan_flush_or_fail(c);
}

int
ctp_chan_send(struct ctp_chan *c, const uint8_t *msg, size_t len, unsigned flags)
{
	char why[256];
	int r;

	if (!c || !msg)
		return CTP_E_INVAL;
	if (c->state != CTP_CHAN_READY)
		return CTP_E_STATE;
	/* The receiver frames by the Length field: it must be the truth. */
	if (len < CTP_CHAN_HDR_LEN || len > CTP_CHAN_MSG_MAX || ((size_t)msg[2] << 8 | msg[3]) != len)
		return CTP_E_INVAL;
	if ((flags & CTP_CHAN_KEYS) && c->mode == CTP_SEC_NONE && !c->allow_keys_plain) {
		log_err("peer %s (%s): refused to send key material in the clear "
		    "(security none without allow_keys_plain)", c->name, c->where);
		return CTP_E_AUTH;
	}
	if (c->mode != CTP_SEC_TLS) {
		r = c->ops->send(c->tp, 0, c->ppid_plain, msg, len);
		if (r == 0 && (flags & CTP_CHAN_KEYS) && c->mode == CTP_SEC_NONE)
			log_warn("peer %s (%s): sent key material IN THE CLEAR (security none, "
			    "allow_keys_plain)", c->name, c->where);
		return r;
	}
	/* Earlier ciphertext still waits for the transport: this message is not
	 * taken (nothing of it is sent) until ctp_chan_writable drained it. */
	if (c->out_len > c->out_off)
		return CTP_E_AGAIN;
	ERR_clear_error();
	if (SSL_write(c->ssl, msg, (int)len) != (int)len) {
		ctp_tls_why(c->ssl, &c->conn, why, sizeof why);
		ctp_chan_fail(c, "TLS write failed (%s)", why);
		return CTP_E_CRYPTO;
	}
	/* Encrypted now, so it is ours to deliver: what the transport cannot
	 * take yet waits in the channel. */
	return ctp_chan_flush_or_fail(c) < 0 ? CTP_E_IO : 0;
}

int
ctp_chan_is_ready(const struct ctp_chan *c)
{
	return c && c->state == CTP_CHAN_READY;
}

enum ctp_sec
ctp_chan_mode(const struct ctp_chan *c)
{
	return c->mode;
}

const char *
ctp_chan_cipher(const struct ctp_chan *c)
{
	return c ? c->cipher : "";
}

void
ctp_chan_free(struct ctp_chan *c)
{
	if (!c || c->state == CTP_CHAN_CLOSED)
		return;
	if (c->ssl && (c->state == CTP_CHAN_READY || c->state == CTP_CHAN_CONFIRM)) {
		/* close_notify: the peer learns the end was meant. */
		ERR_clear_error();
		if (SSL_shutdown(c->ssl) >= 0)
			(void)ctp_chan_flush(c);
		ERR_clear_error();
	}
	ctp_chan_set_state(c, CTP_CHAN_CLOSED, "freed");
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, ctp_chan_close_cb);
}
