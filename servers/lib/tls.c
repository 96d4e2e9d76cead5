/*
 * Description: building the server SSL_CTX.
 */
#include "servers/lib/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "servers/lib/log.h"

#define TLS_MAX_KEY_FILE (1 << 20)

static const unsigned char alpn_http11[] = "\x08http/1.1";

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, alpn_http11, sizeof(alpn_http11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK; /* e.g. h2 only: go on without ALPN */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Reads path whole into a fresh buffer (*ret, *ret_len); the caller wipes and frees it. */
static int read_file(const char *path, unsigned char **ret, size_t *ret_len)
{
	unsigned char *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > TLS_MAX_KEY_FILE) {
		r = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	*ret = buf;
	*ret_len = got;
	buf = NULL;
	r = 0;
out:
	if (buf) {
		explicit_bzero(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return r;
}

int tls_ctx_new(const char *key_path, const char *cert_path, SSL_CTX **ret)
{
	unsigned char *keybuf = NULL;
	size_t keylen = 0;
	EVP_PKEY *pkey = NULL;
	SSL_CTX *ctx = NULL;
	BIO *bio = NULL;
	int r;

	r = read_file(key_path, &keybuf, &keylen);
	if (r < 0) {
		log_errno(__func__, r, "cannot read key %s", key_path);
		goto out;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		log_ssl(__func__, "SSL_CTX_new");
		r = -ENOMEM;
		goto out;
	}
	bio = BIO_new_mem_buf(keybuf, (int)keylen);
	if (!bio) {
		log_ssl(__func__, "BIO_new_mem_buf");
		r = -ENOMEM;
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (!pkey) {
		log_ssl(__func__, "no PEM private key in %s", key_path);
		r = -EINVAL;
		goto out;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		log_ssl(__func__, "cannot load certificate chain %s", cert_path);
		r = -EINVAL;
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl(__func__, "key %s does not match certificate %s", key_path, cert_path);
		r = -EINVAL;
		goto out;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
		log_ssl(__func__, "cannot set protocol versions");
		r = -EINVAL;
		goto out;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Resumption: an in-memory session cache for TLS 1.2 session ids, and
	 * tickets (on by default) for both versions. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, 20480);
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"lunchd", 6) != 1) {
		log_ssl(__func__, "SSL_CTX_set_session_id_context");
		r = -EINVAL;
		goto out;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	*ret = ctx;
	ctx = NULL;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	if (keybuf) {
		explicit_bzero(keybuf, keylen);
		free(keybuf);
	}
	SSL_CTX_free(ctx);
	return r;
}
