/*
 * Description: command-line parsing for loadgen, strict on purpose: a
 * benchmark that silently measures something other than what was asked is
 * worse than one that refuses to start.
 */
#include "bench/loadgen/opts.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/ssl.h>

#include "common/opt.h"

enum {
	OPT_CLOSE = 256,
	OPT_RESUME,
	OPT_WARMUP,
	OPT_TIMEOUT,
	OPT_PIPELINE,
	OPT_JSON,
	OPT_CPU,
	OPT_CACERT,
	OPT_NO_MULTISHOT,
	OPT_NO_BATCH,
	OPT_TLS_VERSION,
	OPT_CGROUP,
	OPT_NETNS,
	OPT_THREAD_PER_TARGET,
	OPT_RATE_PER_TARGET,
	OPT_ARRIVALS,
	OPT_SEED,
};

static const struct opt opts_table[] = {
	{ "connections", 'c', true },
	{ "threads", 't', true },
	{ "duration", 'd', true },
	{ "requests", 'n', true },
	{ "rate", 'R', true },
	{ "header", 'H', true },
	{ "close", OPT_CLOSE, false },
	{ "resume", OPT_RESUME, false },
	{ "warmup", OPT_WARMUP, true },
	{ "timeout", OPT_TIMEOUT, true },
	{ "pipeline", OPT_PIPELINE, true },
	{ "json", OPT_JSON, false },
	{ "cpu", OPT_CPU, true },
	{ "cacert", OPT_CACERT, true },
	{ "tls-version", OPT_TLS_VERSION, true },
	{ "cgroup", OPT_CGROUP, true },
	{ "netns", OPT_NETNS, true },
	{ "thread-per-target", OPT_THREAD_PER_TARGET, false },
	{ "rate-per-target", OPT_RATE_PER_TARGET, true },
	{ "arrivals", OPT_ARRIVALS, true },
	{ "seed", OPT_SEED, true },
	{ "no-multishot", OPT_NO_MULTISHOT, false },
	{ "no-batch", OPT_NO_BATCH, false },
	{ "help", 'h', false },
	{ 0 },
};

