/*
 * Description: the option walker and parse_uint (see opt.h). Reads argv,
 * never writes it, and keeps no state outside struct opt_parser.
 */
#include "common/opt.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

void opt_init(struct opt_parser *p, const struct opt *opts, unsigned flags, int argc,
	      char **argv)
{
	*p = (struct opt_parser){ .opts = opts, .flags = flags, .argc = argc, .argv = argv,
				  .next = 1 };
}

static int opt_fail(struct opt_parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int opt_fail(struct opt_parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->cluster = NULL;
	p->next = p->argc; /* called again, it ends */
	return -EINVAL;
}

static bool is_short(int key)
{
	return (key >= 'a' && key <= 'z') || (key >= 'A' && key <= 'Z') ||
	       (key >= '0' && key <= '9');
}

/* The option whose long name is name[0..len), or with OPT_PREFIX begins so. */
static const struct opt *find_long(const struct opt_parser *p, const char *name, size_t len,
				   bool *ambiguous)
{
	const struct opt *o, *found = NULL;

	*ambiguous = false;
	for (o = p->opts; len && o->key; o++) {
		if (!o->name || strncmp(o->name, name, len) != 0)
			continue;
		if (!o->name[len])
			return o;
		if (!(p->flags & OPT_PREFIX))
			continue;
		if (found && found->key != o->key)
			*ambiguous = true;
		found = o;
	}
	return *ambiguous ? NULL : found;
}

/* arg is "--name[=value]" (or "-name" with OPT_ONE_DASH); name points past the dashes. */
static int next_long(struct opt_parser *p, const char *arg, const char *name)
{
	const char *eq = p->flags & OPT_EQUALS ? strchr(name, '=') : NULL;
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	int shown = (int)(name - arg + (ptrdiff_t)len); /* "--name", for messages */
	const struct opt *o;
	bool ambiguous;

	o = find_long(p, name, len, &ambiguous);
	if (ambiguous)
		return opt_fail(p, "option '%.*s' is ambiguous", shown, arg);
	if (!o)
		return opt_fail(p, "unknown option '%.*s'", shown, arg);
	if (o->value) {
		if (eq)
			p->value = eq + 1;
		else if (p->next < p->argc)
			p->value = p->argv[p->next++];
		else
			return opt_fail(p, "option '%.*s' needs a value", shown, arg);
	} else if (eq) {
		return opt_fail(p, "option '%.*s' takes no value", shown, arg);
	}
	return o->key;
}

/* s is what follows the '-' of "-c", or the rest of a cluster "-abc". */
static int next_short(struct opt_parser *p, const char *s)
{
	const struct opt *o;

	p->cluster = NULL;
	if (s[1] && !(p->flags & OPT_CLUSTER))
		return opt_fail(p, "unknown option '-%s'", s);
	for (o = p->opts; o->key; o++)
		if (is_short(o->key) && o->key == (unsigned char)s[0])
			break;
	if (!o->key)
		return opt_fail(p, "unknown option '-%c'", s[0]);
	if (o->value) {
		if (s[1])
			p->value = s + 1;
		else if (p->next < p->argc)
			p->value = p->argv[p->next++];
		else
			return opt_fail(p, "option '-%c' needs a value", s[0]);
	} else if (s[1]) {
		p->cluster = s + 1;
	}
	return o->key;
}

int opt_next(struct opt_parser *p)
{
	const char *a;

	p->value = NULL;
	if (p->cluster)
		return next_short(p, p->cluster);
	if (p->next >= p->argc)
		return OPT_END;
	a = p->argv[p->next++];
	if (!p->operands && (p->flags & OPT_OPERANDS) && strcmp(a, "--") == 0) {
		p->operands = true;
		return opt_next(p);
	}
	if (p->operands || a[0] != '-' || !a[1]) {
		if (!(p->flags & OPT_OPERANDS))
			return opt_fail(p, "unexpected argument '%s'", a);
		p->value = a;
		return OPT_OPERAND;
	}
	if (a[1] == '-')
		return next_long(p, a, a + 2);
	if (p->flags & OPT_ONE_DASH)
		return next_long(p, a, a + 1);
	return next_short(p, a + 1);
}

int parse_uint(const char *s, const char **end, uint64_t min, uint64_t max, uint64_t *ret)
{
	bool over = false;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			over = true;
		else
			v = v * 10 + d;
	}
	if (end)
		*end = s;
	else if (*s)
		return -EINVAL;
	if (over || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}
