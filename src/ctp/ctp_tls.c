/*
 * ctp_tls.c: the TLS material of a daemon (PROFILE 2): one client and one
 * server SSL_CTX, TLS 1.3 only, the certificates, the ALPN rule, the
 * external-PSK callbacks and the optional key log.
 *
 * Decisions, with transport-feasibility 3 as the evidence:
 *   - TLS 1.3 only.  Both sides verify (SSL_VERIFY_PEER |
 *     SSL_VERIFY_FAIL_IF_NO_PEER_CERT) and both check the peer's name
 *     (SSL_set1_host also applies when a server verifies a client).
 *   - PSK mode uses the PSK only: the SSL drops our certificate and the
 *     verify callback refuses any certificate, so a peer that ignores the
 *     PSK cannot fall back to certificates we did not ask for.
 *   - ALPN "cxtp/1" both ways.  A server's ALPN select callback is not
 *     called when the client offers no ALPN at all, so the ClientHello
 *     callback refuses that case with no_application_protocol.
 *   - The server sends one NewSessionTicket (the client's proof that the
 *     server verified it, ctp_chan.h) but never resumes: stateful tickets
 *     with the session cache off, so every connection authenticates fully.
 *   - The key log exists only behind allow_keylog.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ctp/ctp_chan.h"
#include "ctp/ctp_log.h"
#include "ctp_tls_int.h"

struct ctp_tls {
	SSL_CTX *client;
	SSL_CTX *server;
	int      certs;       /* CA, certificate and key loaded */
	int      keylog_fd;   /* -1 unless the key log is on */
	char    *keylog;      /* its path, for messages */
	int      keylog_err;  /* a write failed (reported once) */
};

/* The ex_data slot of SSL objects that holds their struct ctp_tls_conn. */
static int ctp_tls_conn_idx = -1;

static const unsigned char ctp_tls_alpn_wire[] = "\x06" CTP_TLS_ALPN;
#define CTP_TLS_ALPN_WIRE_LEN (sizeof ctp_tls_alpn_wire - 1)

/* TLS_AES_128_GCM_SHA256: the cipher the PSK sessions are built with. */
static const unsigned char ctp_tls_psk_cipher[2] = { 0x13, 0x01 };

static struct ctp_tls_conn *
ctp_tls_conn_of(const SSL *ssl)
{
	return ssl && ctp_tls_conn_idx >= 0 ? SSL_get_ex_data(ssl, ctp_tls_conn_idx) : NULL;
}

