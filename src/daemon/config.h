/* ctxtraced's configuration: an INI file ([daemon], [output], [defaults],
 * [target NAME]) plus command-line flags, all described by the settings tables
 * of util/options.h, so flags, file and help cannot drift apart.
 * Errors read "FILE:LINE: setting: message". */
#ifndef CT_DAEMON_CONFIG_H
#define CT_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/options.h"
#include "util/settings.h"

#define CONFIG_DEFAULT_PATH "/etc/ctxtrace/ctxtraced.conf"
#define CONFIG_MAX_TARGETS 256 /* [target] sections in one file */
#define CONFIG_MAX_SIZE (1U << 20) /* bytes; a larger file is refused */

struct config {
	char *path;      /* NULL: no file */
	struct daemon_cfg daemon;
	struct output_cfg output;
	struct rule_cfg defaults;
	struct target_cfg *targets;
	size_t ntargets;
};

/* A command-line flag: applied after the file, so it wins over it. */
struct config_flag {
	const struct setting *tab;
	size_t tab_n;
	const struct setting *s;
	const char *value;
};

/* Matches argv[*i] against every table. 1 with *out filled, 0 when it is no
 * setting's flag, -EINVAL with err. */
int config__match_flag(int argc, char **argv, int *i, struct config_flag *out, char *err, size_t errlen);

/* Reads path (NULL: no file; a missing file is an error unless optional) and
 * applies flags. NULL with err = "FILE:LINE: setting: message". */
struct config *config__load(const char *path, bool optional, const struct config_flag *flags,
			    size_t nflags, char *err, size_t errlen);
void config__free(struct config *c);

/* The rule settings a target gets: its own, else [defaults]. */
void config__target_rules(const struct config *c, const struct target_cfg *t, struct rule_cfg *out);
/* True when the two configs give t the same rules and selection. */
bool config__target_same(const struct config *a, const struct target_cfg *ta,
			 const struct config *b, const struct target_cfg *tb);

/* Help for every setting: flags, then config keys per section. */
void config__print_help(void *file);

#endif
