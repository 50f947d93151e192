// snap_target: a program whose leaks are complete before ctxtrace looks at it,
// for `ctxtrace snapshot` and the memory judgement at attach (tests/e2e/snapshot.sh).
// Made before the truth line, then the program idles:
//   - sender: goroutines blocked forever on a send on a channel of their own,
//     holding no context: stuck-goroutines;
//   - holder: goroutines holding a context that was cancelled (live in their
//     frame across the receive that blocks): outlived-context;
//   - parent: a live context with -children never-cancelled children, held by
//     a goroutine: lost-cancel;
//   - healthy: a pool idle on its shared job channel and goroutines waiting on a
//     live context's Done: no alert.
//
// With -extra N it also parks N goroutines on channels of their own (make bench:
// 10k and 100k goroutines), and with -churn N keeps N goroutines starting, moving
// their stacks and exiting while ctxtrace reads (a moving target).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

var (
	flagChildren = flag.Int("children", 1500, "never-cancelled children of the parent context")
	flagExtra    = flag.Int("extra", 0, "extra goroutines parked on channels of their own")
	flagChurn    = flag.Int("churn", 0, "goroutines started and ended in a loop while read")
	flagSpin     = flag.Bool("spin", false, "ping-pong between two goroutines, printing the rate every 100ms (make bench)")
	flagLeakProf = flag.Bool("leakprofile", true, "write the goroutine leak profile where the runtime has one (1.27)")
	flagRtItab   = flag.Int("rtitab", 0, "goroutines holding a cancelled context whose itab the runtime made (a type assertion)")
	flagAncestry = flag.Int("ancestry", 0, "goroutines holding no context, started by a goroutine that holds a cancelled one")
	flagReuse    = flag.Int("reuse", 0, "goroutines holding no context, parked on stacks reused from exited goroutines that held a cancelled one")
)

var sender, holder, parent, rtholder, ancChild, reuser *Expect

// Globals: reachable, so what waits on them is not leaked (1.27's leak profile
// counts a goroutine blocked on something only blocked goroutines reach as leaked).
var (
	jobs       = make(chan int)
	base, stop = context.WithCancel(context.Background())
)

func leakSend() {
	ch := make(chan int)
	next(sender, "go")
	go func() {
		ch <- at(sender, "block", 1)
	}()
}

// work keeps ctx live across the receive: it is in its frame while it blocks.
//
//go:noinline
func work(ctx context.Context, in <-chan int) error {
	v := <-at(holder, "block", in)
	if v > 0 {
		return ctx.Err()
	}
	return nil
}

func leakHolder(base context.Context) {
	ctx, cancel := context.WithCancel(base)
	in := make(chan int)
	next(holder, "go")
	go work(ctx, in)
	cancel()
	hit(holder)
}

//go:noinline
func keepParent(ctx context.Context, done <-chan struct{}) error {
	<-at(parent, "block", done)
	return ctx.Err()
}

// rtCtx is a Context of the program's own that is never converted to
// context.Context where the compiler sees it: its itab for context.Context is made
// at run time, by getitab, when boxed() is asserted (not in the module's itab list;
// tests/e2e/snapshot.sh checks with go tool nm that the binary has no such itab).
type rtCtx struct {
	context.Context
	tag int
}

//go:noinline
func boxed(c context.Context, tag int) any { return &rtCtx{Context: c, tag: tag} }

func leakRtItab(base context.Context) {
	cctx, cancel := context.WithCancel(base)
	ctx := boxed(cctx, 1).(context.Context) // runtime.assertE2I: getitab
	in := make(chan int)
	next(rtholder, "go")
	go work2(ctx, in)
	cancel()
	hit(rtholder)
}

// work2 is work for rtholder: ctx live in its frame across the receive.
//
//go:noinline
func work2(ctx context.Context, in <-chan int) error {
	v := <-at(rtholder, "block", in)
	if v > 0 {
		return ctx.Err()
	}
	return nil
}

// ancestor starts n children that hold no context (each sends on a channel nobody
// receives from), cancels its context, and waits with that context live in the
// frame that ran the go statements (a parameter: its interface words side by
// side): the children are tied to it by ancestry only. It notes its goroutine id
// as Go's own stack trace prints it.
//
//go:noinline
func ancestor(ctx context.Context, cancel context.CancelFunc, n int, started chan<- struct{}) {
	ch := make(chan int)
	for i := 0; i < n; i++ {
		next(ancChild, "go")
		go func() { ch <- at(ancChild, "block", 1) }()
		hit(ancChild)
	}
	cancel()
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	note("ancestry parent %s", strings.Fields(string(buf))[1])
	never := make(chan struct{})
	started <- struct{}{}
	<-never
	if ctx.Err() == nil { // ctx live in this frame across the receive
		panic("not cancelled")
	}
}

// spray fills the top of its goroutine's stack with the interface words of a
// cancelled context, live while it blocks in a send; the goroutine then exits and
// leaves them there.
//
//go:noinline
func spray(ctx context.Context, ch chan<- int) error {
	var a [24]context.Context
	for i := range a {
		a[i] = ctx
	}
	ch <- 1
	for i := range a {
		if err := a[i].Err(); err == nil {
			return err
		}
	}
	return nil
}

