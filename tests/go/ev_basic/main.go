// ev_basic creates contexts and goroutines in the ways the context package offers
// and prints, as one JSON object on stdout, what it did: every context (its
// address, kind, parent, nearest non-value ancestor, creating goroutine, creation
// line, deadline and every cancel call it received), every goroutine it started and
// every Done() wait. tests/e2e/watch_events.sh compares ctxtrace's events with it.
//
// The source is not gofmt-formatted on purpose: each context creation and the
// site() call that records its line share one line.
//
// Usage: ev_basic GOFILE. It creates a few contexts and a goroutine, then waits
// until GOFILE exists (ctxtrace is attached by then), acts, waits for its
// goroutines to exit, prints and exits.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

type cancelRec struct {
	Reason    string  `json:"reason"`
	Effective bool    `json:"effective"`
	Err       string  `json:"err"`
	Cause     *string `json:"cause"`
}

type ctxRec struct {
	ID           *string     `json:"id"` // null: the program cannot see the address
	Kind         string      `json:"kind"`
	Type         string      `json:"type"`
	Parent       *string     `json:"parent"`
	ParentKind   string      `json:"parent_kind"`
	Ancestor     *string     `json:"ancestor"`
	AncestorKind string      `json:"ancestor_kind"`
	Goid         uint64      `json:"goid"` // 0: created before ctxtrace attached
	Func         string      `json:"func"`
	Line         int         `json:"line"`
	Preexisting  bool        `json:"preexisting"`
	Discovered   bool        `json:"discovered"`
	Referenced   bool        `json:"referenced"` // a value context used as a parent
	DeadlineNs   int64       `json:"deadline_unix_ns"`
	Cancels      []cancelRec `json:"cancels"`

	ctx context.Context
}

type goRec struct {
	Goid       uint64 `json:"goid"`
	ParentGoid uint64 `json:"parent_goid"`
	Func       string `json:"func"` // the go statement's function and line
	Line       int    `json:"line"`
	StartFunc  string `json:"start_func"`
	Exited     bool   `json:"exited"`
	Preexisting bool  `json:"preexisting"`
}

type doneRec struct {
	ID   string `json:"id"`
	Goid uint64 `json:"goid"`
}

var out struct {
	Pid        int        `json:"pid"`
	GoVersion  string     `json:"go"`
	Contexts   []*ctxRec  `json:"contexts"`
	Goroutines []*goRec   `json:"goroutines"`
	Done       []*doneRec `json:"done"`
}

var mu sync.Mutex

type key string

// myCtx is a user-defined Context that embeds its parent and does not override
// Done, so the context package registers children with the embedded cancelCtx.
type myCtx struct {
	context.Context
	tag int
}

// ownDone is a Context with a Done channel of its own: the context package cannot
// find a cancelCtx behind it and watches it from a goroutine of its own.
type ownDone struct {
	context.Context
	done chan struct{}
}

func (o *ownDone) Done() <-chan struct{} { return o.done }

func ifaceData(c context.Context) uintptr {
	return (*[2]uintptr)(unsafe.Pointer(&c))[1]
}

func hex(c context.Context) *string {
	s := fmt.Sprintf("0x%x", ifaceData(c))
	return &s
}

func str(s string) *string { return &s }

func goid() uint64 {
	var b [64]byte
	f := strings.Fields(string(b[:runtime.Stack(b[:], false)]))
	id, _ := strconv.ParseUint(f[1], 10, 64)
	return id
}

// site is the function and line of its caller.
//
//go:noinline
func site() (string, int) {
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:])
	f, _ := runtime.CallersFrames(pcs[:]).Next()
	return f.Function, f.Line
}

func kindOf(c context.Context) string {
	switch t := fmt.Sprintf("%T", c); t {
	case "*context.cancelCtx":
		return "cancel"
	case "*context.timerCtx":
		return "timer"
	case "*context.valueCtx":
		return "value"
	case "context.withoutCancelCtx":
		return "withoutcancel"
	case "*context.afterFuncCtx":
		return "afterfunc"
	default:
		return "custom"
	}
}

// add records context c; parent nil means Background.
func add(c context.Context, parent *ctxRec, fn string, line int) *ctxRec {
	r := &ctxRec{ID: hex(c), Kind: kindOf(c), Type: fmt.Sprintf("%T", c), Func: fn, Line: line,
		Goid: goid(), ctx: c, Cancels: []cancelRec{}}
	if d, ok := c.Deadline(); ok {
		r.DeadlineNs = d.UnixNano()
	}
	r.ParentKind, r.AncestorKind = "background", "background"
	if parent != nil {
		r.Parent, r.ParentKind = parent.ID, parent.Kind
		if parent.Kind == "value" {
			parent.Referenced = true
		}
		a := parent
		for a.Kind == "value" || a.Kind == "custom" {
			if a.Parent == nil {
				a = nil
				break
			}
			a = byID[*a.Parent]
		}
		if a != nil {
			r.Ancestor, r.AncestorKind = a.ID, a.Kind
		}
	}
	mu.Lock()
	out.Contexts = append(out.Contexts, r)
	if r.ID != nil {
		byID[*r.ID] = r
	}
	mu.Unlock()
	return r
}

