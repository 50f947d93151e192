#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

#define FIELD(obj, s, type) ((type *)((char *)(obj) + (s)->offset))
#define CFIELD(obj, s, type) ((const type *)((const char *)(obj) + (s)->offset))

static const struct {
	const char *suffix;
	uint64_t ns;
} duration_units[] = {
	{ "ns", 1ULL },
	{ "us", 1000ULL },
	{ "ms", 1000000ULL },
	{ "s", 1000000000ULL },
	{ "m", 60ULL * 1000000000ULL },
	{ "h", 3600ULL * 1000000000ULL },
	{ "d", 86400ULL * 1000000000ULL },
};

int parse_duration(const char *s, uint64_t *ns)
{
	uint64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	while (*p) {
		uint64_t v = 0, mult = 0;
		size_t ulen = 0;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			if (v > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			v = v * 10 + (uint64_t)(*p - '0');
			p++;
		}
		/* Longest unit first: "ms" before "m". */
		for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
			size_t l = strlen(duration_units[i].suffix);

			if (!strncmp(p, duration_units[i].suffix, l) && l > ulen) {
				ulen = l;
				mult = duration_units[i].ns;
			}
		}
		if (!mult)
			return -EINVAL;
		p += ulen;
		if (v > UINT64_MAX / mult || total > UINT64_MAX - v * mult)
			return -ERANGE;
		total += v * mult;
	}
	*ns = total;
	return 0;
}

int format_duration(char *buf, size_t size, uint64_t ns)
{
	static const struct {
		const char *suffix;
		uint64_t ns;
	} parts[] = {
		{ "h", 3600ULL * 1000000000ULL }, { "m", 60ULL * 1000000000ULL }, { "s", 1000000000ULL },
		{ "ms", 1000000ULL }, { "us", 1000ULL }, { "ns", 1ULL },
	};
	size_t o = 0;

	if (!size)
		return 0;
	buf[0] = '\0';
	if (ns == 0)
		return snprintf(buf, size, "0");
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && ns; i++) {
		uint64_t v = ns / parts[i].ns;

		if (!v)
			continue;
		ns -= v * parts[i].ns;
		o += snprintf(buf + (o < size ? o : size - 1), o < size ? size - o : 1, "%" PRIu64 "%s", v,
			      parts[i].suffix);
	}
	return (int)o;
}

int parse_size(const char *s, uint64_t *bytes)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	switch (toupper((unsigned char)*p)) {
	case '\0':
		break;
	case 'K':
		mult = 1ULL << 10;
		break;
	case 'M':
		mult = 1ULL << 20;
		break;
	case 'G':
		mult = 1ULL << 30;
		break;
	case 'T':
		mult = 1ULL << 40;
		break;
	case 'B':
		p--; /* "100B" */
		break;
	default:
		return -EINVAL;
	}
	if (*p)
		p++;
	/* "10M", "10MB", "10MiB", "100B" */
	if ((p[0] == 'i' || p[0] == 'I') && mult > 1)
		p++;
	if (p[0] == 'B' || p[0] == 'b')
		p++;
	if (*p)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*bytes = v * mult;
	return 0;
}

int format_size(char *buf, size_t size, uint64_t bytes)
{
	static const char units[] = "TGMK";
	static const int shifts[] = { 40, 30, 20, 10 };

	for (int i = 0; i < 4; i++) {
		uint64_t m = 1ULL << shifts[i];

		if (bytes >= m && bytes % m == 0)
			return snprintf(buf, size, "%" PRIu64 "%c", bytes / m, units[i]);
	}
	return snprintf(buf, size, "%" PRIu64, bytes);
}

int parse_bool(const char *s, bool *v)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*v = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*v = false;
			return 0;
		}
	}
	return -EINVAL;
}

int parse_int(const char *s, int64_t *v, int base)
{
	char *end;
	long long r;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	r = strtoll(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*v = r;
	return 0;
}

/* Brackets must close, and a trailing backslash escapes nothing. */
static bool glob_valid(const char *g)
{
	for (const char *p = g; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return false;
			p++;
		} else if (*p == '[') {
			const char *q = p + 1;

			if (*q == '!' || *q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']')
				q++;
			if (!*q)
				return false;
			p = q;
		}
	}
	return true;
}

const struct setting *settings__find(const struct setting *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(tab[i].name, name))
			return &tab[i];
	}
	return NULL;
}

