/*
 * Description: an incremental HTTP/1.1 response parser. It is fed the bytes
 * of a connection in whatever pieces they arrive, keeps a few hundred bytes
 * of state, never allocates and never keeps a pointer into the caller's
 * buffer. It skips bodies (Content-Length, chunked, or until close) without
 * copying them. One struct resp follows one response at a time; resp_parse
 * stops at the end of a response so pipelined responses are parsed by calling
 * it again on the rest.
 */
#ifndef BENCH_LOADGEN_RESP_H
#define BENCH_LOADGEN_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RESP_LINE_MAX 256       /* bytes of a header line kept for inspection */
#define RESP_HEAD_MAX 65536     /* status line + headers, else an error */
#define RESP_CHUNK_LINE_MAX 1024

#define RESP_ERROR (-1)
#define RESP_INCOMPLETE (-2)

struct resp {
	int state;
	int status;            /* valid once the status line is parsed */
	bool chunked;
	bool have_length;
	bool conn_close;       /* "Connection: close" seen, or HTTP/1.0 w/o keep-alive */
	bool head;             /* response to HEAD: no body whatever the headers say */
	bool http10;
	uint64_t content_length;
	uint64_t remaining;    /* body or chunk bytes left */
	uint64_t body_bytes;   /* body bytes seen (chunk payload for chunked) */
	size_t head_len;       /* bytes of status line + headers so far */
	size_t line_len;       /* bytes of the current line (may exceed the kept part) */
	char last;             /* last byte of the current line seen so far */
	char line[RESP_LINE_MAX];
};

/* Prepares r for the next response. head: the request was HEAD. */
void resp_init(struct resp *r, bool head);

/*
 * Feeds len bytes. Returns the number of bytes consumed when the response is
 * complete (the rest belongs to the next response), RESP_INCOMPLETE when all
 * of buf was consumed and more is needed, RESP_ERROR on malformed input (the
 * connection is unusable then).
 */
ssize_t resp_parse(struct resp *r, const char *buf, size_t len);

/*
 * The peer closed the connection. Returns 0 when that completes the response
 * (a body delimited by close), RESP_ERROR otherwise.
 */
int resp_eof(struct resp *r);

/* True once the status line has been seen: bytes of this response arrived. */
bool resp_started(const struct resp *r);

#endif
