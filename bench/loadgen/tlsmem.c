/*
 * Description: OpenSSL 3 client over memory BIOs. Sessions for --resume are
 * captured with the new-session callback because TLS 1.3 tickets arrive
 * after the handshake, inside the application data stream.
 */
#include "bench/loadgen/tlsmem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>

static void tlsmem_note(struct tlsmem_ctx *t, const char *what)
{
	unsigned long e = ERR_peek_error();

	if (!t->err[0]) {
		char buf[120];

		if (e)
			ERR_error_string_n(e, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "no OpenSSL error queued");
		snprintf(t->err, sizeof(t->err), "%s: %s", what, buf);
	}
	ERR_clear_error();
}

static int tlsmem_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tlsmem_ctx *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (!t || !t->resume)
		return 0;
	if (t->session)
		SSL_SESSION_free(t->session);
	t->session = sess; /* we keep the reference OpenSSL gave us */
	return 1;
}

int tlsmem_ctx_init(struct tlsmem_ctx *t, const char *cafile, bool resume, int version)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	int r = -ENOMEM;

	memset(t, 0, sizeof(*t));
	t->resume = resume;
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ctx)
		goto err;
	if (!SSL_CTX_set_min_proto_version(t->ctx, version ? version : TLS1_2_VERSION))
		goto err;
	if (version && !SSL_CTX_set_max_proto_version(t->ctx, version))
		goto err;
	if (!SSL_CTX_set_app_data(t->ctx, t))
		goto err;
	if (cafile) {
		if (SSL_CTX_load_verify_locations(t->ctx, cafile, NULL) != 1) {
			r = -EINVAL;
			goto err;
		}
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	}
	if (SSL_CTX_set_alpn_protos(t->ctx, alpn, sizeof(alpn) - 1) != 0)
		goto err;
	if (resume) {
		SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT |
							       SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(t->ctx, tlsmem_new_session);
	} else {
		SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	}
	/* Buffers are released between connections otherwise: keep them. */
	SSL_CTX_clear_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
err:
	ERR_clear_error();
	if (t->ctx)
		SSL_CTX_free(t->ctx);
	t->ctx = NULL;
	return r;
}

void tlsmem_ctx_free(struct tlsmem_ctx *t)
{
	if (t->session)
		SSL_SESSION_free(t->session);
	if (t->ctx)
		SSL_CTX_free(t->ctx);
	t->session = NULL;
	t->ctx = NULL;
}

int tlsmem_init(struct tlsmem *c, struct tlsmem_ctx *t)
{
	memset(c, 0, sizeof(*c));
	c->ssl = SSL_new(t->ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		if (c->ssl)
			SSL_free(c->ssl);
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		memset(c, 0, sizeof(*c));
		ERR_clear_error();
		return -ENOMEM;
	}
	/* an empty memory BIO means "retry", not end of file */
	BIO_set_mem_eof_return(c->rbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	return 0;
}

void tlsmem_free(struct tlsmem *c)
{
	if (c->ssl)
		SSL_free(c->ssl); /* frees both BIOs */
	memset(c, 0, sizeof(*c));
}

int tlsmem_start(struct tlsmem *c, struct tlsmem_ctx *t, const char *sni)
{
	/*
	 * We never send close_notify. Without this, SSL_clear takes the old
	 * connection for a failed one and marks its session (the very one
	 * --resume wants to offer next) as not resumable.
	 */
	SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	if (SSL_clear(c->ssl) != 1)
		goto err;
	(void)BIO_reset(c->rbio);
	(void)BIO_reset(c->wbio);
	/* SSL_clear may keep the old session: replace it explicitly. */
	if (SSL_set_session(c->ssl, t->resume ? t->session : NULL) != 1)
		goto err;
	if (sni && SSL_set_tlsext_host_name(c->ssl, sni) != 1)
		goto err;
	SSL_set_connect_state(c->ssl);
	return 0;
err:
	tlsmem_note(t, "start");
	return -EPROTO;
}

int tlsmem_handshake(struct tlsmem *c, struct tlsmem_ctx *t)
{
	int r = SSL_do_handshake(c->ssl);

	if (r == 1)
		return 0;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return TLSMEM_RETRY;
	default:
		tlsmem_note(t, "handshake");
		return -EPROTO;
	}
}

bool tlsmem_resumed(const struct tlsmem *c)
{
	return SSL_session_reused(c->ssl) == 1;
}

int tlsmem_feed(struct tlsmem *c, const void *buf, size_t len)
{
	while (len) {
		int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
		int n = BIO_write(c->rbio, buf, chunk);

		if (n <= 0)
			return -ENOMEM;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

size_t tlsmem_pending(const struct tlsmem *c)
{
	return BIO_ctrl_pending(c->wbio);
}

size_t tlsmem_take(struct tlsmem *c, void *buf, size_t size)
{
	int n;

	if (size > (1u << 30))
		size = 1u << 30;
	n = BIO_read(c->wbio, buf, (int)size);
	return n > 0 ? (size_t)n : 0;
}

int tlsmem_read(struct tlsmem *c, struct tlsmem_ctx *t, void *buf, size_t size)
{
	size_t got = 0;
	int r = SSL_read_ex(c->ssl, buf, size, &got);

	if (r == 1)
		return (int)got;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		return -ECONNRESET;
	default:
		tlsmem_note(t, "read");
		return -EPROTO;
	}
}

int tlsmem_write(struct tlsmem *c, struct tlsmem_ctx *t, const void *buf, size_t len)
{
	size_t done = 0;

	if (SSL_write_ex(c->ssl, buf, len, &done) != 1 || done != len) {
		tlsmem_note(t, "write");
		return -EPROTO;
	}
	return 0;
}
