#include <stdio.h>
#include <string.h>

#include "util/fmt.h"

const char *file_base(const char *path)
{
	const char *s;

	if (!path)
		return "?";
	s = strrchr(path, '/');
	return s ? s + 1 : path;
}

void fmt_duration(char *buf, size_t size, uint64_t ns)
{
	uint64_t ms = ns / 1000000, s = ms / 1000;

	if (ns < 1000000)
		snprintf(buf, size, "%lluus", (unsigned long long)(ns / 1000));
	else if (ms < 1000)
		snprintf(buf, size, "%llums", (unsigned long long)ms);
	else if (s < 60)
		snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
	else if (s < 3600)
		snprintf(buf, size, "%llum%llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else
		snprintf(buf, size, "%lluh%llum", (unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60));
}

const char *enum_name(const char *const *names, size_t n, unsigned v, const char *dflt)
{
	return v < n && names[v] ? names[v] : dflt;
}

int enum_parse(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++) {
		if (names[i] && !strcmp(s, names[i]))
			return (int)i;
	}
	return -1;
}