var byID = map[string]*ctxRec{}

// cancelled records a cancel call on r that the program made or caused.
func cancelled(r *ctxRec, reason string, effective bool, err string, cause *string) {
	mu.Lock()
	r.Cancels = append(r.Cancels, cancelRec{reason, effective, err, cause})
	mu.Unlock()
}

// runG is every goroutine's body: it reports its goid and its start function (the
// outermost frame above runtime.goexit: the function the go statement started).
func runG(g *goRec, ready chan struct{}, body func()) {
	var pcs [32]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs[:])])
	for {
		f, more := frames.Next()
		if f.Function == "runtime.goexit" || !more {
			break
		}
		g.StartFunc = f.Function
	}
	g.Goid = goid()
	close(ready)
	body()
}

// spawn starts body in a goroutine. The go statement starts a closure without
// arguments, so the goroutine's start function is that closure in every Go
// version (a call with arguments gets a wrapper the traceback hides).
func spawn(parent uint64, body func()) *goRec {
	g := &goRec{ParentGoid: parent}
	ready := make(chan struct{})
	go func() { runG(g, ready, body) }(); g.Func, g.Line = site()
	<-ready
	mu.Lock()
	out.Goroutines = append(out.Goroutines, g)
	mu.Unlock()
	return g
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: ev_basic GOFILE")
		os.Exit(2)
	}
	out.Pid = os.Getpid()
	out.GoVersion = runtime.Version()

	// Before ctxtrace attaches: a cancel context and a value context on it.
	base, baseCancel := context.WithCancel(context.Background())
	rb := add(base, nil, "", 0)
	rb.Preexisting, rb.Goid = true, 0
	pre := context.WithValue(base, key("pre"), "x")
	rp := add(pre, rb, "", 0)
	rp.Preexisting, rp.Goid = true, 0
	release := make(chan struct{})
	gpre := spawn(goid(), func() { <-release })
	gpre.Preexisting = true

	for deadline := time.Now().Add(60 * time.Second); ; {
		if _, err := os.Stat(os.Args[1]); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "ev_basic: nobody created", os.Args[1])
			os.Exit(3)
		}
		time.Sleep(5 * time.Millisecond)
	}
	baseGoroutines := runtime.NumGoroutine()
	act(base, rb, pre, rp)
	close(release)
	baseCancel()
	cancelled(rb, "explicit", true, "context canceled", causeOf(base))
	for _, r := range out.Contexts {
		if r.Parent != nil && *r.Parent == *rb.ID && r.Kind != "value" && r.Kind != "custom" {
			if len(r.Cancels) == 0 {
				panic("context without a cancel: " + *r.ID)
			}
		}
	}
	// Wait for every goroutine started here to be gone, so that ctxtrace sees them exit.
	for i := 0; runtime.NumGoroutine() >= baseGoroutines && i < 200; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	for _, g := range out.Goroutines {
		g.Exited = true
	}
	json.NewEncoder(os.Stdout).Encode(&out)
}