/* Record the first reason a callback refused something. */
static void
ctp_tls_note(struct ctp_tls_conn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ctp_tls_note(struct ctp_tls_conn *conn, const char *fmt, ...)
{
	va_list ap;

	if (!conn || conn->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(conn->why, sizeof conn->why, fmt, ap);
	va_end(ap);
}

/* Peer-chosen octets (a PSK identity, ALPN names) made printable. */
static void
ctp_tls_printable(const unsigned char *p, size_t n, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"')
			buf[o++] = (char)p[i];
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", p[i]);
	}
	if (len)
		buf[o < len ? o : len - 1] = '\0';
}

/* The text of the first error OpenSSL queued, without the library codes. */
static const char *
ctp_tls_errtext(unsigned long e)
{
	const char *r = ERR_reason_error_string(e);

	return r ? r : "unknown error";
}

/* ---- callbacks ------------------------------------------------------------ */

static int
ctp_tls_verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct ctp_tls_conn *conn = ctp_tls_conn_of(ssl);
	X509 *cert = X509_STORE_CTX_get_current_cert(xs);
	char subject[128] = "?";
	int e = X509_STORE_CTX_get_error(xs);

	if (conn && conn->psk) {
		/* The peer ignored our PSK and fell back to certificates. */
		if ((cert = X509_STORE_CTX_get0_cert(xs)) != NULL)
			X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
		ctp_tls_note(conn, "peer presented certificate %s instead of using the PSK", subject);
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	if (cert)
		X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
	if (!ok && conn) {
		if (e == X509_V_ERR_HOSTNAME_MISMATCH)
			ctp_tls_note(conn, "certificate %s does not name identity \"%s\"", subject,
			    conn->identity ? conn->identity : "?");
		else
			ctp_tls_note(conn, "certificate %s (depth %d): %s", subject,
			    X509_STORE_CTX_get_error_depth(xs), X509_verify_cert_error_string(e));
	}
	return ok;
}

/* Server: a ClientHello without ALPN never reaches the select callback. */
static int
ctp_tls_hello_cb(SSL *ssl, int *al, void *arg)
{
	const unsigned char *ext;
	size_t len;

	(void)arg;
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation,
	    &ext, &len)) {
		ctp_tls_note(ctp_tls_conn_of(ssl), "peer offered no ALPN (%s required)",
		    CTP_TLS_ALPN);
		*al = SSL_AD_NO_APPLICATION_PROTOCOL;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

static int
ctp_tls_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	char offered[96];
	unsigned i = 0;

	(void)arg;
	/* in is a list of length-prefixed names, already checked by OpenSSL. */
	while (i < inlen) {
		unsigned n = in[i];

		if (n > inlen - i - 1)
			break;
		if (n == CTP_TLS_ALPN_WIRE_LEN - 1 &&
		    memcmp(in + i + 1, CTP_TLS_ALPN, n) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + n;
	}
	/* Name what was offered, "a,b", for the log. */
	offered[0] = '\0';
	for (i = 0; i < inlen && in[i] <= inlen - i - 1; i += 1 + in[i]) {
		size_t o = strlen(offered);

		if (o + 2 >= sizeof offered)
			break;
		if (o)
			offered[o++] = ',';
		ctp_tls_printable(in + i + 1, in[i], offered + o, sizeof offered - o);
	}
	ctp_tls_note(ctp_tls_conn_of(ssl), "peer offered ALPN \"%s\", not %s", offered,
	    CTP_TLS_ALPN);
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* An SSL_SESSION that carries the external PSK (RFC 8446 4.2.11). */
static SSL_SESSION *
ctp_tls_psk_session(SSL *ssl, const struct ctp_secret *psk)
{
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, ctp_tls_psk_cipher);
	SSL_SESSION *s;

	if (!cipher || !(s = SSL_SESSION_new()))
		return NULL;
	if (!SSL_SESSION_set1_master_key(s, psk->p, psk->len) ||
	    !SSL_SESSION_set_cipher(s, cipher) ||
	    !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
		/* SSL_SESSION_free cleanses the master key. */
		SSL_SESSION_free(s);
		return NULL;
	}
	return s;
}

static int
ctp_tls_psk_use_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
    SSL_SESSION **sess)
{
	struct ctp_tls_conn *conn = ctp_tls_conn_of(ssl);
	SSL_SESSION *s;

	*sess = NULL;
	*id = NULL;
	*idlen = 0;
	if (!conn || !conn->psk)
		return 1;
	/* After a HelloRetryRequest md is the suite's hash: a SHA-256 PSK
	 * cannot serve another (our suites make this impossible). */
	if (md && md != EVP_sha256()) {
		ctp_tls_note(conn, "server chose a suite whose hash does not fit the PSK");
		return 0;
	}
	if (!(s = ctp_tls_psk_session(ssl, conn->psk))) {
		ctp_tls_note(conn, "cannot build the PSK session");
		return 0;
	}
	*sess = s;
	*id = (const unsigned char *)conn->psk_identity;
	*idlen = strlen(conn->psk_identity);
	return 1;
}

static int
ctp_tls_psk_find_cb(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess)
{
	struct ctp_tls_conn *conn = ctp_tls_conn_of(ssl);
	char shown[96];

	*sess = NULL;
	if (!conn)
		return 1;
	conn->psk_offered = 1;
	/* No session: the handshake goes on without a PSK, and fails in PSK
	 * mode because this SSL has no certificate to fall back to. */
	if (!conn->psk)
		return 1;
	if (idlen != strlen(conn->psk_identity) || memcmp(id, conn->psk_identity, idlen) != 0) {
		ctp_tls_printable(id, idlen, shown, sizeof shown);
		ctp_tls_note(conn, "unknown PSK identity \"%s\" (expected \"%s\")", shown,
		    conn->psk_identity);
		return 1;
	}
	if (!(*sess = ctp_tls_psk_session(ssl, conn->psk))) {
		ctp_tls_note(conn, "cannot build the PSK session");
		return 0;
	}
	conn->psk_accepted = 1;
	return 1;
}

