/*
 * Description: TLS client over memory BIOs. OpenSSL never touches a socket:
 * ciphertext from the network is pushed in with tlsmem_feed, ciphertext to
 * send is pulled out with tlsmem_take, and the engine moves both through
 * io_uring. One struct tlsmem_ctx per thread (its own SSL_CTX, so no lock is
 * shared), one struct tlsmem per connection slot, reused across connections.
 *
 * Certificates are NOT verified unless a CA file is given: loadgen measures
 * servers, it does not authenticate them.
 */
#ifndef BENCH_LOADGEN_TLSMEM_H
#define BENCH_LOADGEN_TLSMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#define TLSMEM_RETRY 1 /* needs more input from the peer */

struct tlsmem_ctx {
	SSL_CTX *ctx;
	SSL_SESSION *session; /* the newest ticket, for --resume; owned */
	bool resume;
	char err[160];        /* the first TLS error seen, for diagnostics */
};

struct tlsmem {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
};

/*
 * Makes the per-thread context. cafile: verify the peer against it (NULL: no
 * verification). resume: offer the last session ticket on new connections.
 * version: 0 for TLS 1.2 or 1.3, else the only version allowed
 * (TLS1_2_VERSION or TLS1_3_VERSION).
 * Returns 0 or -EINVAL (bad CA file) / -ENOMEM.
 */
int tlsmem_ctx_init(struct tlsmem_ctx *t, const char *cafile, bool resume, int version);
void tlsmem_ctx_free(struct tlsmem_ctx *t);

/* Allocates the SSL object of a connection slot (start-up only). */
int tlsmem_init(struct tlsmem *c, struct tlsmem_ctx *t);
void tlsmem_free(struct tlsmem *c);

/*
 * Prepares the slot for a new connection to sni (NULL for an IP address):
 * clears the SSL state and both BIOs, offers the cached session when
 * resuming. Returns 0 or -EPROTO.
 */
int tlsmem_start(struct tlsmem *c, struct tlsmem_ctx *t, const char *sni);

/* Drives the handshake: 0 done, TLSMEM_RETRY wants input, -EPROTO failed. */
int tlsmem_handshake(struct tlsmem *c, struct tlsmem_ctx *t);

/* True when the completed handshake resumed a session. */
bool tlsmem_resumed(const struct tlsmem *c);

/* Hands len ciphertext bytes from the network to OpenSSL (copied). 0 or -ENOMEM. */
int tlsmem_feed(struct tlsmem *c, const void *buf, size_t len);

/* Bytes of ciphertext waiting to be sent. */
size_t tlsmem_pending(const struct tlsmem *c);

/* Moves up to size bytes of ciphertext into buf; returns the count. */
size_t tlsmem_take(struct tlsmem *c, void *buf, size_t size);

/*
 * Decrypts into buf: > 0 bytes, 0 needs more input, -ECONNRESET the peer sent
 * close_notify, -EPROTO failed.
 */
int tlsmem_read(struct tlsmem *c, struct tlsmem_ctx *t, void *buf, size_t size);

/* Encrypts all len bytes (the memory BIO takes everything). 0 or -EPROTO. */
int tlsmem_write(struct tlsmem *c, struct tlsmem_ctx *t, const void *buf, size_t len);

#endif
