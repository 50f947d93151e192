/* One table of settings drives command-line flags, config files and help text.
 * A table describes the fields of one struct: each entry names a setting, its
 * type (which fixes the destination's C type), the field's offset, the allowed
 * range, the default (as text, in the same syntax a user writes) and the help.
 *
 *   type           destination    syntax
 *   SET_BOOL       bool           true false yes no on off 1 0
 *   SET_INT        int64_t        -12, 42
 *   SET_OCTAL      int64_t        0660
 *   SET_DURATION   uint64_t (ns)  500ms 10s 2m 1h 1m30s (units ns us ms s m h d; 0 alone)
 *   SET_SIZE       uint64_t (B)   4096 64K 10M 1G (powers of 1024)
 *   SET_STRING     char * (heap)  anything; "" unset
 *   SET_GLOB       char * (heap)  a shell glob (fnmatch), brackets balanced
 *   SET_ENUM       int            one of choices[], stored as its index
 *   SET_PID        int64_t        a process id (a positive number; the range from min, max)
 *
 * Every message names the setting, the value and what was expected, e.g.
 * "min_count: 0 is out of range 1..1000000". */
#ifndef CT_SETTINGS_H
#define CT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum setting_type {
	SET_BOOL = 1,
	SET_INT,
	SET_OCTAL,
	SET_DURATION,
	SET_SIZE,
	SET_STRING,
	SET_GLOB,
	SET_ENUM,
	SET_PID,
};

struct setting {
	const char *name;     /* config key; the flag is --name with '_' as '-' */
	enum setting_type type;
	size_t offset;        /* of the destination in the table's struct */
	int64_t min, max;     /* numbers: inclusive range (ns, bytes); min == max == 0: any */
	const char *def;      /* default, as text; NULL: zero / unset */
	const char *metavar;  /* for help: "DURATION", "PATH"; NULL picks one by type */
	const char *help;
	const char *const *choices; /* SET_ENUM: NULL-terminated */
	/* Extra validation after parsing (strings: the address is loopback, say);
	 * writes the reason without the setting's name. */
	int (*check)(const struct setting *s, const void *dst, char *err, size_t errlen);
	unsigned int cmds;    /* the commands taking it as a flag (util/options.h's enum opt_cmd) */
	char short_name;      /* '-p' for --pid; 0: none */
	unsigned int required; /* the commands that cannot do without it */
	unsigned int nodef_cmds; /* the commands whose flag has no default (def is the config's) */
};

/* Settings and the object their offsets point into. */
struct settings_group {
	const struct setting *tab;
	size_t n;
	void *obj;
};

#define SETTING_OFF(type, field) offsetof(type, field)

/* Parsers shared with the rest of the code; 0 or -EINVAL (-ERANGE on overflow). */
int parse_duration(const char *s, uint64_t *ns);
int parse_size(const char *s, uint64_t *bytes);
int parse_bool(const char *s, bool *v);
int parse_int(const char *s, int64_t *v, int base);
/* "1m30s", "500ms", "0"; returns snprintf's count. */
int format_duration(char *buf, size_t size, uint64_t ns);
/* "10M", "4K", "1000" (exact multiples only). */
int format_size(char *buf, size_t size, uint64_t bytes);

const struct setting *settings__find(const struct setting *tab, size_t n, const char *name);
/* Sets every field of obj to its default. 0 or -EINVAL when a default is itself
 * invalid (a bug in the table; err says which). */
int settings__defaults(const struct setting *tab, size_t n, void *obj, char *err, size_t errlen);
/* Parses value into obj's field: 0, or -EINVAL with err = "NAME: why". */
int settings__set(const struct setting *s, void *obj, const char *value, char *err, size_t errlen);
/* The same, for a flag: err = "--NAME: why". */
int settings__set_flag(const struct setting *s, void *obj, const char *value, char *err, size_t errlen);
/* The field's value as the user would write it. */
int settings__format(const struct setting *s, const void *obj, char *buf, size_t size);
/* Frees the strings the table's fields hold, and zeroes them. */
void settings__free(const struct setting *tab, size_t n, void *obj);
/* Deep copy of the table's fields from src to dst (strings duplicated). */
int settings__copy(const struct setting *tab, size_t n, void *dst, const void *src);

/* Matches argv[*i] against the table's flags: "--min-count=5", "--min-count 5",
 * "--flag", "--no-flag" (booleans). Returns 1 with *s and *value set (and *i
 * advanced past a separate value), 0 when argv[*i] is no setting's flag, or
 * -EINVAL with err when the value is missing. */
int settings__match_flag(const struct setting *tab, size_t n, int argc, char **argv, int *i,
			 const struct setting **s, const char **value, char *err, size_t errlen);

/* Parses the flags of command cmd (settings whose .cmds has it) from argv[1..]:
 * "--name VALUE", "--name=VALUE", "-x VALUE", "-xVALUE", "--[no-]flag"; "--"
 * ends the flags. The other arguments are kept in order in argv[1..*npos]
 * (npos NULL: the command takes none, one is an error).
 * 0, 1 for -h/--help, or -EINVAL with err ("--min-count: 0 is out of range 1..1000000",
 * "unknown option '--bogus'", "option '--duration' needs a value",
 * "missing -p PID" for a .required one, "unexpected argument 'x'"). */
int settings__parse_argv(const struct settings_group *g, size_t ng, unsigned int cmd, int argc, char **argv,
			 int *npos, char *err, size_t errlen);
/* The same, but the first argument that is no flag (or "--") ends the flags:
 * it and all after it are the positional ones (a program and its arguments). */
int settings__parse_argv_until_arg(const struct settings_group *g, size_t ng, unsigned int cmd, int argc,
				   char **argv, int *npos, char *err, size_t errlen);

enum settings_help_style { SETTINGS_HELP_FLAGS, SETTINGS_HELP_CONFIG };
/* One line per setting: flag (or "key = VALUE"), help, default and range. */
void settings__print_help(FILE *f, const struct setting *tab, size_t n, enum settings_help_style style);
/* The flags of command cmd only, with their short names. */
void settings__print_flags(FILE *f, const struct setting *tab, size_t n, unsigned int cmd);

/* A minimal INI reader. Lines: "[section]", "[section ARG]", "key = value",
 * comments starting with '#' or ';' (also after whitespace at the end of a
 * value), blank lines. A value may be double-quoted to keep '#' or spaces.
 * cb returns 0 or -EINVAL with err; the first error stops the parse and is
 * returned with *errline set. section is NULL before the first header. */
typedef int (*ini_cb)(void *cookie, const char *section, const char *arg, const char *key,
		      const char *value, int line, char *err, size_t errlen);
/* Headers are reported too, with key == NULL, so empty sections can be seen. */
int ini__parse(FILE *f, ini_cb cb, void *cookie, int *errline, char *err, size_t errlen);

#endif