/* Client: OpenSSL hands us each NewSessionTicket as a session.  We never
 * resume; the ticket only proves the server finished verifying us. */
static int
ctp_tls_ticket_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct ctp_tls_conn *conn = ctp_tls_conn_of(ssl);

	(void)sess;
	if (conn)
		conn->ticket = 1;
	return 0;   /* not kept: OpenSSL frees it */
}

static void
ctp_tls_keylog_cb(const SSL *ssl, const char *line)
{
	struct ctp_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct iovec iov[2];
	ssize_t n, want;

	if (!t || t->keylog_fd < 0)
		return;
	iov[0].iov_base = (void *)(uintptr_t)line;
	iov[0].iov_len = strlen(line);
	iov[1].iov_base = (void *)(uintptr_t)"\n";
	iov[1].iov_len = 1;
	want = (ssize_t)(iov[0].iov_len + 1);
	/* One writev on an O_APPEND file: lines of concurrent writers (several
	 * daemons sharing one file in the demo) do not interleave. */
	do
		n = writev(t->keylog_fd, iov, 2);
	while (n < 0 && errno == EINTR);
	if (n != want && !t->keylog_err) {
		t->keylog_err = 1;
		log_warn("key log %s: write failed: %s", t->keylog,
		    n < 0 ? strerror(errno) : "short write");
	}
}

/* Key files with a pass phrase would make OpenSSL prompt on the terminal. */
static int
ctp_tls_passwd_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

/* ---- the contexts --------------------------------------------------------- */

static int
ctp_tls_ctx_new(struct ctp_tls *t, int client, SSL_CTX **out, struct ctp_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
	static const unsigned char sid_ctx[] = CTP_TLS_ALPN;

	if (!ctx)
		return ctp_err_set(err, CTP_E_CRYPTO, 0, 0, "SSL_CTX_new: %s",
		    ctp_tls_errtext(ERR_get_error()));
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		goto fail;
	SSL_CTX_set_app_data(ctx, t);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	    ctp_tls_verify_cb);
	SSL_CTX_set_default_passwd_cb(ctx, ctp_tls_passwd_cb);
	if (client) {
		/* returns 0 on success, unlike the rest of the API */
		if (SSL_CTX_set_alpn_protos(ctx, ctp_tls_alpn_wire, CTP_TLS_ALPN_WIRE_LEN) != 0)
			goto fail;
		SSL_CTX_set_psk_use_session_callback(ctx, ctp_tls_psk_use_cb);
		/* The new-session callback (our ticket signal) runs only with
		 * client caching on; nothing is stored internally. */
		SSL_CTX_set_session_cache_mode(ctx,
		    SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, ctp_tls_ticket_cb);
	} else {
		SSL_CTX_set_client_hello_cb(ctx, ctp_tls_hello_cb, NULL);
		SSL_CTX_set_alpn_select_cb(ctx, ctp_tls_alpn_select_cb, NULL);
		SSL_CTX_set_psk_find_session_callback(ctx, ctp_tls_psk_find_cb);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		if (!SSL_CTX_set_num_tickets(ctx, 1) ||
		    !SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1))
			goto fail;
	}
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return ctp_err_set(err, CTP_E_CRYPTO, 0, 0, "setting up the %s context: %s",
	    client ? "client" : "server", ctp_tls_errtext(ERR_get_error()));
}

/* A file we are about to hand to OpenSSL can be opened: its errors would
 * otherwise read "system library" instead of naming the problem. */
static int
ctp_tls_readable(const char *what, const char *path, struct ctp_err *err)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "%s %s: %s", what, path,
		    strerror(errno));
	fclose(f);
	return 0;
}

