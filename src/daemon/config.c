#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "daemon/config.h"
#include "util/file.h"
#include "util/log.h"
#include "util/settings.h"

enum section { SEC_NONE = 0, SEC_DAEMON, SEC_OUTPUT, SEC_DEFAULTS, SEC_TARGET };

struct parse_state {
	struct config *c;
	enum section sec;
	struct target_cfg *t;
};

static void target_cfg_free(struct target_cfg *t)
{
	free(t->name);
	settings__free(select_settings, select_settings_n, t);
}

void config__free(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	settings__free(daemon_settings, daemon_settings_n, &c->daemon);
	settings__free(output_settings, output_settings_n, &c->output);
	settings__free(rule_settings, rule_settings_n, &c->defaults);
	for (size_t i = 0; i < c->ntargets; i++)
		target_cfg_free(&c->targets[i]);
	free(c->targets);
	free(c);
}

static bool valid_target_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 64)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	}
	return true;
}

static struct target_cfg *add_target(struct config *c, const char *name, int line, char *err, size_t errlen)
{
	struct target_cfg *t;

	if (c->ntargets >= CONFIG_MAX_TARGETS) {
		snprintf(err, errlen, "target %s: more than %d [target] sections", name, CONFIG_MAX_TARGETS);
		return NULL;
	}
	for (size_t i = 0; i < c->ntargets; i++) {
		if (!strcmp(c->targets[i].name, name)) {
			if (c->targets[i].line)
				snprintf(err, errlen, "target %s: already defined at line %d", name,
					 c->targets[i].line);
			else
				snprintf(err, errlen, "target %s: already defined on the command line", name);
			return NULL;
		}
	}
	t = realloc(c->targets, (c->ntargets + 1) * sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->targets = t;
	t = &c->targets[c->ntargets];
	memset(t, 0, sizeof(*t));
	t->name = strdup(name);
	if (!t->name) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->line = line;
	c->ntargets++;
	return t;
}

static int set_target_key(struct target_cfg *t, const char *key, const char *value, char *err, size_t errlen)
{
	const struct setting *s = settings__find(select_settings, select_settings_n, key);

	if (s)
		return settings__set(s, t, value, err, errlen);
	s = settings__find(rule_settings, rule_settings_n, key);
	if (s) {
		int r = settings__set(s, &t->rules, value, err, errlen);

		if (!r)
			t->rules_set |= 1u << (s - rule_settings);
		return r;
	}
	snprintf(err, errlen, "%s: unknown setting in [target %s] (known: exe, unit, pid, cgroup, container, "
		 "grace, min_count, retention, max_nodes, stuck_min)",
		 key, t->name);
	return -EINVAL;
}

static int on_ini(void *cookie, const char *section, const char *arg, const char *key, const char *value,
		  int line, char *err, size_t errlen)
{
	struct parse_state *ps = cookie;
	const struct setting *tab = NULL, *s;
	size_t n = 0;
	void *obj = NULL;
	const char *secname = section;

	if (!key) {
		static const struct {
			const char *name;
			enum section sec;
		} secs[] = { { "daemon", SEC_DAEMON }, { "output", SEC_OUTPUT },
			     { "defaults", SEC_DEFAULTS }, { "target", SEC_TARGET } };

		ps->sec = SEC_NONE;
		for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
			if (!strcmp(section, secs[i].name))
				ps->sec = secs[i].sec;
		}
		if (ps->sec == SEC_NONE) {
			snprintf(err, errlen, "[%s]: unknown section (expected daemon, output, defaults or target NAME)",
				 section);
			return -EINVAL;
		}
		if (ps->sec == SEC_TARGET) {
			if (!*arg) {
				snprintf(err, errlen, "[target]: needs a name, as in [target myapp]");
				return -EINVAL;
			}
			if (!valid_target_name(arg)) {
				snprintf(err, errlen, "[target %.64s]: a name is 1-64 letters, digits, '-', '_' or '.'",
					 arg);
				return -EINVAL;
			}
			ps->t = add_target(ps->c, arg, line, err, errlen);
			return ps->t ? 0 : -EINVAL;
		}
		if (*arg) {
			snprintf(err, errlen, "[%s %.64s]: this section takes no name", section, arg);
			return -EINVAL;
		}
		return 0;
	}
	switch (ps->sec) {
	case SEC_DAEMON:
		tab = daemon_settings;
		n = daemon_settings_n;
		obj = &ps->c->daemon;
		break;
	case SEC_OUTPUT:
		tab = output_settings;
		n = output_settings_n;
		obj = &ps->c->output;
		break;
	case SEC_DEFAULTS:
		tab = rule_settings;
		n = rule_settings_n;
		obj = &ps->c->defaults;
		break;
	case SEC_TARGET:
		return set_target_key(ps->t, key, value, err, errlen);
	default:
		snprintf(err, errlen, "%s: setting outside a known section", key);
		return -EINVAL;
	}
	s = settings__find(tab, n, key);
	if (!s) {
		char known[512];
		size_t o = 0;

		known[0] = '\0';
		for (size_t i = 0; i < n && o < sizeof(known); i++)
			o += snprintf(known + o, sizeof(known) - o, "%s%s", i ? ", " : "", tab[i].name);
		snprintf(err, errlen, "%s: unknown setting in [%s] (known: %s)", key, secname, known);
		return -EINVAL;
	}
	return settings__set(s, obj, value, err, errlen);
}