var reuseCtx context.Context

// leakReuse: n goroutines hold a cancelled context across a send, are let go and
// exit; their gs and stacks go back to the runtime's free lists with the
// context's words still in them. Then n closures that capture no context (as
// demo_leaky's fetchPrice) start on those stacks and block forever on a send:
// they hold no context (stuck-goroutines, not outlived-context).
func leakReuse(base context.Context, n int) {
	ctx, cancel := context.WithCancel(base)
	cancel()
	reuseCtx = ctx // stays a valid cancelled context: the stale words point at one
	ch := make(chan int)
	for i := 0; i < n; i++ {
		go spray(ctx, ch)
	}
	for i := 0; i < n; i++ {
		<-ch
	}
	for i := 0; i < 20; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	for i := 0; i < n; i++ {
		out := make(chan int)
		next(reuser, "go")
		go func() {
			out <- at(reuser, "block", i)
		}()
		hit(reuser)
	}
}

// startAncestor: the context is made here, so no frame that stays (main's) holds it.
//
//go:noinline
func startAncestor(base context.Context, n int, started chan<- struct{}) {
	ctx, cancel := withCancel(base)
	go ancestor(ctx, cancel, n, started)
}

// withCancel keeps the context an interface value in its caller's frame (an
// inlined context.WithCancel lets the compiler keep only the *cancelCtx).
//
//go:noinline
func withCancel(c context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(c)
}

func deepDown(n int, ch chan struct{}) {
	if n > 0 {
		deepDown(n-1, ch) // grows and moves the stack
		return
	}
	<-ch
}

func main() {
	start("snap_target", false)
	sender = expect("stuck-goroutines", "sends on channels nobody receives from, no context", "chan send")
	holder = expect("outlived-context", "blocked holding a cancelled context", "chan receive")
	parent = expect("lost-cancel", "a live context with never-cancelled children")
	if *flagRtItab > 0 {
		rtholder = expect("outlived-context", "blocked holding a cancelled context of a type whose itab the runtime made", "chan receive")
	}
	defer stop()

	for i := 0; i < *flagN; i++ {
		leakSend()
		hit(sender)
		leakHolder(base)
	}
	for i := 0; i < *flagRtItab; i++ {
		leakRtItab(base)
	}
	if *flagReuse > 0 {
		reuser = expect("stuck-goroutines", "send on channels nobody receives from, no context, on stacks that held a cancelled one", "chan send")
		leakReuse(base, *flagReuse)
	}
	if *flagAncestry > 0 {
		ancChild = expect("stuck-goroutines", "send on a channel nobody receives from, no context; started by a goroutine holding a cancelled one", "chan send")
		started := make(chan struct{})
		startAncestor(base, *flagAncestry, started)
		<-started
	}
	// A parent with many children whose cancel funcs are dropped.
	pctx, pcancel := context.WithCancel(base)
	defer pcancel()
	for i := 0; i < *flagChildren; i++ {
		context.WithCancel(pctx) //nolint:lostcancel // on purpose
	}
	never := make(chan struct{})
	next(parent, "go")
	go keepParent(pctx, never)
	for i := 0; i < *flagChildren; i++ {
		hit(parent)
	}
	// Healthy: a pool on its job channel, listeners on a live context's Done.
	for i := 0; i < 6; i++ {
		go func() {
			for j := range jobs {
				_ = j
			}
		}()
	}
	for i := 0; i < 6; i++ {
		go func() {
			<-base.Done()
		}()
	}
	for i := 0; i < *flagExtra; i++ {
		ch := make(chan int)
		go func() { <-ch }()
	}
	for i := 0; i < *flagChurn; i++ {
		go func() {
			for {
				ch := make(chan struct{})
				go func() { deepDown(64, ch) }()
				runtime.Gosched()
				close(ch)
			}
		}()
	}
	if *flagSpin {
		go spin()
	}
	// A GC's mark phase sets waitsince of the goroutines it finds blocked to the
	// previous cycle's end (work.tstart): the first cycle of a process sets 0.
	runtime.GC()
	runtime.GC()
	// Goroutines that parked only after those cycles (a loaded machine) get theirs
	// from one more.
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	// Go 1.27 (1.26 with GOEXPERIMENT=goroutineleakprofile): the profile's GC marks
	// goroutines blocked on unreachable channels _Gleaked until the next GC.
	if p := pprof.Lookup("goroutineleak"); p != nil && *flagLeakProf {
		p.WriteTo(io.Discard, 0)
		note("leak profile written")
	}
	finish()
}

// spin measures the program's own throughput: channel round trips per 100 ms.
func spin() {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	for {
		t0 := time.Now()
		n := 0
		for time.Since(t0) < 100*time.Millisecond {
			for i := 0; i < 100; i++ {
				ping <- i
				<-pong
			}
			n += 100
		}
		fmt.Printf("{\"type\":\"rate\",\"unix_ms\":%d,\"per_s\":%d}\n", time.Now().UnixMilli(), n*10)
	}
}