static int
ctp_tls_ctx_load(SSL_CTX *ctx, const struct ctp_tls_cfg *cfg, struct ctp_err *err)
{
	STACK_OF(X509_OBJECT) *objs;
	int r;

	ERR_clear_error();
	if ((r = ctp_tls_readable("CA file", cfg->ca, err)) < 0 ||
	    (r = ctp_tls_readable("certificate file", cfg->cert, err)) < 0 ||
	    (r = ctp_tls_readable("key file", cfg->key, err)) < 0)
		return r;
	if (!SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL))
		goto bad_ca;
	objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
	if (!objs || sk_X509_OBJECT_num(objs) == 0)
		goto bad_ca;
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "certificate file %s: %s", cfg->cert,
		    ctp_tls_errtext(ERR_get_error()));
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_last_error();

		if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			goto mismatch;
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "key file %s: %s", cfg->key,
		    ctp_tls_errtext(ERR_get_error()));
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		goto mismatch;
	ERR_clear_error();
	return 0;
mismatch:
	return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
	    "key file %s does not match certificate file %s", cfg->key, cfg->cert);
bad_ca:
	return ctp_err_set(err, CTP_E_CONFIG, 0, 0, "CA file %s: %s", cfg->ca,
	    ERR_peek_error() ? ctp_tls_errtext(ERR_get_error()) : "no certificate in it");
}

int
ctp_tls_new(const struct ctp_tls_cfg *cfg, struct ctp_tls **out, struct ctp_err *err)
{
	struct ctp_tls *t;
	int n, r;

	if (!cfg || !out)
		return ctp_err_set(err, CTP_E_INVAL, 0, 0, "ctp_tls_new: no configuration");
	*out = NULL;
	if (cfg->keylog && !cfg->allow_keylog)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
		    "TLS key log %s refused: writing session secrets needs the explicit "
		    "allow_keylog debug switch", cfg->keylog);
	n = !!cfg->ca + !!cfg->cert + !!cfg->key;
	if (n != 0 && n != 3)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
		    "certificate mode needs a CA, a certificate and a key (missing:%s%s%s)",
		    cfg->ca ? "" : " CA", cfg->cert ? "" : " certificate", cfg->key ? "" : " key");
	if (ctp_tls_conn_idx < 0 &&
	    (ctp_tls_conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)) < 0)
		return ctp_err_set(err, CTP_E_CRYPTO, 0, 0, "SSL_get_ex_new_index failed");
	if (!(t = calloc(1, sizeof *t)))
		return ctp_err_set(err, CTP_E_NOMEM, 0, 0, "ctp_tls_new: out of memory");
	t->keylog_fd = -1;
	if ((r = ctp_tls_ctx_new(t, 1, &t->client, err)) < 0 ||
	    (r = ctp_tls_ctx_new(t, 0, &t->server, err)) < 0)
		goto fail;
	if (n == 3) {
		if ((r = ctp_tls_ctx_load(t->client, cfg, err)) < 0 ||
		    (r = ctp_tls_ctx_load(t->server, cfg, err)) < 0)
			goto fail;
		t->certs = 1;
	}
	if (cfg->keylog) {
		t->keylog_fd = open(cfg->keylog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (t->keylog_fd < 0) {
			r = ctp_err_set(err, CTP_E_IO, 0, 0, "key log %s: %s", cfg->keylog,
			    strerror(errno));
			goto fail;
		}
		if (!(t->keylog = strdup(cfg->keylog))) {
			r = ctp_err_set(err, CTP_E_NOMEM, 0, 0, "ctp_tls_new: out of memory");
			goto fail;
		}
		SSL_CTX_set_keylog_callback(t->client, ctp_tls_keylog_cb);
		SSL_CTX_set_keylog_callback(t->server, ctp_tls_keylog_cb);
		log_warn("TLS key log on: the secrets of every TLS connection go to %s "
		    "(debugging only; anyone who reads it can decrypt the traffic)", cfg->keylog);
	}
	*out = t;
	return 0;
fail:
	ctp_tls_free(t);
	ERR_clear_error();
	return r;
}

