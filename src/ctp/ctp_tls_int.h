/*
 * ctp_tls_int.h: what the secure channel (ctp_chan.c) needs from ctp_tls.c.
 * Internal: neither plugins nor the public headers see OpenSSL types.
 *
 * The SSL_CTX callbacks are shared by every channel of a daemon, but the
 * PSK, the expected identity and the refusal reasons are per channel: each
 * SSL carries a pointer to its channel's struct ctp_tls_conn in an ex_data
 * slot, which the callbacks read and write.  Everything runs on the loop
 * thread.
 */
#ifndef CTP_TLS_INT_H
#define CTP_TLS_INT_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "ctp/ctp_chan.h"
#include "ctp/ctp_err.h"
#include "ctp/ctp_secret.h"

/* The one ALPN protocol (PROFILE 2), and its wire form for OpenSSL. */
#define CTP_TLS_ALPN      "cxtp/1"

/* Suites with SHA-256, the hash of our external PSKs: with a SHA-384 suite
 * first, OpenSSL would silently skip the PSK (transport-feasibility 3). */
#define CTP_TLS_PSK_SUITES "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"

struct ctp_tls_conn {
	/* Set by the channel before the handshake; owned by the channel. */
	const struct ctp_secret *psk;          /* NULL: certificate mode */
	const char              *psk_identity;
	const char              *identity;     /* certificate mode: the name the
	                                          peer's certificate must carry */
	/* Set by the callbacks during the handshake. */
	int                      ticket;       /* client: a NewSessionTicket came */
	int                      psk_offered;  /* server: the client offered a PSK */
	int                      psk_accepted; /* server: its identity was ours */
	char                     why[200];     /* the first refusal a callback saw */
};

/*
 * A new SSL of the given role on t's contexts, with memory BIOs (read
 * and write), conn attached, and in PSK mode (conn->psk set) the PSK
 * suites and no certificate of ours.  Certificate mode checks the peer's
 * certificate against conn->identity.  CTP_E_CONFIG when certificate mode
 * is asked of a ctp_tls without certificates, CTP_E_CRYPTO otherwise.
 */
int ctp_tls_ssl_new(struct ctp_tls *t, int client, struct ctp_tls_conn *conn, SSL **out,
    struct ctp_err *err);

/* 1 when t holds a CA, a certificate and its key. */
int ctp_tls_has_certs(const struct ctp_tls *t);

/*
 * One line saying why the last OpenSSL call on ssl failed: a callback's
 * reason first, then the error queue (alerts from the peer are named as
 * such).  Clears the error queue.
 */
void ctp_tls_why(SSL *ssl, const struct ctp_tls_conn *conn, char *buf, size_t len);

/* The ALPN protocol ssl negotiated is ours: 1 or 0. */
int ctp_tls_alpn_ok(SSL *ssl);

#endif
