/*
 * Description: the response parser's state machine. Lines (status, header,
 * chunk size, trailer) are found with memchr and only their first
 * RESP_LINE_MAX bytes are kept, which is enough for every header we act on;
 * body bytes are only counted.
 */
#include "bench/loadgen/resp.h"

#include <string.h>
#include <strings.h>

enum {
	RS_STATUS,      /* status line */
	RS_HEADER,      /* header lines until the empty one */
	RS_BODY,        /* remaining bytes of a Content-Length body */
	RS_UNTIL_CLOSE, /* body ends when the peer closes */
	RS_CHUNK_SIZE,  /* chunk-size line */
	RS_CHUNK_DATA,  /* remaining bytes of a chunk */
	RS_CHUNK_CRLF,  /* CRLF after chunk data */
	RS_TRAILER,     /* trailer lines until the empty one */
	RS_DONE,
};

void resp_init(struct resp *r, bool head)
{
	r->state = RS_STATUS;
	r->status = 0;
	r->chunked = false;
	r->have_length = false;
	r->conn_close = false;
	r->head = head;
	r->http10 = false;
	r->content_length = 0;
	r->remaining = 0;
	r->body_bytes = 0;
	r->head_len = 0;
	r->line_len = 0;
	r->last = 0;
}

bool resp_started(const struct resp *r)
{
	return r->state != RS_STATUS || r->line_len > 0;
}

/* Header name comparison: name is lower case, NUL-terminated. */
static bool resp_name_is(const char *line, size_t n, const char *name)
{
	size_t l = strlen(name);

	return n == l && strncasecmp(line, name, l) == 0;
}

static const char *resp_trim(const char *s, const char *end, const char **ret_end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*ret_end = end;
	return s;
}

/* Does the comma-separated list [v, end) contain token tok? */
static bool resp_has_token(const char *v, const char *end, const char *tok)
{
	size_t tl = strlen(tok);

	while (v < end) {
		const char *c = memchr(v, ',', (size_t)(end - v));
		const char *e = c ? c : end, *te;
		const char *t = resp_trim(v, e, &te);

		if ((size_t)(te - t) == tl && strncasecmp(t, tok, tl) == 0)
			return true;
		v = c ? c + 1 : end;
	}
	return false;
}

static int resp_status_line(struct resp *r, const char *l, size_t n)
{
	int st;

	/* "HTTP/1.x SSS" then optionally " reason" */
	if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
		return RESP_ERROR;
	if (l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9')
		return RESP_ERROR;
	if (n > 12 && l[12] != ' ')
		return RESP_ERROR;
	st = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	r->status = st;
	r->http10 = l[7] == '0';
	r->conn_close = r->http10;
	return 0;
}

static int resp_header_line(struct resp *r, const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n), *v, *ve;
	size_t nl;

	if (!colon || colon == l)
		return RESP_ERROR;
	nl = (size_t)(colon - l);
	if (memchr(l, ' ', nl) || memchr(l, '\t', nl))
		return RESP_ERROR;
	v = resp_trim(colon + 1, l + n, &ve);

	if (resp_name_is(l, nl, "content-length")) {
		uint64_t cl = 0;
		const char *p;

		if (v == ve)
			return RESP_ERROR;
		for (p = v; p < ve; p++) {
			if (*p < '0' || *p > '9')
				return RESP_ERROR;
			if (cl > (UINT64_MAX - 9) / 10)
				return RESP_ERROR;
			cl = cl * 10 + (uint64_t)(*p - '0');
		}
		if (r->have_length && cl != r->content_length)
			return RESP_ERROR; /* conflicting lengths: smuggling territory */
		r->have_length = true;
		r->content_length = cl;
	} else if (resp_name_is(l, nl, "transfer-encoding")) {
		if (resp_has_token(v, ve, "chunked"))
			r->chunked = true;
		else
			return RESP_ERROR; /* codings we cannot delimit */
	} else if (resp_name_is(l, nl, "connection")) {
		if (resp_has_token(v, ve, "close"))
			r->conn_close = true;
		else if (resp_has_token(v, ve, "keep-alive"))
			r->conn_close = false;
	}
	return 0;
}

/* All headers seen: decide how the body is delimited. */
static int resp_headers_done(struct resp *r)
{
	if (r->status >= 100 && r->status < 200) {
		/* interim response (e.g. 103): the real one follows */
		bool head = r->head;

		resp_init(r, head);
		return 0;
	}
	if (r->head || r->status == 204 || r->status == 304) {
		r->state = RS_DONE;
	} else if (r->chunked) {
		r->state = RS_CHUNK_SIZE;
	} else if (r->have_length) {
		r->remaining = r->content_length;
		r->state = r->remaining ? RS_BODY : RS_DONE;
	} else {
		r->state = RS_UNTIL_CLOSE;
		r->conn_close = true;
	}
	return 0;
}