static void fmt_number(const struct setting *s, int64_t v, char *buf, size_t size)
{
	switch (s->type) {
	case SET_DURATION:
		format_duration(buf, size, (uint64_t)v);
		break;
	case SET_SIZE:
		format_size(buf, size, (uint64_t)v);
		break;
	case SET_OCTAL:
		snprintf(buf, size, v ? "0%" PRIo64 : "%" PRIo64, (uint64_t)v);
		break;
	default:
		snprintf(buf, size, "%" PRId64, v);
	}
}

static bool has_range(const struct setting *s)
{
	return s->min != 0 || s->max != 0;
}

static const char *what(const struct setting *s)
{
	switch (s->type) {
	case SET_BOOL:
		return "not a boolean (use true or false)";
	case SET_INT:
		return "not an integer";
	case SET_OCTAL:
		return "not an octal number (like 0660)";
	case SET_DURATION:
		return "not a duration (like 500ms, 10s, 2m, 1h)";
	case SET_SIZE:
		return "not a size (like 4096, 64K, 10M, 1G)";
	case SET_GLOB:
		return "not a valid glob (unclosed '[' or trailing '\\')";
	case SET_PID:
		return "not a PID (a positive number)";
	default:
		return "not valid";
	}
}

/* Value for messages: printable and short ("..." when cut). */
static void quote(char *buf, size_t size, const char *v)
{
	const char *p = v;
	size_t o = 0;

	/* Room for one escape (4) and "..." (3) and the NUL. */
	for (; *p && o + 8 <= size; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (*p)
		o += (size_t)snprintf(buf + o, size - o, "...");
	buf[o] = '\0';
}

int settings__set(const struct setting *s, void *obj, const char *value, char *err, size_t errlen)
{
	char q[96];
	int64_t v = 0;
	uint64_t u;
	int r = 0;

	quote(q, sizeof(q), value ? value : "");
	if (!value) {
		snprintf(err, errlen, "%s: missing value", s->name);
		return -EINVAL;
	}
	switch (s->type) {
	case SET_BOOL: {
		bool b;

		if (parse_bool(value, &b)) {
			snprintf(err, errlen, "%s: '%s' is %s", s->name, q, what(s));
			return -EINVAL;
		}
		*FIELD(obj, s, bool) = b;
		return 0;
	}
	case SET_INT:
	case SET_OCTAL:
		r = parse_int(value, &v, s->type == SET_OCTAL ? 8 : 10);
		break;
	case SET_PID:
		r = parse_int(value, &v, 10);
		if (r == -EINVAL || (!r && value[0] == '-')) {
			snprintf(err, errlen, "%s: invalid PID '%s' (a positive number)", s->name, q);
			return -EINVAL;
		}
		break;
	case SET_DURATION:
	case SET_SIZE:
		r = s->type == SET_DURATION ? parse_duration(value, &u) : parse_size(value, &u);
		if (!r && u > INT64_MAX)
			r = -ERANGE;
		v = (int64_t)u;
		break;
	case SET_ENUM:
		for (int i = 0; s->choices && s->choices[i]; i++) {
			if (!strcmp(value, s->choices[i])) {
				*FIELD(obj, s, int) = i;
				return 0;
			}
		}
		{
			char list[256] = "";
			size_t o = 0;

			for (int i = 0; s->choices && s->choices[i] && o < sizeof(list); i++)
				o += snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", s->choices[i]);
			snprintf(err, errlen, "%s: '%s' is not one of %s", s->name, q, list);
		}
		return -EINVAL;
	case SET_GLOB:
		if (!glob_valid(value)) {
			snprintf(err, errlen, "%s: '%s' is %s", s->name, q, what(s));
			return -EINVAL;
		}
		/* fallthrough */
	case SET_STRING: {
		char **dst = FIELD(obj, s, char *);
		char *dup = strdup(value);

		if (!dup) {
			snprintf(err, errlen, "%s: out of memory", s->name);
			return -ENOMEM;
		}
		if (s->check && s->check(s, &dup, err, errlen)) {
			char reason[256];

			snprintf(reason, sizeof(reason), "%s", err);
			snprintf(err, errlen, "%s: '%s' %s", s->name, q, reason);
			free(dup);
			return -EINVAL;
		}
		free(*dst);
		*dst = dup;
		return 0;
	}
	}
	if (!r && s->type == SET_DURATION && v == 0 && s->min > 0) {
		snprintf(err, errlen, "%s: '%s' is not a duration above 0 (like 500ms, 10s, 2m)", s->name, q);
		return -EINVAL;
	}
	if (r == -ERANGE || (!r && has_range(s) && (v < s->min || v > s->max))) {
		char lo[32], hi[32];

		if (!has_range(s)) {
			snprintf(err, errlen, "%s: '%s' is too large", s->name, q);
			return -EINVAL;
		}
		fmt_number(s, s->min, lo, sizeof(lo));
		fmt_number(s, s->max, hi, sizeof(hi));
		snprintf(err, errlen, "%s: %s is out of range %s..%s", s->name, q, lo, hi);
		return -EINVAL;
	}
	if (r) {
		snprintf(err, errlen, "%s: '%s' is %s", s->name, q, what(s));
		return -EINVAL;
	}
	if (s->check && s->check(s, &v, err, errlen)) {
		char reason[256];

		snprintf(reason, sizeof(reason), "%s", err);
		snprintf(err, errlen, "%s: %s %s", s->name, q, reason);
		return -EINVAL;
	}
	if (s->type == SET_DURATION || s->type == SET_SIZE)
		*FIELD(obj, s, uint64_t) = (uint64_t)v;
	else
		*FIELD(obj, s, int64_t) = v;
	return 0;
}

int settings__format(const struct setting *s, const void *obj, char *buf, size_t size)
{
	switch (s->type) {
	case SET_BOOL:
		return snprintf(buf, size, "%s", *CFIELD(obj, s, bool) ? "true" : "false");
	case SET_INT:
	case SET_PID:
	case SET_OCTAL: {
		int64_t v = *CFIELD(obj, s, int64_t);

		fmt_number(s, v, buf, size);
		return (int)strlen(buf);
	}
	case SET_DURATION:
		return format_duration(buf, size, *CFIELD(obj, s, uint64_t));
	case SET_SIZE:
		return format_size(buf, size, *CFIELD(obj, s, uint64_t));
	case SET_STRING:
	case SET_GLOB: {
		const char *v = *CFIELD(obj, s, char *);

		return snprintf(buf, size, "%s", v ? v : "");
	}
	case SET_ENUM: {
		int i = *CFIELD(obj, s, int);

		return snprintf(buf, size, "%s", s->choices ? s->choices[i] : "?");
	}
	}
	return snprintf(buf, size, "?");
}

void settings__free(const struct setting *tab, size_t n, void *obj)
{
	for (size_t i = 0; i < n; i++) {
		if (tab[i].type == SET_STRING || tab[i].type == SET_GLOB) {
			char **p = FIELD(obj, &tab[i], char *);

			free(*p);
			*p = NULL;
		}
	}
}

/* Bytes of a setting's field that is not a string (0 for a string: it is owned). */
static size_t scalar_size(const struct setting *s)
{
	switch (s->type) {
	case SET_BOOL:
		return sizeof(bool);
	case SET_INT:
	case SET_PID:
	case SET_OCTAL:
		return sizeof(int64_t);
	case SET_DURATION:
	case SET_SIZE:
		return sizeof(uint64_t);
	case SET_ENUM:
		return sizeof(int);
	case SET_STRING:
	case SET_GLOB:
		break;
	}
	return 0;
}

int settings__copy(const struct setting *tab, size_t n, void *dst, const void *src)
{
	for (size_t i = 0; i < n; i++) {
		const struct setting *s = &tab[i];
		size_t size = scalar_size(s);

		if (size) {
			memcpy(FIELD(dst, s, char), CFIELD(src, s, char), size);
		} else {
			const char *v = *CFIELD(src, s, char *);
			char **d = FIELD(dst, s, char *);
			char *dup = v ? strdup(v) : NULL;

			if (v && !dup)
				return -ENOMEM;
			free(*d);
			*d = dup;
		}
	}
	return 0;
}

int settings__defaults(const struct setting *tab, size_t n, void *obj, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const struct setting *s = &tab[i];
		size_t size = scalar_size(s);
		int r;

		if (s->def) {
			r = settings__set(s, obj, s->def, err, errlen);
			if (r)
				return r;
		} else if (size) {
			memset(FIELD(obj, s, char), 0, size);
		} else {
			free(*FIELD(obj, s, char *));
			*FIELD(obj, s, char *) = NULL;
		}
	}
	return 0;
}

