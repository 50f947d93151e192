// graph_tree builds a context lineage of known shape and prints, as one JSON
// object on stdout, the graph it expects ctxtrace to see: every context (address,
// kind, parent, creating goroutine, state) and every goroutine it started (parent,
// the contexts in whose scope it was started, innermost first, per the rule of
// docs/graph.md, the context it is bound to and whether it outlived it).
// tests/e2e/graph_live.sh compares `ctxtrace graph` with it.
//
// Usage: graph_tree GOFILE. It creates a context and a goroutine, waits until
// GOFILE exists (ctxtrace is attached by then), builds the rest, prints, and then
// keeps its goroutines alive until killed (at most a minute).
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

type ctxRec struct {
	ID           string  `json:"id"`
	Kind         string  `json:"kind"`
	Parent       *string `json:"parent"`  // nil: context.Background()
	Creator      uint64  `json:"creator"` // 0: unknown to ctxtrace (before attach, or discovered)
	Preexisting  bool    `json:"preexisting"`
	State        string  `json:"state"`
	Reason       *string `json:"reason"`
	CancelCalled bool    `json:"cancel_called"`

	parent    *ctxRec
	kids      []*ctxRec
	createdBy uint64
}

type goRec struct {
	Goid       uint64   `json:"goid"`
	ParentGoid uint64   `json:"parent_goid"`
	Scope      []string `json:"scope"`
	Bound      *string  `json:"bound"`
	Leaking    bool     `json:"leaking"`

	start []*ctxRec // scope at the go statement
	own   []*ctxRec // contexts it created, in order
	done  *ctxRec   // the context it waits on
}

var (
	mu       sync.Mutex
	contexts []*ctxRec
	keep     []context.Context // nothing here may be collected (addresses must stay unique)
	hold     = make(chan struct{})
)

type key string

// myCtx is a user-defined Context embedding its parent.
type myCtx struct {
	context.Context
}

func ifaceData(c context.Context) uintptr { return (*[2]uintptr)(unsafe.Pointer(&c))[1] }

func goid() uint64 {
	var b [64]byte
	f := strings.Fields(string(b[:runtime.Stack(b[:], false)]))
	id, _ := strconv.ParseUint(f[1], 10, 64)
	return id
}

func str(s string) *string { return &s }

// add records context c created by goroutine g (nil: not known to ctxtrace as created).
func add(c context.Context, kind string, parent *ctxRec, g *goRec) *ctxRec {
	r := &ctxRec{ID: fmt.Sprintf("0x%x", ifaceData(c)), Kind: kind, State: "live", parent: parent}
	if parent != nil {
		r.Parent = &parent.ID
		parent.kids = append(parent.kids, r)
	}
	if g != nil {
		r.Creator = g.Goid
		g.own = append(g.own, r)
	}
	mu.Lock()
	contexts = append(contexts, r)
	keep = append(keep, c)
	mu.Unlock()
	return r
}

func cancellable(r *ctxRec) bool {
	return r.Kind == "cancel" || r.Kind == "timer" || r.Kind == "afterfunc" || r.Kind == "withoutcancel" || r.Kind == "custom"
}

// cancel records what calling r's cancel func does: r explicit, its descendants
// through value and custom contexts by parent (value ones with no reason of their
// own: they end with their ancestor), nothing below a WithoutCancel.
func cancel(r *ctxRec) {
	r.CancelCalled = true
	if r.State == "live" {
		r.State, r.Reason = "cancelled", str("explicit")
		propagate(r)
	}
}

func propagate(r *ctxRec) {
	for _, k := range r.kids {
		if k.State != "live" || k.Kind == "withoutcancel" {
			continue
		}
		k.State = "cancelled"
		k.Reason = str("parent")
		if k.Kind == "custom" {
			// a custom context is not cancelled by the context package
			k.State, k.Reason = "live", nil
		}
		propagate(k)
	}
}

