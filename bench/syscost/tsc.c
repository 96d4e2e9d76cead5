/*
 * Description: TSC flags from /proc/cpuinfo and calibration of the TSC
 * rate against CLOCK_MONOTONIC_RAW (which, unlike CLOCK_MONOTONIC, is not
 * slewed by NTP, so it measures the same seconds the TSC counts).
 */
#include "bench/syscost/tsc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/syscost/stats.h"

uint64_t tsc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool has_word(const char *line, size_t len, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = 0; i + wl <= len; i++) {
		if ((i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t') &&
		    memcmp(line + i, word, wl) == 0 &&
		    (i + wl == len || line[i + wl] == ' ' || line[i + wl] == '\n'))
			return true;
	}
	return false;
}

void tsc_parse_flags(const char *cpuinfo, struct tsc_info *info)
{
	const char *p = cpuinfo;

	info->present = info->constant = info->nonstop = info->invariant = false;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len > 5 && strncmp(p, "flags", 5) == 0 && (p[5] == ' ' || p[5] == '\t' || p[5] == ':')) {
			const char *colon = memchr(p, ':', len);

			if (colon) {
				const char *v = colon + 1;
				size_t vl = len - (size_t)(v - p);

				info->present = has_word(v, vl, "tsc");
				info->constant = has_word(v, vl, "constant_tsc");
				info->nonstop = has_word(v, vl, "nonstop_tsc");
				info->invariant = info->present && info->constant && info->nonstop;
			}
			return;
		}
		p = nl ? nl + 1 : NULL;
	}
}

static char *read_cpuinfo(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char *buf = NULL;
	size_t cap = 0, len = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (!nb) {
				free(buf);
				buf = NULL;
				goto out;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
out:
	fclose(f);
	return buf;
}

int tsc_probe(const char *cpuinfo, unsigned calib_ms, struct tsc_info *ret_info)
{
	struct tsc_info info = {0};
	char *owned = NULL;
	double rate[5];

	if (!cpuinfo) {
		/* Unreadable under ProcSubset=pid and similar sandboxes: then
		 * invariance is unknown and only the clock is used. */
		owned = read_cpuinfo();
		cpuinfo = owned ? owned : "";
	}
	tsc_parse_flags(cpuinfo, &info);
	free(owned);
#if !defined(__x86_64__) && !defined(__i386__)
	info.present = info.invariant = false;
#endif
	if (info.present) {
		uint64_t slice = (uint64_t)(calib_ms ? calib_ms : 1) * 1000000u / 5;

		for (int i = 0; i < 5; i++) {
			uint64_t n0 = tsc_now_ns(), t0 = tsc_read(), n1, t1;

			do {
				n1 = tsc_now_ns();
			} while (n1 - n0 < slice);
			t1 = tsc_read();
			rate[i] = (double)(t1 - t0) / (double)(n1 - n0);
		}
		info.ticks_per_ns = stats_median(rate, 5);
	}
	*ret_info = info;
	return 0;
}