/* "--min-count" names "min_count". */
static bool flag_is(const char *arg, size_t len, const char *name)
{
	size_t i = 0;

	for (; i < len && name[i]; i++) {
		char c = name[i] == '_' ? '-' : name[i];

		if (arg[i] != c)
			return false;
	}
	return i == len && !name[i];
}

int settings__match_flag(const struct setting *tab, size_t n, int argc, char **argv, int *i,
			 const struct setting **out, const char **value, char *err, size_t errlen)
{
	const char *arg = argv[*i], *eq;
	size_t len;
	bool negated = false;

	if (strncmp(arg, "--", 2) || !arg[2])
		return 0;
	arg += 2;
	eq = strchr(arg, '=');
	len = eq ? (size_t)(eq - arg) : strlen(arg);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < n; k++) {
			const struct setting *s = &tab[k];

			if (pass == 1 && (s->type != SET_BOOL || len < 3 || strncmp(arg, "no-", 3)))
				continue;
			if (!flag_is(pass ? arg + 3 : arg, pass ? len - 3 : len, s->name))
				continue;
			negated = pass == 1;
			*out = s;
			if (s->type == SET_BOOL && !eq) {
				*value = negated ? "false" : "true";
				return 1;
			}
			if (negated) {
				snprintf(err, errlen, "--no-%s takes no value", arg + 3);
				return -EINVAL;
			}
			if (eq) {
				*value = eq + 1;
				return 1;
			}
			if (*i + 1 >= argc) {
				snprintf(err, errlen, "option '--%.*s' needs a value", (int)len, arg);
				return -EINVAL;
			}
			*value = argv[++*i];
			return 1;
		}
	}
	return 0;
}