// spawn starts body on a new goroutine the way docs/graph.md defines scope: the
// child is in the scope of the live cancellable contexts its parent created so
// far (innermost first), then of its parent's own start scope.
func spawn(parent *goRec, body func(g *goRec)) *goRec {
	g := &goRec{ParentGoid: parent.Goid}
	for i := len(parent.own) - 1; i >= 0; i-- {
		if c := parent.own[i]; cancellable(c) && c.State == "live" && c.Creator != 0 {
			g.start = append(g.start, c)
		}
	}
	for _, c := range parent.start {
		if c.State == "live" {
			g.start = append(g.start, c)
		}
	}
	ready := make(chan struct{})
	go func() {
		g.Goid = goid()
		close(ready)
		body(g)
	}()
	<-ready
	mu.Lock()
	gos = append(gos, g)
	mu.Unlock()
	return g
}

var gos []*goRec

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: graph_tree GOFILE")
		os.Exit(2)
	}
	me := &goRec{Goid: goid()}

	// Before ctxtrace attaches.
	pre, preCancel := context.WithCancel(context.Background())
	rpre := add(pre, "cancel", nil, nil)
	rpre.Preexisting = true
	go func() { <-hold }()

	for deadline := time.Now().Add(60 * time.Second); ; {
		if _, err := os.Stat(os.Args[1]); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "graph_tree: nobody created", os.Args[1])
			os.Exit(3)
		}
		time.Sleep(5 * time.Millisecond)
	}

	root, rootCancel := context.WithCancel(context.Background())
	rroot := add(root, "cancel", nil, me)
	v := context.WithValue(root, key("k"), 1)
	rv := add(v, "value", rroot, me)
	t1, cancelT1 := context.WithTimeout(v, time.Hour)
	rt1 := add(t1, "timer", rv, me)
	mc := &myCtx{Context: root}
	rmc := add(mc, "custom", rroot, nil)
	d, cancelD := context.WithCancel(mc)
	rd := add(d, "cancel", rmc, me)
	fp, cancelFp := context.WithCancel(pre)
	rfp := add(fp, "cancel", rpre, me)

	// Three levels of goroutines, each creating a context and starting the next.
	var wg sync.WaitGroup
	wg.Add(3)
	spawn(me, func(g1 *goRec) {
		l1, c1 := context.WithCancel(t1)
		rl1 := add(l1, "cancel", rt1, g1)
		_ = c1
		spawn(g1, func(g2 *goRec) {
			l2, c2 := context.WithCancel(l1)
			rl2 := add(l2, "cancel", rl1, g2)
			_ = c2
			tmp, ctmp := context.WithCancel(l1) // cancelled before the go statement: no scope
			rtmp := add(tmp, "cancel", rl1, g2)
			ctmp()
			cancel(rtmp)
			spawn(g2, func(g3 *goRec) {
				g3.done = rl2
				wg.Done()
				<-l2.Done()
				<-hold
			})
			wg.Done()
			<-hold
		})
		wg.Done()
		<-hold
	})
	wg.Wait()
	time.Sleep(20 * time.Millisecond) // the deepest one is waiting on l2.Done()

	extra(root, rroot, me) // WithoutCancel and AfterFunc where the Go version has them

	cancelT1()
	cancel(rt1)
	cancelD()
	cancel(rd)
	preCancel()
	cancel(rpre)
	_ = cancelFp
	_ = rfp
	_ = rootCancel
	time.Sleep(300 * time.Millisecond) // let ctxtrace collect

	out := struct {
		Go         string    `json:"go"`
		Pid        int       `json:"pid"`
		Main       uint64    `json:"main_goid"`
		Root       string    `json:"root"`      // AfterFunc's parent, where the version has it
		AfterFunc  bool      `json:"afterfunc"` // one AfterFunc context (its address is not visible here)
		Contexts   []*ctxRec `json:"contexts"`
		Goroutines []*goRec  `json:"goroutines"`
	}{runtime.Version(), os.Getpid(), me.Goid, rroot.ID, hasAfterFunc, contexts, gos}
	for _, g := range gos {
		g.Scope = []string{}
		for _, c := range g.start {
			g.Scope = append(g.Scope, c.ID)
		}
		b := g.done
		if b == nil && len(g.start) > 0 {
			b = g.start[0]
		}
		if b != nil {
			g.Bound = &b.ID
			g.Leaking = b.State == "cancelled"
		}
	}
	json.NewEncoder(os.Stdout).Encode(&out)
	time.Sleep(60 * time.Second)
}
