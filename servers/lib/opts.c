/*
 * Description: the servers' flags, walked by common/opt. Table driven so
 * that --help, the accepted spellings and the per-program flag set cannot
 * drift apart.
 */
#include "servers/lib/opts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "common/opt.h"
#include "servers/lib/route.h"

enum opt_id { O_LISTEN = 256, O_KEY, O_CERT, O_USER, O_WORKERS, O_CONTENT, O_SECCOMP,
	      O_MAXCONNS, O_TIMEOUT, O_WORK, O_HELP = 'h' };

struct opt_def {
	enum opt_id id;
	const char *name;
	const char *alias; /* another accepted spelling, or NULL */
	unsigned need;     /* OPTS_* bit required, 0 = every program */
	bool has_arg;
	const char *help;
};

static const struct opt_def defs[] = {
	{ O_LISTEN, "listen", NULL, 0, true,
	  "ADDR:PORT, [V6ADDR]:PORT or unix:PATH to listen on when no socket is passed" },
	{ O_KEY, "key", NULL, OPTS_TLS, true, "PEM private key (read once, then wiped from memory)" },
	{ O_CERT, "cert", "certificate", OPTS_TLS, true, "PEM certificate chain" },
	{ O_USER, "user", NULL, OPTS_USER, true,
	  "user to drop to after binding and loading the key (required as root)" },
	{ O_WORKERS, "workers", NULL, 0, true, "worker threads, one event loop each (default 1)" },
	{ O_CONTENT, "content", NULL, 0, true, "directory served under /file/NAME" },
	{ O_SECCOMP, "seccomp", NULL, OPTS_SECCOMP, false,
	  "install a seccomp allow-list once started (killed on any other syscall)" },
	{ O_MAXCONNS, "max-conns", NULL, 0, true,
	  "open connections at once; more are closed on accept (default 1024)" },
	{ O_TIMEOUT, "timeout-ms", NULL, 0, true,
	  "time for the TLS handshake and a request head, and keep-alive idle time (default 10000)" },
	{ O_WORK, "work-per-request", NULL, 0, true,
	  "USEC of CPU time spent on every request before it is answered (default 0): a known "
	  "cost, to calibrate measurements" },
	{ O_HELP, "help", NULL, 0, false, "print this help" },
};

void opts_usage(const struct opts_spec *spec)
{
	printf("usage: %s [options]\n\n%s\n\noptions (one or two dashes; --NAME VALUE or --NAME=VALUE):\n",
	       spec->prog, spec->summary);
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		const struct opt_def *d = &defs[i];
		char names[64];

		if (d->need && !(spec->flags & d->need))
			continue;
		snprintf(names, sizeof(names), "--%s%s%s%s", d->name, d->alias ? ", --" : "",
			 d->alias ? d->alias : "", d->has_arg ? " VALUE" : "");
		printf("  %-28s %s\n", names, d->help);
	}
	printf("  %-28s %s\n", "--version", "print the version and exit");
	printf("\ndefault --listen: %s\n"
	       "routes: GET|HEAD /  /bytes/N  /file/NAME  /work/USEC  /healthz\n",
	       spec->default_listen);
}

#define NDEFS (sizeof(defs) / sizeof(defs[0]))

/* The walker's table: spec's options under each of their names, and -h. */
static void opts_table(const struct opts_spec *spec, struct opt *t)
{
	size_t n = 0;

	for (size_t i = 0; i < NDEFS; i++) {
		const struct opt_def *d = &defs[i];

		if (d->need && !(spec->flags & d->need))
			continue;
		t[n++] = (struct opt){ d->name, (int)d->id, d->has_arg };
		if (d->alias)
			t[n++] = (struct opt){ d->alias, (int)d->id, d->has_arg };
	}
	t[n++] = (struct opt){ "h", O_HELP, false };
	t[n] = (struct opt){ 0 };
}

static const struct opt_def *def_of(int id)
{
	for (size_t i = 0; i < NDEFS; i++)
		if ((int)defs[i].id == id)
			return &defs[i];
	return NULL;
}

static int number(const struct opts_spec *spec, const char *name, const char *s, unsigned min,
		  unsigned max, unsigned *ret)
{
	uint64_t v;

	if (parse_uint(s, NULL, min, max, &v) < 0) {
		fprintf(stderr, "%s: --%s must be a number from %u to %u, got '%s'\n", spec->prog,
			name, min, max, s);
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

int opts_parse(const struct opts_spec *spec, int argc, char **argv, struct server_opts *ret)
{
	struct server_opts o = {
		.listen = spec->default_listen,
		.workers = 1,
		.max_conns = OPTS_DEFAULT_CONNS,
		.timeout_ms = OPTS_DEFAULT_TIMEOUT_MS,
	};
	struct opt table[2 * NDEFS + 2];
	struct opt_parser p;
	int id, r = 0;

	opts_table(spec, table);
	opt_init(&p, table, OPT_EQUALS | OPT_ONE_DASH, argc, argv);
	while ((id = opt_next(&p)) != OPT_END) {
		const struct opt_def *d;
		const char *val = p.value;

		if (id < 0) {
			fprintf(stderr, "%s: %s (try --help)\n", spec->prog, p.err);
			return -EINVAL;
		}
		d = def_of(id);
		if (val && !val[0]) {
			fprintf(stderr, "%s: --%s needs a value (try --help)\n", spec->prog,
				d->name);
			return -EINVAL;
		}
		switch (d->id) {
		case O_LISTEN: o.listen = val; break;
		case O_KEY: o.key = val; break;
		case O_CERT: o.cert = val; break;
		case O_USER: o.user = val; break;
		case O_CONTENT: o.content = val; break;
		case O_SECCOMP: o.seccomp = true; break;
		case O_WORKERS:
			r = number(spec, d->name, val, 1, OPTS_MAX_WORKERS, &o.workers);
			break;
		case O_MAXCONNS:
			r = number(spec, d->name, val, 1, OPTS_MAX_CONNS, &o.max_conns);
			break;
		case O_TIMEOUT:
			r = number(spec, d->name, val, 10, 3600 * 1000, &o.timeout_ms);
			break;
		case O_WORK:
			r = number(spec, d->name, val, 0, ROUTE_MAX_WORK_US, &o.work_us);
			break;
		case O_HELP:
			opts_usage(spec);
			return 1;
		}
		if (r < 0)
			return r;
	}

	if (spec->flags & OPTS_TLS) {
		if (!o.key || !o.cert) {
			fprintf(stderr, "%s: --key and --cert are required (try --help)\n",
				spec->prog);
			return -EINVAL;
		}
	}
	if (o.max_conns < o.workers) {
		fprintf(stderr, "%s: --max-conns (%u) must be at least --workers (%u)\n",
			spec->prog, o.max_conns, o.workers);
		return -EINVAL;
	}
	*ret = o;
	return 0;
}