void opts_usage(FILE *f)
{
	fputs("usage: loadgen [options] URL [URL...]\n"
	      "\n"
	      "HTTP/1.1 load generator: one io_uring per thread, OpenSSL over memory BIOs.\n"
	      "URL is http[s]://HOST[:PORT][/PATH]; HOST a name, an IPv4 address or [IPv6].\n"
	      "Several URLs (up to 16, one scheme) are loaded at the same time: the\n"
	      "connections are dealt out round robin (-c a multiple of the number of URLs),\n"
	      "every target is measured over the same window and reported on its own\n"
	      "(\"targets\" in the JSON); the top-level figures are their sum.\n"
	      "Host names are resolved once, at start, in loadgen's own network namespace.\n"
	      "\n"
	      "Load:\n"
	      "  -c, --connections N   connections, spread over the threads (default 10);\n"
	      "                        more than the open-file limit holds is refused\n"
	      "  -t, --threads N       threads, each with its own ring (default 1); each\n"
	      "                        thread drives every URL unless --thread-per-target\n"
	      "  -d, --duration T      measured time: 10, 10s, 500ms, 2m (default 10s, or\n"
	      "                        unlimited when -n is given)\n"
	      "  -n, --requests N      stop after N requests issued in the measured time; a\n"
	      "                        failed request counts, and so does a connection\n"
	      "                        attempt that fails before it is ready (refused,\n"
	      "                        timed out, TLS failed), so a dead server ends the run\n"
	      "  -R, --rate R          open loop: R requests/s in total on a fixed schedule;\n"
	      "                        with N URLs each gets R/N, all on the same schedule,\n"
	      "                        shifted. Latency counts from the scheduled time\n"
	      "                        (coordinated omission corrected), for each URL; the\n"
	      "                        uncorrected one is reported too. With several URLs and\n"
	      "                        threads (not --thread-per-target) every thread needs\n"
	      "                        a multiple of N connections\n"
	      "      --rate-per-target R  open loop: R requests/s to every URL (-R R*N)\n"
	      "      --arrivals A      open loop: uniform (default: the fixed schedule above)\n"
	      "                        or poisson (each connection a Poisson process of its\n"
	      "                        own, exponential gaps: two targets never keep one\n"
	      "                        phase to each other for a whole run)\n"
	      "      --seed N          poisson: the seed of the gaps (default 1)\n"
	      "      --close           a new TCP (+TLS full handshake) connection per request\n"
	      "      --resume          like --close, resuming the TLS session (https only)\n"
	      "      --pipeline N      N requests back to back per connection (keep-alive,\n"
	      "                        closed loop only; default 1, max 64)\n"
	      "      --warmup T        run T before measuring; not counted (default 0)\n"
	      "      --timeout T       per request, connect and handshake (default 2s; a bare\n"
	      "                        number is milliseconds)\n"
	      "  -H, --header 'N: V'   add a request header (repeatable; Host and Connection\n"
	      "                        replace the defaults)\n"
	      "\n"
	      "TLS:\n"
	      "      --cacert FILE     verify the server against FILE. Without it the server's\n"
	      "                        certificate is NOT verified: loadgen measures, it does\n"
	      "                        not authenticate\n"
	      "      --tls-version V   only TLS 1.2 or only 1.3 (default: either, 1.3 preferred)\n"
	      "\n"
	      "Output and placement:\n"
	      "      --json            print one JSON object (schema sandbench-loadgen/1,\n"
	      "                        see bench/README.md) instead of the summary\n"
	      "      --cpu LIST        pin to CPUs, e.g. 0 or 0,1 or 0-3; thread i gets the\n"
	      "                        i-th CPU of the list (round robin)\n"
	      "      --no-multishot    single-shot recv instead of multishot recv + buffer\n"
	      "                        ring (for measuring what multishot brings)\n"
	      "      --no-batch        closed loop: wake for every completion instead of\n"
	      "                        coalescing them (min_wait 50 us, or half the\n"
	      "                        requests in flight on older kernels); costs CPU,\n"
	      "                        for comparison\n"
	      "      --cgroup DIR[,DIR...]  the server's cgroup directories: their CPU time\n"
	      "                        (cpu.stat, or cpuacct.usage on v1) is read when\n"
	      "                        measuring starts and ends, and reported as server\n"
	      "                        CPU per request, each directory's also on its own.\n"
	      "                        With several URLs give it once per URL, in order;\n"
	      "                        with one URL it may repeat (up to 32 in all)\n"
	      "\n"
	      "Several URLs:\n"
	      "      --thread-per-target  one thread per URL, each with its own ring: thread i\n"
	      "                        drives only URL i's connections, and its own CPU time\n"
	      "                        over the measured window is reported as that target's\n"
	      "                        loadgen CPU (\"loadgen_cpu\"); -t is then the number of\n"
	      "                        URLs. On loopback the receiver's softirq work (TCP,\n"
	      "                        cgroup BPF such as IPAddressDeny=) runs in the sender's\n"
	      "                        context, so part of a server's network cost is there\n"
	      "      --netns FILE[,FILE...]  network namespace of each URL, given once per URL\n"
	      "                        in order (or as one list): every socket to URL i is\n"
	      "                        created after setns() into FILE (/run/netns/NAME,\n"
	      "                        /proc/PID/ns/net), so one address may be loaded in two\n"
	      "                        namespaces at once; an empty FILE is loadgen's own\n"
	      "                        namespace. Needs CAP_SYS_ADMIN; a FILE that cannot be\n"
	      "                        opened or entered ends loadgen with status 1\n"
	      "\n"
	      "  -h, --help            this text\n"
	      "      --version         print the version and exit\n"
	      "\n"
	      "SIGINT or SIGTERM ends the run early and prints the results so far.\n"
	      "Exit status: 0 run completed (errors are in the output), 1 the run could not\n"
	      "start, 2 bad arguments.\n",
	      f);
}