static int resp_chunk_size(struct resp *r, const char *l, size_t n)
{
	uint64_t sz = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = l[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (sz >> 60)
			return RESP_ERROR;
		sz = sz << 4 | d;
	}
	if (i == 0)
		return RESP_ERROR;
	if (i < n && l[i] != ';' && l[i] != ' ' && l[i] != '\t')
		return RESP_ERROR;
	r->remaining = sz;
	r->state = sz ? RS_CHUNK_DATA : RS_TRAILER;
	return 0;
}

/* One complete line (without CRLF, only the kept part in r->line). */
static int resp_line(struct resp *r)
{
	size_t n = r->line_len;
	const char *l = r->line;

	if (n > RESP_LINE_MAX) {
		/* Long lines are fine when we do not need their content. */
		if (r->state == RS_HEADER || r->state == RS_TRAILER)
			n = RESP_LINE_MAX;
		else
			return RESP_ERROR;
	}
	switch (r->state) {
	case RS_STATUS:
		if (resp_status_line(r, l, n) < 0)
			return RESP_ERROR;
		r->state = RS_HEADER;
		return 0;
	case RS_HEADER:
		if (n == 0)
			return resp_headers_done(r);
		if (r->line_len > RESP_LINE_MAX) {
			/* Only names we never act on may be truncated safely. */
			const char *colon = memchr(l, ':', n);

			if (!colon)
				return RESP_ERROR;
			if (resp_name_is(l, (size_t)(colon - l), "content-length") ||
			    resp_name_is(l, (size_t)(colon - l), "transfer-encoding"))
				return RESP_ERROR;
			return 0;
		}
		return resp_header_line(r, l, n);
	case RS_CHUNK_SIZE:
		return resp_chunk_size(r, l, n);
	case RS_CHUNK_CRLF:
		if (n != 0)
			return RESP_ERROR;
		r->state = RS_CHUNK_SIZE;
		return 0;
	case RS_TRAILER:
		if (n == 0)
			r->state = RS_DONE;
		return 0;
	}
	return RESP_ERROR;
}

ssize_t resp_parse(struct resp *r, const char *buf, size_t len)
{
	size_t off = 0;

	if (r->state == RS_DONE)
		return 0;
	while (off < len) {
		switch (r->state) {
		case RS_BODY:
		case RS_CHUNK_DATA: {
			size_t take = len - off;

			if ((uint64_t)take > r->remaining)
				take = (size_t)r->remaining;
			r->remaining -= take;
			r->body_bytes += take;
			off += take;
			if (!r->remaining)
				r->state = r->state == RS_BODY ? RS_DONE : RS_CHUNK_CRLF;
			break;
		}
		case RS_UNTIL_CLOSE:
			r->body_bytes += len - off;
			off = len;
			break;
		default: {
			/* a line: status, header, chunk size, chunk CRLF or trailer */
			const char *nl = memchr(buf + off, '\n', len - off);
			size_t seg = nl ? (size_t)(nl - (buf + off)) : len - off;
			size_t keep, limit;

			limit = r->state == RS_CHUNK_SIZE || r->state == RS_CHUNK_CRLF ||
						r->state == RS_TRAILER
					? RESP_CHUNK_LINE_MAX
					: RESP_HEAD_MAX;
			if (r->line_len < RESP_LINE_MAX) {
				keep = RESP_LINE_MAX - r->line_len;
				if (keep > seg)
					keep = seg;
				memcpy(r->line + r->line_len, buf + off, keep);
			}
			r->line_len += seg;
			if (seg)
				r->last = buf[off + seg - 1];
			if (r->state == RS_STATUS || r->state == RS_HEADER) {
				r->head_len += seg + (nl ? 1 : 0);
				if (r->head_len > RESP_HEAD_MAX)
					return RESP_ERROR;
			} else if (r->line_len > limit) {
				return RESP_ERROR;
			}
			off += seg;
			if (!nl)
				break;
			off++; /* the '\n' */
			/* the line must end in CRLF; strip the CR */
			if (r->line_len == 0 || r->last != '\r')
				return RESP_ERROR;
			r->line_len--;
			if (resp_line(r) < 0)
				return RESP_ERROR;
			r->line_len = 0;
			break;
		}
		}
		if (r->state == RS_DONE)
			return (ssize_t)off;
	}
	return RESP_INCOMPLETE;
}

int resp_eof(struct resp *r)
{
	if (r->state == RS_UNTIL_CLOSE) {
		r->state = RS_DONE;
		return 0;
	}
	return RESP_ERROR;
}