func act(base context.Context, rb *ctxRec, pre context.Context, rp *ctxRec) {
	me := goid()

	// Cancelled by its cancel func.
	c1, cancel1 := context.WithCancel(context.Background()); fn, line := site()
	r1 := add(c1, nil, fn, line)
	cancel1()
	cancelled(r1, "explicit", true, "context canceled", causeOf(c1))

	// A root from TODO(): told from Background() in every version (before 1.21
	// both are *context.emptyCtx).
	ct, cancelt := context.WithCancel(context.TODO()); fn, line = site()
	rt := add(ct, nil, fn, line)
	rt.ParentKind, rt.AncestorKind = "todo", "todo"
	cancelt()
	cancelled(rt, "explicit", true, "context canceled", causeOf(ct))

	// Expires, then its deferred-style cancel runs: deadline, then explicit (no effect).
	c2, cancel2 := context.WithTimeout(base, 30*time.Millisecond); fn, line = site()
	r2 := add(c2, rb, fn, line)
	<-c2.Done()
	cancelled(r2, "deadline", true, "context deadline exceeded", causeOf(c2))
	cancel2()
	cancelled(r2, "explicit", false, "context canceled", canceledCause())

	// A parent (derived from the pre-existing value context) cancelled explicitly
	// takes its children with it.
	p, pcancel := context.WithCancel(pre); fn, line = site()
	rpc := add(p, rp, fn, line)
	ch, chcancel := context.WithCancel(p); fn, line = site()
	rch := add(ch, rpc, fn, line)
	tch, tchcancel := context.WithTimeout(p, time.Hour); fn, line = site()
	rtch := add(tch, rpc, fn, line)
	pcancel()
	cancelled(rpc, "explicit", true, "context canceled", causeOf(p))
	cancelled(rch, "parent", true, "context canceled", causeOf(ch))
	cancelled(rtch, "parent", true, "context canceled", causeOf(tch))
	chcancel()
	cancelled(rch, "explicit", false, "context canceled", canceledCause())
	tchcancel()
	cancelled(rtch, "explicit", false, "context canceled", canceledCause())

	// A chain of value contexts under a cancel context, then a cancel context on it.
	c3, cancel3 := context.WithCancel(context.Background()); fn, line = site()
	r3 := add(c3, nil, fn, line)
	v1 := context.WithValue(c3, key("v1"), 1); fn, line = site()
	rv1 := add(v1, r3, fn, line)
	v2 := context.WithValue(v1, key("v2"), "two"); fn, line = site()
	rv2 := add(v2, rv1, fn, line)
	c4, cancel4 := context.WithCancel(v2); fn, line = site()
	r4 := add(c4, rv2, fn, line)
	cancel3()
	cancelled(r3, "explicit", true, "context canceled", causeOf(c3))
	cancelled(r4, "parent", true, "context canceled", causeOf(c4))
	cancel4()
	cancelled(r4, "explicit", false, "context canceled", canceledCause())

	// Value contexts nothing derives from.
	for i := 0; i < 3; i++ {
		v := context.WithValue(base, key("anon"), i); fn, line = site()
		add(v, rb, fn, line)
		if v.Value(key("anon")) != i {
			panic("value")
		}
	}

	// A user-defined Context type in the chain.
	c5, cancel5 := context.WithCancel(context.Background()); fn, line = site()
	r5 := add(c5, nil, fn, line)
	m := &myCtx{Context: c5, tag: 7}
	rm := add(m, r5, "", 0)
	rm.Discovered, rm.Goid = true, 0
	c6, cancel6 := context.WithCancel(m); fn, line = site()
	r6 := add(c6, rm, fn, line)
	cancel5()
	cancelled(r5, "explicit", true, "context canceled", causeOf(c5))
	cancelled(r6, "parent", true, "context canceled", causeOf(c6))
	cancel6()
	cancelled(r6, "explicit", false, "context canceled", canceledCause())

	// A child of a custom context with its own Done: cancelled by the watcher
	// goroutine the context package starts (the inner context is cancelled
	// first, so that the watcher finds an error to pass on).
	c8, cancel8 := context.WithCancel(context.Background()); fn, line = site()
	r8 := add(c8, nil, fn, line)
	od := &ownDone{Context: c8, done: make(chan struct{})}
	rod := add(od, r8, "", 0)
	rod.Discovered, rod.Goid = true, 0
	c9, cancel9 := context.WithCancel(od); fn, line = site()
	r9 := add(c9, rod, fn, line)
	cancel8()
	cancelled(r8, "explicit", true, "context canceled", causeOf(c8))
	close(od.done)
	<-c9.Done()
	cancelled(r9, "parent", true, "context canceled", causeOf(c9))
	cancel9()
	cancelled(r9, "explicit", false, "context canceled", canceledCause())

	// A deadline that passed before the context was created.
	c7, cancel7 := context.WithDeadline(base, time.Now().Add(-time.Second)); fn, line = site()
	r7 := add(c7, rb, fn, line)
	cancelled(r7, "deadline", true, "context deadline exceeded", causeOf(c7))
	cancel7()
	cancelled(r7, "explicit", false, "context canceled", canceledCause())

	// Goroutines: each creates and cancels its own context; one waits on a Done.
	var wg sync.WaitGroup
	waitOn, stopWait := context.WithCancel(base); fn, line = site()
	rw := add(waitOn, rb, fn, line)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		spawn(me, func() {
			defer wg.Done()
			c, cancel := context.WithCancel(base); fn, line := site()
			r := add(c, rb, fn, line)
			cancel()
			cancelled(r, "explicit", true, "context canceled", causeOf(c))
		})
	}
	wg.Wait()
	wg.Add(1)
	waiting := make(chan struct{})
	gw := spawn(me, func() {
		defer wg.Done()
		close(waiting)
		<-waitOn.Done()
	})
	mu.Lock()
	out.Done = append(out.Done, &doneRec{ID: *rw.ID, Goid: gw.Goid})
	mu.Unlock()
	<-waiting
	time.Sleep(20 * time.Millisecond)
	stopWait()
	cancelled(rw, "explicit", true, "context canceled", causeOf(waitOn))
	wg.Wait()

	extra(base, rb)
}
