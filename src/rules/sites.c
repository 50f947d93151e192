/* Which frame of a stack is "the site" a person should look at: the user's code,
 * not the context package, the runtime or the rest of the standard library. */
#include <stdbool.h>
#include <string.h>

#include "events/event.h"
#include "rules/rules_int.h"

/* Top-level folders of GOROOT/src (Go 1.19 to 1.27). A package path whose first
 * element is one of them and has no dot is the standard library. */
static const char *const std_roots[] = {
	"archive", "arena", "bufio", "builtin", "bytes", "cmp", "compress", "container", "context",
	"crypto", "database", "debug", "embed", "encoding", "errors", "expvar", "flag", "fmt", "go",
	"hash", "html", "image", "index", "internal", "io", "iter", "log", "maps", "math", "mime",
	"net", "os", "path", "plugin", "reflect", "regexp", "runtime", "simd", "slices", "sort",
	"strconv", "strings", "structs", "sync", "syscall", "testing", "text", "time", "unicode",
	"unique", "unsafe", "uuid", "vendor", "weak",
};

/* Length of the package path of a Go function name: "net/http.(*conn).serve" -> 8. */
static size_t pkg_len(const char *func)
{
	const char *slash = strrchr(func, '/');
	const char *dot = strchr(slash ? slash : func, '.');

	return dot ? (size_t)(dot - func) : strlen(func);
}

bool func_is_std(const char *func)
{
	size_t plen, flen;

	if (!func || !*func)
		return true;
	/* compiler-generated: "type:.eq.main.T" (1.21+), "type..eq.main.T", "go:buildid" */
	/* Go 1.27 names some closures of inlined runtime code "_.goready.func1". */
	if (!strncmp(func, "type:", 5) || !strncmp(func, "type..", 6) || !strncmp(func, "go:", 3) ||
	    !strncmp(func, "go.", 3) || !strncmp(func, "_.", 2))
		return true;
	plen = pkg_len(func);
	flen = strcspn(func, "/");
	if (flen > plen)
		flen = plen;
	if (memchr(func, '.', flen))
		return false;
	/* Run per context per rules tick: compare the first byte before anything else,
	 * and never strlen() a root (r[flen] is in bounds once flen bytes matched). */
	for (size_t i = 0; i < sizeof(std_roots) / sizeof(std_roots[0]); i++) {
		const char *r = std_roots[i];

		if (r[0] == func[0] && !strncmp(func, r, flen) && r[flen] == '\0')
			return true;
	}
	return false;
}

bool func_in_pkg(const char *func, const char *pkg)
{
	size_t n = strlen(pkg);

	return func && !strncmp(func, pkg, n) && func[n] == '.';
}

/* cgo's generated Go stubs (main._Cfunc_wait_forever, _cgo_...) are not the user's. */
static bool func_is_cgo_stub(const char *func)
{
	return strstr(func, "._Cfunc_") || strstr(func, "._Cgo_") || strstr(func, "._cgo_") ||
	       !strncmp(func, "_cgo_", 5);
}

const struct ct_frame *site_first_user(const struct ct_stack *s)
{
	if (!s)
		return NULL;
	for (uint32_t i = 0; i < s->n; i++) {
		const char *f = s->frames[i].func;

		if (f && !func_is_std(f) && !func_is_cgo_stub(f))
			return &s->frames[i];
	}
	return NULL;
}

/* The code that called into the context package: the one holding the cancel func.
 * NULL when that is the standard library (net/http's own contexts, say). */
const struct ct_frame *site_creation(const struct ct_stack *s)
{
	if (!s)
		return NULL;
	for (uint32_t i = 0; i < s->n; i++) {
		const char *f = s->frames[i].func;

		if (!f || func_in_pkg(f, "context") || func_in_pkg(f, "runtime"))
			continue;
		return func_is_std(f) ? NULL : &s->frames[i];
	}
	return NULL;
}

/* The go statement: the innermost frame of the (inline-expanded) gopc. NULL when
 * the standard library started the goroutine: its pools and loops are by design. */
const struct ct_frame *site_go(const struct ct_stack *s)
{
	if (!s || s->n == 0 || !s->frames[0].func)
		return NULL;
	return func_is_std(s->frames[0].func) ? NULL : &s->frames[0];
}

/* The watcher goroutine context.propagateCancel starts for a parent it does not
 * know: 1.19/1.20 context.propagateCancel, 1.21+ context.(*cancelCtx).propagateCancel. */
bool site_is_propagate_watcher(const struct ct_stack *go_site, const char *start_func)
{
	const char *f = go_site && go_site->n ? go_site->frames[0].func : NULL;

	if (f && (!strcmp(f, "context.propagateCancel") ||
		  !strcmp(f, "context.(*cancelCtx).propagateCancel")))
		return true;
	return start_func && (!strncmp(start_func, "context.propagateCancel.func", 28) ||
			      !strncmp(start_func, "context.(*cancelCtx).propagateCancel.func", 41));
}

/* Where a cancel func was called from: the first frame outside context/runtime
 * (standard library or not: "net/http.(*conn).serve" is a fine answer). */
const struct ct_frame *site_cancel(const struct ct_stack *s)
{
	if (!s)
		return NULL;
	for (uint32_t i = 0; i < s->n; i++) {
		const char *f = s->frames[i].func;

		if (f && !func_in_pkg(f, "context") && !func_in_pkg(f, "runtime"))
			return &s->frames[i];
	}
	return NULL;
}

bool frame_equal(const struct ct_frame *a, const struct ct_frame *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->line != b->line)
		return false;
	if ((a->func != b->func) && (!a->func || !b->func || strcmp(a->func, b->func)))
		return false;
	return a->file == b->file || (a->file && b->file && !strcmp(a->file, b->file));
}

const struct ct_frame *site_ctx_display(const struct ct_stack *s)
{
	const struct ct_frame *f = site_creation(s);

	return f ? f : site_cancel(s);
}
