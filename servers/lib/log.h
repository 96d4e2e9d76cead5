/*
 * Description: logging for the servers. Lines go to stderr (the journal under
 * systemd) as "PROGRAM: function: message". Callers pass __func__ first, the
 * way OpenBSD httpd does, so every line says where it came from.
 */
#ifndef SERVERS_LOG_H
#define SERVERS_LOG_H

/* Sets the program name printed at the start of each line (not copied). */
void log_init(const char *progname);

/* Prints "PROGRAM: FUNC: message\n" to stderr. Safe from any thread. */
void log_msg(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like log_msg, followed by ": " and strerror(errnum) (errnum may be negative). */
void log_errno(const char *func, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Logs the OpenSSL error queue after a message, then clears the queue. */
void log_ssl(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The program name given to log_init ("lunchd" before). */
const char *log_progname(void);

#endif