static const char *metavar(const struct setting *s)
{
	if (s->metavar)
		return s->metavar;
	switch (s->type) {
	case SET_BOOL:
		return "BOOL";
	case SET_INT:
		return "N";
	case SET_PID:
		return "PID";
	case SET_OCTAL:
		return "MODE";
	case SET_DURATION:
		return "DURATION";
	case SET_SIZE:
		return "SIZE";
	case SET_GLOB:
		return "GLOB";
	case SET_ENUM:
		return "CHOICE";
	default:
		return "STRING";
	}
}

static void print_one(FILE *f, const struct setting *s, enum settings_help_style style, bool negatable,
		      unsigned int cmd)
{
	char left[96], extra[160] = "";
	size_t o = 0;

	if (style == SETTINGS_HELP_FLAGS) {
		char flag[64], sh[8] = "    ";
		size_t k = 0;

		for (; s->name[k] && k + 1 < sizeof(flag); k++)
			flag[k] = s->name[k] == '_' ? '-' : s->name[k];
		flag[k] = '\0';
		if (s->short_name)
			snprintf(sh, sizeof(sh), "-%c, ", s->short_name);
		if (s->type == SET_BOOL)
			snprintf(left, sizeof(left), "%s--%s%s", sh, negatable ? "[no-]" : "", flag);
		else
			snprintf(left, sizeof(left), "%s--%s %s", sh, flag, metavar(s));
	} else {
		snprintf(left, sizeof(left), "%s = %s", s->name, metavar(s));
	}
	if (s->type == SET_ENUM && s->choices) {
		o += snprintf(extra + o, sizeof(extra) - o, "; one of");
		for (int c = 0; s->choices[c] && o < sizeof(extra); c++)
			o += snprintf(extra + o, sizeof(extra) - o, " %s", s->choices[c]);
	}
	if (s->nodef_cmds & cmd)
		o += snprintf(extra + o, sizeof(extra) - o, "; default none");
	else if (s->def && *s->def && s->type != SET_BOOL && o < sizeof(extra))
		o += snprintf(extra + o, sizeof(extra) - o, "; default %s", s->def);
	if (has_range(s) && o < sizeof(extra)) {
		char lo[32], hi[32];

		fmt_number(s, s->min, lo, sizeof(lo));
		fmt_number(s, s->max, hi, sizeof(hi));
		snprintf(extra + o, sizeof(extra) - o, "; %s..%s", lo, hi);
	}
	if (strlen(left) >= 26)
		fprintf(f, "  %s\n  %-26s %s%s%s%s\n", left, "", s->help, extra[0] ? " (" : "",
			extra[0] ? extra + 2 : "", extra[0] ? ")" : "");
	else
		fprintf(f, "  %-26s %s%s%s%s\n", left, s->help, extra[0] ? " (" : "", extra[0] ? extra + 2 : "",
			extra[0] ? ")" : "");
}