void
ctp_tls_free(struct ctp_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->client);
	SSL_CTX_free(t->server);
	if (t->keylog_fd >= 0)
		close(t->keylog_fd);
	free(t->keylog);
	free(t);
}

int
ctp_tls_has_certs(const struct ctp_tls *t)
{
	return t && t->certs;
}

int
ctp_tls_ssl_new(struct ctp_tls *t, int client, struct ctp_tls_conn *conn, SSL **out,
    struct ctp_err *err)
{
	SSL *ssl;
	BIO *rbio, *wbio;

	*out = NULL;
	if (!conn->psk && !t->certs)
		return ctp_err_set(err, CTP_E_CONFIG, 0, 0,
		    "no certificates configured and no PSK for this peer");
	ERR_clear_error();
	if (!(ssl = SSL_new(client ? t->client : t->server)))
		goto fail;
	rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(BIO_s_mem());
	if (!rbio || !wbio) {
		BIO_free(rbio);
		BIO_free(wbio);
		goto fail;
	}
	/* An empty read BIO means "wait for more", not end of file. */
	BIO_set_mem_eof_return(rbio, -1);
	SSL_set_bio(ssl, rbio, wbio);
	if (!SSL_set_ex_data(ssl, ctp_tls_conn_idx, conn))
		goto fail;
	if (conn->psk) {
		if (!SSL_set_ciphersuites(ssl, CTP_TLS_PSK_SUITES))
			goto fail;
		SSL_certs_clear(ssl);
	} else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (!conn->identity || !SSL_set1_host(ssl, conn->identity))
			goto fail;
	}
	if (client)
		SSL_set_connect_state(ssl);
	else
		SSL_set_accept_state(ssl);
	*out = ssl;
	return 0;
fail:
	SSL_free(ssl);
	return ctp_err_set(err, CTP_E_CRYPTO, 0, 0, "setting up the TLS connection: %s",
	    ctp_tls_errtext(ERR_get_error()));
}

int
ctp_tls_alpn_ok(SSL *ssl)
{
	const unsigned char *p;
	unsigned int n;

	SSL_get0_alpn_selected(ssl, &p, &n);
	return n == CTP_TLS_ALPN_WIRE_LEN - 1 && memcmp(p, CTP_TLS_ALPN, n) == 0;
}

void
ctp_tls_why(SSL *ssl, const struct ctp_tls_conn *conn, char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	int reason = ERR_GET_REASON(e);

	if (conn && conn->why[0])
		snprintf(buf, len, "%s", conn->why);
	else if (e && ERR_GET_LIB(e) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET)
		/* OpenSSL reports an alert the peer sent as reason 1000 + alert. */
		snprintf(buf, len, "peer refused: %s%s", ctp_tls_errtext(e),
		    !conn || !conn->psk || SSL_is_server(ssl) ? "" :
		    /* what OpenSSL servers answer to a bad binder, an unknown identity */
		    reason == SSL_AD_REASON_OFFSET + SSL_AD_ILLEGAL_PARAMETER ||
		    reason == SSL_AD_REASON_OFFSET + SSL_AD_DECRYPT_ERROR ? " (wrong PSK?)" :
		    reason == SSL_AD_REASON_OFFSET + SSL_AD_HANDSHAKE_FAILURE ?
		    " (PSK identity unknown to the peer?)" : "");
	else if (e && ERR_GET_LIB(e) == ERR_LIB_SSL && reason == SSL_R_BINDER_DOES_NOT_VERIFY)
		snprintf(buf, len, "wrong PSK (the binder does not verify)");
	else if (conn && conn->psk && !conn->psk_offered && SSL_is_server(ssl) && e &&
	    ERR_GET_LIB(e) == ERR_LIB_SSL)
		snprintf(buf, len, "peer offered no PSK (%s)", ctp_tls_errtext(e));
	else if (e)
		snprintf(buf, len, "%s", ctp_tls_errtext(e));
	else
		snprintf(buf, len, "TLS failure without a reason from OpenSSL");
	ERR_clear_error();
}
