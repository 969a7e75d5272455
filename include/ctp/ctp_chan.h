/*
 * ctp_chan.h: the secure channel above one association (PROFILE 2).
 *
 *   tls    TLS 1.3 with memory BIOs, one TLS connection per association,
 *          records on stream 0 (ordered) with PPID "CXTS", ALPN "cxtp/1";
 *          mutual X.509 (the peer's certificate must chain to the CA and
 *          name the configured identity) or an external PSK with (EC)DHE.
 *          CXTP messages are framed inside the TLS byte stream by their own
 *          Length field, so one message may span records and one record
 *          may hold several messages.
 *   ipsec  plaintext CXTP, one message per SCTP message, PPID "CXTP"; the
 *          operator asserts ESP protects the association.
 *   none   the same on the wire, for laboratories: a message carrying key
 *          material is refused unless allowed, and each such send is
 *          logged as a warning.
 *
 * A channel is "ready" only when both sides have authenticated.  In TLS 1.3
 * the client completes its handshake before the server has checked the
 * client's certificate, so the client waits for the server's first
 * post-handshake record (its NewSessionTicket, which OpenSSL's server
 * sends only after it has verified the client's Finished); the server is
 * ready when its handshake completes.
 *
 * Every refusal (bad certificate, wrong identity, wrong PSK, wrong ALPN,
 * handshake timeout, garbage) is logged with the peer's name, address and
 * the reason, and reported through fail(); the owner then closes the
 * association.  Nothing here logs key bytes.
 */
#ifndef CTP_CHAN_H
#define CTP_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ctp/ctp_err.h"
#include "ctp/ctp_tr.h"

enum ctp_sec { CTP_SEC_TLS = 1, CTP_SEC_IPSEC, CTP_SEC_NONE };

const char *ctp_sec_name(enum ctp_sec s);

/* The TLS material shared by all channels of a daemon (one SSL_CTX per role). */
struct ctp_tls;

struct ctp_tls_cfg {
	const char *ca;           /* PEM file: the CA that signs peers (certificate mode) */
	const char *cert;         /* PEM file: our certificate chain */
	const char *key;          /* PEM file: our private key */
	const char *keylog;       /* SSLKEYLOGFILE-format output, or NULL */
	int         allow_keylog; /* the explicit debug switch keylog needs */
};

int ctp_tls_new(const struct ctp_tls_cfg *cfg, struct ctp_tls **out, struct ctp_err *err);
void ctp_tls_free(struct ctp_tls *t);

struct ctp_chan;

struct ctp_chan_cfg {
	enum ctp_sec    mode;
	int             client;        /* TLS role (decided by address order) */
	struct ctp_tls *tls;           /* tls mode */
	const char     *peer_name;     /* configured name, for logs */
	const char     *identity;      /* certificate identity the peer must present
	                                  (DNS name or CN); NULL = peer_name */
	const uint8_t  *psk;           /* external PSK instead of certificates */
	size_t          psk_len;
	const char     *psk_identity;
	int             allow_keys_plain; /* none mode: key material allowed */
	unsigned        handshake_ms;  /* give up on a handshake after this long */
	uint32_t        ppid_plain;    /* CTP_PPID_PLAIN unless configured */
	uint32_t        ppid_tls;      /* CTP_PPID_TLS unless configured */
};

struct ctp_chan_cb {
	void (*ready)(struct ctp_chan *c, void *ud);
	/* One whole CXTP message (not yet decoded). */
	void (*msg)(struct ctp_chan *c, const uint8_t *buf, size_t len, void *ud);
	/* The channel is unusable; reason is one line for logs and counters. */
	void (*fail)(struct ctp_chan *c, const char *reason, void *ud);
	/* The peer ended the channel in order (TLS close_notify): not a
	 * refusal.  When NULL, this is reported through fail. */
	void (*closed)(struct ctp_chan *c, void *ud);
};

/*
 * A channel for an association (up or about to be).  ops is the backend of
 * tp, used to send.  The channel does nothing until ctp_chan_start.
 */
int ctp_chan_new(uv_loop_t *loop, const struct ctp_tr_ops *ops, struct ctp_tr_peer *tp,
    const struct ctp_chan_cfg *cfg, const struct ctp_chan_cb *cb, void *ud,
    struct ctp_chan **out, struct ctp_err *err);
/* The association is up: a TLS client starts its handshake, a plaintext
 * channel is ready at once. */
void ctp_chan_start(struct ctp_chan *c);
/* A message arrived on the association. */
void ctp_chan_input(struct ctp_chan *c, uint16_t sid, uint32_t ppid, const uint8_t *buf,
    size_t len);
/* The association's send queue has room again. */
void ctp_chan_writable(struct ctp_chan *c);

#define CTP_CHAN_KEYS 0x01   /* the message carries key material */

/*
 * Send one CXTP message.  CTP_E_STATE before ready, CTP_E_AUTH for key
 * material on a `none` channel that does not allow it, CTP_E_AGAIN when
 * the transport's queue is full (nothing was sent).  In tls mode a message
 * is encrypted before the transport is asked, so records the transport
 * refuses wait in the channel until ctp_chan_writable; sends return
 * CTP_E_AGAIN until they have gone.
 */
int ctp_chan_send(struct ctp_chan *c, const uint8_t *msg, size_t len, unsigned flags);

int ctp_chan_is_ready(const struct ctp_chan *c);
enum ctp_sec ctp_chan_mode(const struct ctp_chan *c);
/* TLS: the negotiated cipher suite and whether a PSK was used; "" otherwise. */
const char *ctp_chan_cipher(const struct ctp_chan *c);
/* Close the TLS connection (close_notify) if any and stop the handshake
 * timer; the memory goes when the timer handle's close callback runs (the
 * loop must turn once more).  No callback fires after this.  The
 * association itself belongs to the caller; close_notify is sent on it, so
 * free the channel while tp is valid (at the latest in the transport's down
 * callback).  NULL is fine. */
void ctp_chan_free(struct ctp_chan *c);

#endif