int config__match_flag(int argc, char **argv, int *i, struct config_flag *out, char *err, size_t errlen)
{
	static const struct {
		const struct setting *tab;
		const size_t *n;
	} tabs[] = {
		{ daemon_settings, &daemon_settings_n },
		{ output_settings, &output_settings_n },
		{ rule_settings, &rule_settings_n },
		{ select_settings, &select_settings_n },
	};

	for (size_t k = 0; k < sizeof(tabs) / sizeof(tabs[0]); k++) {
		int r = settings__match_flag(tabs[k].tab, *tabs[k].n, argc, argv, i, &out->s, &out->value, err,
					     errlen);

		if (r) {
			out->tab = tabs[k].tab;
			out->tab_n = *tabs[k].n;
			return r;
		}
	}
	return 0;
}

static int validate(struct config *c, const char *where, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->ntargets; i++) {
		struct target_cfg *t = &c->targets[i];

		if (!t->exe && !t->unit && !t->pid && !t->cgroup && !t->container) {
			if (t->line)
				snprintf(err, errlen, "%s:%d: target %s: needs exe, unit, pid, cgroup or container", where, t->line,
					 t->name);
			else
				snprintf(err, errlen, "--exe, --unit or --pid is needed with the target's rule flags");
			return -EINVAL;
		}
	}
	return 0;
}

struct config *config__load(const char *path, bool optional, const struct config_flag *flags, size_t nflags,
			    char *err, size_t errlen)
{
	struct config *c = calloc(1, sizeof(*c));
	struct parse_state ps = { .c = c };
	struct target_cfg *cl = NULL;
	char msg[512];
	FILE *f = NULL;
	int line, r;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (settings__defaults(daemon_settings, daemon_settings_n, &c->daemon, err, errlen) ||
	    settings__defaults(output_settings, output_settings_n, &c->output, err, errlen) ||
	    settings__defaults(rule_settings, rule_settings_n, &c->defaults, err, errlen))
		goto fail;
	if (path) {
		/* A FIFO would block the daemon, /dev/zero feed it forever. */
		f = file_fopen_regular(path, CONFIG_MAX_SIZE);
		if (!f && !(optional && errno == ENOENT)) {
			snprintf(err, errlen, "%s: cannot read the config: %s", path, ct_errmsg());
			goto fail;
		}
	}
	if (f) {
		c->path = strdup(path);
		r = ini__parse(f, on_ini, &ps, &line, msg, sizeof(msg));
		fclose(f);
		if (r) {
			if (line)
				snprintf(err, errlen, "%s:%d: %s", path, line, msg);
			else
				snprintf(err, errlen, "%s: %s", path, msg);
			goto fail;
		}
	}
	for (size_t i = 0; i < nflags; i++) {
		const struct config_flag *fl = &flags[i];
		void *obj;

		if (fl->tab == daemon_settings)
			obj = &c->daemon;
		else if (fl->tab == output_settings)
			obj = &c->output;
		else if (fl->tab == rule_settings)
			obj = &c->defaults;
		else {
			if (!cl) {
				cl = add_target(c, "command-line", 0, msg, sizeof(msg));
				if (!cl) {
					snprintf(err, errlen, "%s", msg);
					goto fail;
				}
			}
			obj = cl;
		}
		if (settings__set_flag(fl->s, obj, fl->value, err, errlen))
			goto fail;
	}
	if (validate(c, path, err, errlen))
		goto fail;
	return c;
fail:
	config__free(c);
	return NULL;
}

void config__target_rules(const struct config *c, const struct target_cfg *t, struct rule_cfg *out)
{
	*out = c->defaults;
	for (size_t i = 0; i < rule_settings_n; i++) {
		if (!(t->rules_set & (1u << i)))
			continue;
		memcpy((char *)out + rule_settings[i].offset, (const char *)&t->rules + rule_settings[i].offset,
		       rule_settings[i].type == SET_INT ? sizeof(int64_t) : sizeof(uint64_t));
	}
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool config__target_same(const struct config *a, const struct target_cfg *ta, const struct config *b,
			 const struct target_cfg *tb)
{
	struct rule_cfg ra, rb;

	config__target_rules(a, ta, &ra);
	config__target_rules(b, tb, &rb);
	return str_eq(ta->exe, tb->exe) && str_eq(ta->unit, tb->unit) && ta->pid == tb->pid &&
	       str_eq(ta->cgroup, tb->cgroup) && str_eq(ta->container, tb->container) &&
	       ra.grace == rb.grace && ra.min_count == rb.min_count && ra.retention == rb.retention &&
	       ra.max_nodes == rb.max_nodes && ra.stuck_min == rb.stuck_min;
}

void config__print_help(void *file)
{
	FILE *f = file;

	fprintf(f, "\nsettings (flags win over the config file):\n");
	settings__print_help(f, daemon_settings, daemon_settings_n, SETTINGS_HELP_FLAGS);
	settings__print_help(f, output_settings, output_settings_n, SETTINGS_HELP_FLAGS);
	fprintf(f, "\nrule settings ([defaults]; a [target] section may override them):\n");
	settings__print_help(f, rule_settings, rule_settings_n, SETTINGS_HELP_FLAGS);
	fprintf(f, "\nselection (a [target NAME] section; as flags they make a target named command-line):\n");
	settings__print_help(f, select_settings, select_settings_n, SETTINGS_HELP_FLAGS);
}