void settings__print_help(FILE *f, const struct setting *tab, size_t n, enum settings_help_style style)
{
	for (size_t i = 0; i < n; i++)
		print_one(f, &tab[i], style, true, 0);
}

void settings__print_flags(FILE *f, const struct setting *tab, size_t n, unsigned int cmd)
{
	for (size_t i = 0; i < n; i++) {
		if (tab[i].cmds & cmd)
			print_one(f, &tab[i], SETTINGS_HELP_FLAGS, false, cmd);
	}
}

/* "min_count: ..." from settings__set, as the flag: "--min-count: ...". */
static void flag_message(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "--%s", msg);
	for (char *p = err + 2; *p && *p != ':'; p++) {
		if (*p == '_')
			*p = '-';
	}
}

int settings__set_flag(const struct setting *s, void *obj, const char *value, char *err, size_t errlen)
{
	char msg[512];

	if (settings__set(s, obj, value, msg, sizeof(msg))) {
		flag_message(err, errlen, msg);
		return -EINVAL;
	}
	return 0;
}

static int parse_argv(const struct settings_group *g, size_t ng, unsigned int cmd, int argc, char **argv,
		      int *npos, bool until_arg, char *err, size_t errlen)
{
	const char *bad = "";
	bool flags = true, seen[8][64] = { { false } };
	int kept = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r = 0;

		bad = a;
		if (!flags || a[0] != '-' || !a[1]) {
			argv[kept++] = argv[i];
			if (until_arg)
				flags = false;
			continue;
		}
		if (!strcmp(a, "--")) {
			flags = false;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		if (a[1] != '-') {
			/* -p PID, -pPID */
			for (size_t k = 0; k < ng && !r; k++) {
				for (size_t j = 0; j < g[k].n && !r; j++) {
					const struct setting *s = &g[k].tab[j];
					const char *v;

					if (!(s->cmds & cmd) || s->short_name != a[1])
						continue;
					r = 1;
					if (s->type == SET_BOOL) {
						if (a[2])
							goto unknown;
						v = "true";
					} else if (a[2]) {
						v = a + 2;
					} else if (i + 1 < argc) {
						v = argv[++i];
					} else {
						snprintf(err, errlen, "option '-%c' needs a value", a[1]);
						return -EINVAL;
					}
					if (settings__set_flag(s, g[k].obj, v, err, errlen))
						return -EINVAL;
					if (k < 8 && j < 64)
						seen[k][j] = true;
				}
			}
			if (!r)
				goto unknown;
			continue;
		}
		for (size_t k = 0; k < ng && !r; k++) {
			const struct setting *s;
			const char *v;

			/* Only this command's flags: match against a copy filtered by cmd. */
			for (size_t j = 0; j < g[k].n && !r; j++) {
				if (!(g[k].tab[j].cmds & cmd))
					continue;
				r = settings__match_flag(&g[k].tab[j], 1, argc, argv, &i, &s, &v, err, errlen);
				if (r < 0)
					return -EINVAL;
				if (r > 0 && settings__set_flag(s, g[k].obj, v, err, errlen))
					return -EINVAL;
				if (r > 0 && k < 8 && j < 64)
					seen[k][j] = true;
			}
		}
		if (!r)
			goto unknown;
	}
	for (size_t k = 0; k < ng && k < 8; k++) {
		for (size_t j = 0; j < g[k].n && j < 64; j++) {
			const struct setting *s = &g[k].tab[j];

			if (!(s->required & cmd) || seen[k][j])
				continue;
			if (s->short_name)
				snprintf(err, errlen, "missing -%c %s", s->short_name, metavar(s));
			else
				snprintf(err, errlen, "missing --%s %s", s->name, metavar(s));
			return -EINVAL;
		}
	}
	if (!npos && kept > 1) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[1]);
		return -EINVAL;
	}
	if (npos)
		*npos = kept - 1;
	return 0;
unknown:
	snprintf(err, errlen, "unknown option '%.*s'", (int)strcspn(bad, "="), bad);
	return -EINVAL;
}