static int opts_fail(char *err, int size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int opts_fail(char *err, int size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, (size_t)size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int opts_number(const char *s, double *ret, char **ret_end)
{
	char *end;
	double v;

	if (!s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	*ret = v;
	*ret_end = end;
	return 0;
}

int opts_duration(const char *s, double *ret)
{
	double v;
	char *end;

	if (opts_number(s, &v, &end) < 0)
		return -EINVAL;
	if (!*end || strcmp(end, "s") == 0)
		;
	else if (strcmp(end, "ms") == 0)
		v /= 1e3;
	else if (strcmp(end, "us") == 0)
		v /= 1e6;
	else if (strcmp(end, "m") == 0)
		v *= 60;
	else if (strcmp(end, "h") == 0)
		v *= 3600;
	else
		return -EINVAL;
	*ret = v;
	return 0;
}

static int opts_cpus(struct lg_opts *o, const char *s)
{
	const char *p = s;

	o->ncpus = 0;
	while (*p) {
		const char *end;
		uint64_t a, b;

		if (parse_uint(p, &end, 0, 4095, &a) < 0)
			return -EINVAL;
		b = a;
		if (*end == '-' && parse_uint(end + 1, &end, a, 4095, &b) < 0)
			return -EINVAL;
		for (; a <= b; a++) {
			if (o->ncpus >= OPTS_CPUS_MAX)
				return -EINVAL;
			o->cpus[o->ncpus++] = (int)a;
		}
		if (*end == ',')
			end++;
		else if (*end)
			return -EINVAL;
		p = end;
	}
	return o->ncpus ? 0 : -EINVAL;
}

static bool opts_header_ok(const char *h)
{
	const char *colon = strchr(h, ':'), *p;

	if (!colon || colon == h)
		return false;
	for (p = h; p < colon; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	for (p = h; *p; p++)
		if (*p == '\r' || *p == '\n')
			return false;
	return true;
}

static bool opts_header_is(const char *h, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(h, name, n) == 0 && h[n] == ':';
}

/*
 * Splits the --netns values at commas into one entry per URL, in order,
 * however they are spread over the options: --netns A --netns B and
 * --netns A,B are the same. An empty entry is loadgen's own namespace.
 */
static int opts_netns(struct lg_opts *o, const char **args, int n, char *err, int size)
{
	struct lg_config *cfg = &o->cfg;
	size_t used = 0;
	uint32_t k = 0;
	int i;

	for (i = 0; i < n; i++) {
		const char *p = args[i];

		for (;;) {
			size_t len = strcspn(p, ",");

			if (k == cfg->ntargets)
				return opts_fail(err, size, "--netns: more namespaces than URLs (%u); give one per URL, in order",
						 cfg->ntargets);
			if (len) {
				if (used + len + 1 > sizeof(o->netns_text))
					return opts_fail(err, size, "--netns: paths too long (%zu bytes in all at most)",
							 sizeof(o->netns_text) - 1);
				memcpy(o->netns_text + used, p, len);
				o->netns_text[used + len] = '\0';
				cfg->target[k].netns = o->netns_text + used;
				used += len + 1;
			}
			k++;
			if (!p[len])
				break;
			p += len + 1;
		}
	}
	if (n && k != cfg->ntargets)
		return opts_fail(err, size, "--netns: %u namespaces for %u URLs; give one per URL, in order (an empty one is loadgen's own)",
				 k, cfg->ntargets);
	return 0;
}

/*
 * Splits the --cgroup values at commas and assigns them to targets: with one
 * URL all are its own, with several there is one value per URL, in order.
 */
static int opts_cgroups(struct lg_opts *o, const char **args, int n, char *err, int size)
{
	size_t used = 0;
	int i;

	if (o->cfg.ntargets > 1 && n && (uint32_t)n != o->cfg.ntargets)
		return opts_fail(err, size, "--cgroup: %d given for %u URLs; give one per URL, in order (DIR or DIR,DIR)",
				 n, o->cfg.ntargets);
	for (i = 0; i < n; i++) {
		const char *p = args[i];

		for (;;) {
			size_t len = strcspn(p, ",");

			if (!len)
				return opts_fail(err, size, "--cgroup: empty directory name in '%s'", args[i]);
			if (o->ncgroups == CGCPU_MAX)
				return opts_fail(err, size, "--cgroup: at most %d cgroups", CGCPU_MAX);
			if (used + len + 1 > sizeof(o->cgroup_text))
				return opts_fail(err, size, "--cgroup: directory names too long");
			memcpy(o->cgroup_text + used, p, len);
			o->cgroup_text[used + len] = '\0';
			o->cgroups[o->ncgroups] = o->cgroup_text + used;
			o->cgroup_target[o->ncgroups++] = o->cfg.ntargets > 1 ? (uint32_t)i : 0;
			used += len + 1;
			if (!p[len])
				break;
			p += len + 1;
		}
	}
	return 0;
}

int opts_parse(struct lg_opts *o, int argc, char **argv, char *err, int size)
{
	struct lg_config *cfg = &o->cfg;
	bool have_d = false, have_t = false, close_opt = false, resume_opt = false;
	bool have_arrivals = false;
	const char *cgargs[LG_TARGETS_MAX * 2], *nsargs[LG_TARGETS_MAX], *urls[LG_TARGETS_MAX];
	int ncgargs = 0, nnsargs = 0, nurls = 0, i, c;
	double rate_per_target = 0;
	struct opt_parser p;
	uint64_t v;
	uint32_t ti;

	memset(o, 0, sizeof(*o));
	cfg->conns = 10;
	cfg->threads = 1;
	cfg->duration_s = 10;
	cfg->timeout_ms = 2000;
	cfg->pipeline = 1;
	cfg->multishot = true;
	cfg->batch = true;
	cfg->mode = LG_KEEPALIVE;
	cfg->home_netns_fd = -1;
	cfg->seed = 1;
	for (ti = 0; ti < LG_TARGETS_MAX; ti++)
		cfg->target[ti].netns_fd = -1;
	opt_init(&p, opts_table, OPT_GETOPT, argc, argv);
	while ((c = opt_next(&p)) != OPT_END) {
		const char *arg = p.value;

		switch (c) {
		case OPT_OPERAND:
			if (nurls < LG_TARGETS_MAX)
				urls[nurls] = arg;
			nurls++;
			break;
		case 'c':
			if (parse_uint(arg, NULL, 1, 60000, &v) < 0)
				return opts_fail(err, size, "-c: connections must be 1..60000, got '%s'", arg);
			cfg->conns = (uint32_t)v;
			break;
		case 't':
			if (parse_uint(arg, NULL, 1, 256, &v) < 0)
				return opts_fail(err, size, "-t: threads must be 1..256, got '%s'", arg);
			cfg->threads = (uint32_t)v;
			have_t = true;
			break;
		case 'd':
			if (opts_duration(arg, &cfg->duration_s) < 0 || cfg->duration_s <= 0 ||
			    cfg->duration_s > 86400)
				return opts_fail(err, size, "-d: duration must be > 0 and <= 24h, like 10, 10s, 500ms, 2m; got '%s'", arg);
			have_d = true;
			break;
		case 'n':
			if (parse_uint(arg, NULL, 1, 1000000000000ull, &v) < 0)
				return opts_fail(err, size, "-n: requests must be a positive integer, got '%s'", arg);
			cfg->requests = v;
			break;
		case 'R': {
			char *end;

			if (opts_number(arg, &cfg->rate, &end) < 0 || *end || cfg->rate <= 0 ||
			    cfg->rate > 1e8)
				return opts_fail(err, size, "-R: rate must be a number of requests/s > 0, got '%s'", arg);
			break;
		}
		case OPT_RATE_PER_TARGET: {
			char *end;

			if (opts_number(arg, &rate_per_target, &end) < 0 || *end ||
			    rate_per_target <= 0 || rate_per_target > 1e8)
				return opts_fail(err, size, "--rate-per-target: must be a number of requests/s > 0, got '%s'", arg);
			break;
		}
		case 'H':
			if (!opts_header_ok(arg))
				return opts_fail(err, size, "-H: header must look like 'Name: value', got '%s'", arg);
			if (o->nheaders >= OPTS_HEADERS_MAX)
				return opts_fail(err, size, "-H: at most %d headers", OPTS_HEADERS_MAX);
			o->headers[o->nheaders++] = arg;
			break;
		case OPT_CLOSE:
			close_opt = true;
			break;
		case OPT_RESUME:
			resume_opt = true;
			break;
		case OPT_WARMUP:
			if (opts_duration(arg, &cfg->warmup_s) < 0 || cfg->warmup_s > 3600)
				return opts_fail(err, size, "--warmup: must be a duration up to 1h, got '%s'", arg);
			break;
		case OPT_TIMEOUT: {
			double t;
			char *end;

			/* a bare number is milliseconds, like wrk2's --timeout in ms */
			if (opts_number(arg, &t, &end) == 0 && !*end)
				t /= 1e3;
			else if (opts_duration(arg, &t) < 0)
				t = -1;
			if (t < 0.001 || t > 3600)
				return opts_fail(err, size, "--timeout: must be 1ms..1h (bare number = ms), got '%s'", arg);
			cfg->timeout_ms = (uint32_t)llround(t * 1e3);
			break;
		}
		case OPT_PIPELINE:
			if (parse_uint(arg, NULL, 1, LG_PIPELINE_MAX, &v) < 0)
				return opts_fail(err, size, "--pipeline: must be 1..%d, got '%s'", LG_PIPELINE_MAX, arg);
			cfg->pipeline = (uint32_t)v;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_CPU:
			if (opts_cpus(o, arg) < 0)
				return opts_fail(err, size, "--cpu: must be a CPU list like 0 or 0,1 or 0-3, got '%s'", arg);
			break;
		case OPT_CACERT:
			cfg->cafile = arg;
			break;
		case OPT_CGROUP:
			if (ncgargs == LG_TARGETS_MAX * 2)
				return opts_fail(err, size, "--cgroup: given too often");
			cgargs[ncgargs++] = arg;
			break;
		case OPT_NETNS:
			if (nnsargs == LG_TARGETS_MAX)
				return opts_fail(err, size, "--netns: given too often");
			nsargs[nnsargs++] = arg;
			break;
		case OPT_THREAD_PER_TARGET:
			cfg->thread_per_target = true;
			break;
		case OPT_TLS_VERSION:
			if (strcmp(arg, "1.2") == 0)
				cfg->tls_version = TLS1_2_VERSION;
			else if (strcmp(arg, "1.3") == 0)
				cfg->tls_version = TLS1_3_VERSION;
			else
				return opts_fail(err, size, "--tls-version: must be 1.2 or 1.3, got '%s'", arg);
			break;
		case OPT_NO_MULTISHOT:
			cfg->multishot = false;
			break;
		case OPT_NO_BATCH:
			cfg->batch = false;
			break;
		case OPT_ARRIVALS:
			if (strcmp(arg, "uniform") == 0)
				cfg->arrivals = SCHED_UNIFORM;
			else if (strcmp(arg, "poisson") == 0)
				cfg->arrivals = SCHED_POISSON;
			else
				return opts_fail(err, size, "--arrivals: uniform or poisson, got '%s'", arg);
			have_arrivals = true;
			break;
		case OPT_SEED:
			if (parse_uint(arg, NULL, 0, UINT64_MAX, &v) < 0)
				return opts_fail(err, size, "--seed: must be a whole number, got '%s'", arg);
			cfg->seed = v;
			break;
		case 'h':
			o->help = true;
			return 0;
		default:
			return opts_fail(err, size, "%s (try --help)", p.err);
		}
	}
	if (!nurls)
		return opts_fail(err, size, "no URL given (try --help)");
	if (nurls > LG_TARGETS_MAX)
		return opts_fail(err, size, "at most %d URLs, got %d", LG_TARGETS_MAX, nurls);
	for (i = 0; i < nurls; i++) {
		struct lg_target *tg = &cfg->target[cfg->ntargets];
		const char *why;

		tg->url_text = urls[i];
		if (url_parse(urls[i], &tg->url, &why) < 0)
			return opts_fail(err, size, "bad URL '%s': %s", urls[i], why);
		if (cfg->ntargets && tg->url.tls != cfg->tls)
			return opts_fail(err, size, "every URL must be http:// or every one https://; '%s' is not like '%s'",
					 urls[i], cfg->target[0].url_text);
		cfg->tls = tg->url.tls;
		cfg->ntargets++;
	}
	if (opts_cgroups(o, cgargs, ncgargs, err, size) < 0)
		return -EINVAL;
	if (opts_netns(o, nsargs, nnsargs, err, size) < 0)
		return -EINVAL;
	if (rate_per_target > 0) {
		if (cfg->rate > 0)
			return opts_fail(err, size, "-R and --rate-per-target exclude each other");
		cfg->rate = rate_per_target * cfg->ntargets;
	}
	if (cfg->thread_per_target) {
		if (have_t && cfg->threads != cfg->ntargets)
			return opts_fail(err, size, "-t %u with --thread-per-target and %u URLs: it runs one thread per URL (leave -t out)",
					 cfg->threads, cfg->ntargets);
		cfg->threads = cfg->ntargets;
	}

	if (close_opt && resume_opt)
		return opts_fail(err, size, "--close and --resume exclude each other");
	if (resume_opt && !cfg->tls)
		return opts_fail(err, size, "--resume needs an https:// URL");
	cfg->mode = close_opt ? LG_CLOSE : resume_opt ? LG_RESUME : LG_KEEPALIVE;
	if (cfg->pipeline > 1 && (cfg->mode != LG_KEEPALIVE || cfg->rate > 0))
		return opts_fail(err, size, "--pipeline works with keep-alive closed loop only");
	if (cfg->conns % cfg->ntargets)
		return opts_fail(err, size, "-c %u is not a multiple of the %u URLs: every target gets as many connections",
				 cfg->conns, cfg->ntargets);
	if (cfg->threads > cfg->conns)
		return opts_fail(err, size, "-t %u is more than -c %u: every thread needs a connection",
				 cfg->threads, cfg->conns);
	if (cfg->cafile && !cfg->tls)
		return opts_fail(err, size, "--cacert needs an https:// URL");
	/*
	 * Open loop: a thread's schedule goes round its connections, so each
	 * target gets the same schedule (shifted) only when every thread has as
	 * many connections to each target, in the same order.
	 */
	for (ti = 0; cfg->rate > 0 && !cfg->thread_per_target && ti < cfg->threads; ti++)
		if (lg_thread_conns(cfg, ti) % cfg->ntargets)
			return opts_fail(err, size, "-R with %u URLs: every thread needs a multiple of %u connections so that each target gets the same schedule; -c %u over -t %u does not split so (use -t 1, --thread-per-target or another -c)",
					 cfg->ntargets, cfg->ntargets, cfg->conns, cfg->threads);
	if (have_arrivals && !(cfg->rate > 0))
		return opts_fail(err, size, "--arrivals needs an open loop (-R or --rate-per-target)");
	if (cfg->tls_version && !cfg->tls)
		return opts_fail(err, size, "--tls-version needs an https:// URL");
	if (cfg->requests && !have_d)
		cfg->duration_s = 0;
	cfg->timeline_cap = cfg->duration_s > 0 ? (uint32_t)ceil(cfg->duration_s) + 1 : 3600;
	for (ti = 0; ti < cfg->ntargets; ti++)
		if (opts_build_request(o, ti, err, size) < 0)
			return -EINVAL;
	return 0;
}

int opts_build_request(struct lg_opts *o, uint32_t t, char *err, int size)
{
	struct lg_config *cfg = &o->cfg;
	struct lg_target *tg = &cfg->target[t];
	char *req = o->request[t];
	bool have_host = false, have_conn = false;
	char host[URL_HOST_MAX + 16];
	size_t len = 0, cap = OPTS_REQUEST_MAX;
	int i, n;

	for (i = 0; i < o->nheaders; i++) {
		have_host |= opts_header_is(o->headers[i], "host");
		have_conn |= opts_header_is(o->headers[i], "connection");
	}
	if (url_host_header(&tg->url, host, sizeof(host)) < 0)
		return opts_fail(err, size, "host name too long");
	/* the path is copied, not printed: req and the URL both live in *o */
	len = strlen(tg->url.path);
	if (len + sizeof("GET  HTTP/1.1\r\n") > cap)
		goto toolong;
	memcpy(req, "GET ", 4);
	memcpy(req + 4, tg->url.path, len);
	memcpy(req + 4 + len, " HTTP/1.1\r\n", sizeof(" HTTP/1.1\r\n"));
	len += sizeof("GET  HTTP/1.1\r\n") - 1;
	if (!have_host) {
		n = snprintf(req + len, cap - len, "Host: %s\r\n", host);
		if (n < 0 || (size_t)n >= cap - len)
			goto toolong;
		len += (size_t)n;
	}
	for (i = 0; i < o->nheaders; i++) {
		n = snprintf(req + len, cap - len, "%s\r\n", o->headers[i]);
		if (n < 0 || (size_t)n >= cap - len)
			goto toolong;
		len += (size_t)n;
	}
	if (!have_conn && cfg->mode != LG_KEEPALIVE) {
		n = snprintf(req + len, cap - len, "Connection: close\r\n");
		if (n < 0 || (size_t)n >= cap - len)
			goto toolong;
		len += (size_t)n;
	}
	if (len + 2 >= cap)
		goto toolong;
	memcpy(req + len, "\r\n", 3);
	len += 2;
	tg->request = req;
	tg->request_len = len;
	return 0;
toolong:
	return opts_fail(err, size, "request longer than %d bytes", OPTS_REQUEST_MAX);
}
