/*
 * Description: the one flag vocabulary of the three lunchd servers.
 *
 *   --listen ADDR:PORT | [V6ADDR]:PORT | unix:PATH
 *   --key PATH, --cert PATH (also -key, -certificate, --certificate, and the
 *     NAME=VALUE spelling, as in the seed's "-key=${CREDENTIALS_DIRECTORY}/key.pem")
 *   --user NAME, --workers N, --content DIR, --seccomp, --max-conns N,
 *   --timeout-ms MS, --help
 *
 * Every flag is accepted with one or two dashes. A program says which flags
 * it takes; any other is a usage error.
 */
#ifndef SERVERS_OPTS_H
#define SERVERS_OPTS_H

#include <stdbool.h>

enum {
	OPTS_TLS = 1 << 0,     /* --key, --cert */
	OPTS_USER = 1 << 1,    /* --user */
	OPTS_SECCOMP = 1 << 2, /* --seccomp */
};

#define OPTS_MAX_WORKERS   64
#define OPTS_MAX_CONNS     65536
#define OPTS_DEFAULT_CONNS 1024
#define OPTS_DEFAULT_TIMEOUT_MS 10000

struct server_opts {
	const char *listen;  /* borrowed from argv or the spec's default */
	const char *key;     /* NULL when not given */
	const char *cert;
	const char *user;
	const char *content; /* NULL: /file/ answers 404 */
	unsigned workers;    /* 1..OPTS_MAX_WORKERS */
	unsigned max_conns;  /* open connections at once, all workers together */
	unsigned timeout_ms; /* handshake + request head, and keep-alive idle time */
	unsigned work_us;    /* CPU time spent on every request (calibration), 0 none */
	bool seccomp;
};

struct opts_spec {
	const char *prog;           /* e.g. "lunchd-drop" */
	const char *summary;        /* one paragraph printed by --help */
	const char *default_listen; /* e.g. "[::]:443" */
	unsigned flags;             /* OPTS_* this program accepts */
};

/*
 * Fills *ret from argv (defaults first). Returns 0 to run, 1 when --help was
 * printed to stdout (exit 0), or -EINVAL after printing a clear message to
 * stderr (exit 2). *ret borrows argv's strings.
 */
int opts_parse(const struct opts_spec *spec, int argc, char **argv, struct server_opts *ret);

/* Prints the --help text of spec to stdout. */
void opts_usage(const struct opts_spec *spec);

#endif
