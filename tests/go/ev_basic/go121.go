//go:build go1.21

package main

import (
	"context"
	"errors"
	"time"
)

// Go 1.21+ passes a cause with every cancel; the context package replaces a nil
// cause with the error itself, and ctxtrace reports the same.
func causeOf(c context.Context) *string { return str(context.Cause(c).Error()) }
func canceledCause() *string           { return str("context canceled") }

// extra uses what Go 1.21 added: cancel causes, AfterFunc and WithoutCancel.
func extra(base context.Context, rb *ctxRec) {
	c, cancel := context.WithCancelCause(base); fn, line := site()
	r := add(c, rb, fn, line)
	ch, chcancel := context.WithCancel(c); fn, line = site()
	rch := add(ch, r, fn, line)
	cancel(errors.New("boom"))
	cancelled(r, "explicit", true, "context canceled", str("boom"))
	cancelled(rch, "parent", true, "context canceled", str("boom"))
	chcancel()
	cancelled(rch, "explicit", false, "context canceled", str("context canceled"))

	t, tcancel := context.WithTimeoutCause(base, 20*time.Millisecond, errors.New("too slow")); fn, line = site()
	rt := add(t, rb, fn, line)
	<-t.Done()
	cancelled(rt, "deadline", true, "context deadline exceeded", str("too slow"))
	tcancel()
	cancelled(rt, "explicit", false, "context canceled", str("context canceled"))

	// AfterFunc contexts: the program cannot see their addresses; the test finds
	// them by parent. One is stopped, the other goes with its parent.
	a, acancel := context.WithCancel(base); fn, line = site()
	ra := add(a, rb, fn, line)
	fired := make(chan struct{})
	stop1 := context.AfterFunc(a, func() { close(fired) }); fn, line = site()
	raf1 := addAfterFunc(ra, fn, line)
	stop2 := context.AfterFunc(a, func() {}); fn, line = site()
	raf2 := addAfterFunc(ra, fn, line)
	if !stop2() {
		panic("stop2")
	}
	cancelled(raf2, "explicit", true, "context canceled", str("context canceled"))
	acancel()
	cancelled(ra, "explicit", true, "context canceled", causeOf(a))
	cancelled(raf1, "parent", true, "context canceled", str("context canceled"))
	<-fired
	if stop1() {
		panic("stop1")
	}

	// WithoutCancel used as a parent: ctxtrace discovers it through the child.
	b, bcancel := context.WithCancel(base); fn, line = site()
	rbb := add(b, rb, fn, line)
	w := context.WithoutCancel(b)
	rw := add(w, rbb, "", 0)
	rw.Discovered, rw.Goid = true, 0
	wc, wcancel := context.WithCancel(w); fn, line = site()
	rwc := add(wc, rw, fn, line)
	bcancel()
	cancelled(rbb, "explicit", true, "context canceled", causeOf(b))
	if wc.Err() != nil {
		panic("WithoutCancel")
	}
	wcancel()
	cancelled(rwc, "explicit", true, "context canceled", causeOf(wc))
}

func addAfterFunc(parent *ctxRec, fn string, line int) *ctxRec {
	r := &ctxRec{Kind: "afterfunc", Type: "*context.afterFuncCtx", Parent: parent.ID,
		ParentKind: parent.Kind, Ancestor: parent.ID, AncestorKind: parent.Kind,
		Goid: goid(), Func: fn, Line: line, Cancels: []cancelRec{}}
	mu.Lock()
	out.Contexts = append(out.Contexts, r)
	mu.Unlock()
	return r
}
