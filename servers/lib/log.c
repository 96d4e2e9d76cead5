/*
 * Description: stderr logging with the program and function name on each
 * line. One vsnprintf into a stack buffer and one write(2), so lines from
 * different worker threads never interleave.
 */
#include "servers/lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

static const char *progname = "lunchd";

void log_init(const char *name)
{
	if (name)
		progname = name;
}

const char *log_progname(void)
{
	return progname;
}

static void log_write(const char *func, const char *suffix, const char *fmt, va_list ap)
{
	char line[1024];
	int n, m;

	n = snprintf(line, sizeof(line), "%s: %s: ", progname, func);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m > 0)
		n += m;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	if (suffix) {
		m = snprintf(line + n, sizeof(line) - 1 - (size_t)n, "%s", suffix);
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof(line) - 1)
			n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* Nothing useful can be done when stderr is gone. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void log_msg(const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(func, NULL, fmt, ap);
	va_end(ap);
}

void log_errno(const char *func, int errnum, const char *fmt, ...)
{
	char suffix[160];
	va_list ap;

	if (errnum < 0)
		errnum = -errnum;
	snprintf(suffix, sizeof(suffix), ": %s", strerror(errnum));
	va_start(ap, fmt);
	log_write(func, suffix, fmt, ap);
	va_end(ap);
}

void log_ssl(const char *func, const char *fmt, ...)
{
	char suffix[300] = ": ";
	unsigned long e = ERR_get_error();
	va_list ap;

	if (e)
		ERR_error_string_n(e, suffix + 2, sizeof(suffix) - 2);
	else
		snprintf(suffix, sizeof(suffix), ": (no OpenSSL error queued)");
	ERR_clear_error();
	va_start(ap, fmt);
	log_write(func, suffix, fmt, ap);
	va_end(ap);
}
