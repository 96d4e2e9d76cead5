/*
 * Description: the servers' TLS context: TLS 1.2 and 1.3, ALPN http/1.1,
 * a server-side session cache and session tickets (clients can resume).
 * Key material is read into memory, handed to OpenSSL and wiped.
 */
#ifndef SERVERS_TLS_H
#define SERVERS_TLS_H

#include <openssl/ssl.h>

/*
 * Makes a server SSL_CTX from a PEM private key file and a PEM certificate
 * chain file. The key file's bytes are wiped (explicit_bzero) before return,
 * so after this the process needs no further access to the file. Returns 0
 * and *ret (owned by the caller, SSL_CTX_free), or -errno after logging why.
 */
int tls_ctx_new(const char *key_path, const char *cert_path, SSL_CTX **ret);

#endif