int settings__parse_argv(const struct settings_group *g, size_t ng, unsigned int cmd, int argc, char **argv,
			 int *npos, char *err, size_t errlen)
{
	return parse_argv(g, ng, cmd, argc, argv, npos, false, err, errlen);
}

int settings__parse_argv_until_arg(const struct settings_group *g, size_t ng, unsigned int cmd, int argc,
				   char **argv, int *npos, char *err, size_t errlen)
{
	return parse_argv(g, ng, cmd, argc, argv, npos, true, err, errlen);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	}
	return true;
}

#define INI_LINE_MAX 4096

int ini__parse(FILE *f, ini_cb cb, void *cookie, int *errline, char *err, size_t errlen)
{
	char buf[INI_LINE_MAX + 2], section[256] = "", arg[256] = "";
	bool have_section = false;
	int line = 0, r;

	*errline = 0;
	for (;;) {
		size_t len = 0;
		char *p, *eq, *key, *val;
		int c = EOF;

		/* Byte by byte, so that a NUL byte is seen (fgets would hide it). */
		while (len < sizeof(buf) - 1 && (c = getc(f)) != EOF) {
			buf[len++] = (char)c;
			if (c == '\n')
				break;
		}
		if (!len)
			break;
		buf[len] = '\0';
		line++;
		*errline = line;
		if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
			snprintf(err, errlen, "line longer than %d bytes", INI_LINE_MAX);
			return -EINVAL;
		}
		if (strlen(buf) != len) {
			snprintf(err, errlen, "NUL byte in line (a config is text)");
			return -EINVAL;
		}
		if (line == 1 && !strncmp(buf, "\xef\xbb\xbf", 3))
			memmove(buf, buf + 3, strlen(buf + 3) + 1);
		p = trim(buf);
		if (!*p || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			char *end = strchr(p, ']'), *sp;

			if (!end || *trim(end + 1)) {
				snprintf(err, errlen, "expected '[section]' or '[section NAME]'");
				return -EINVAL;
			}
			*end = '\0';
			p = trim(p + 1);
			sp = strpbrk(p, " \t");
			arg[0] = '\0';
			if (sp) {
				*sp = '\0';
				snprintf(arg, sizeof(arg), "%s", trim(sp + 1));
				if (strlen(trim(sp + 1)) >= sizeof(arg)) {
					snprintf(err, errlen, "section name too long");
					return -EINVAL;
				}
				if (arg[0] == '"') {
					size_t al = strlen(arg);

					if (al < 2 || arg[al - 1] != '"') {
						snprintf(err, errlen, "unterminated quote in section name");
						return -EINVAL;
					}
					memmove(arg, arg + 1, al - 2);
					arg[al - 2] = '\0';
				}
			}
			if (!valid_name(p) || strlen(p) >= sizeof(section)) {
				snprintf(err, errlen, "bad section name '%.64s'", p);
				return -EINVAL;
			}
			snprintf(section, sizeof(section), "%s", p);
			have_section = true;
			r = cb(cookie, section, arg, NULL, NULL, line, err, errlen);
			if (r)
				return r;
			continue;
		}
		eq = strchr(p, '=');
		if (!eq) {
			snprintf(err, errlen, "expected 'key = value' or '[section]'");
			return -EINVAL;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		if (!valid_name(key)) {
			snprintf(err, errlen, "bad setting name '%.64s'", key);
			return -EINVAL;
		}
		if (*val == '"') {
			char *end = strrchr(val + 1, '"');

			if (!end) {
				snprintf(err, errlen, "%s: unterminated quote", key);
				return -EINVAL;
			}
			if (*trim(end + 1) && *trim(end + 1) != '#' && *trim(end + 1) != ';') {
				snprintf(err, errlen, "%s: text after the closing quote", key);
				return -EINVAL;
			}
			*end = '\0';
			val++;
		} else {
			for (char *c = val; *c; c++) {
				if ((*c == '#' || *c == ';') && c > val && (c[-1] == ' ' || c[-1] == '\t')) {
					*c = '\0';
					val = trim(val);
					break;
				}
			}
		}
		if (!have_section) {
			snprintf(err, errlen, "%s: setting before any [section]", key);
			return -EINVAL;
		}
		r = cb(cookie, section, arg, key, val, line, err, errlen);
		if (r)
			return r;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "read error: %s", strerror(errno));
		return -EIO;
	}
	*errline = 0;
	return 0;
}
