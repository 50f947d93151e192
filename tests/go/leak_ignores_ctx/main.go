// leak_ignores_ctx: pattern 2 of leak-patterns.md, goroutines that ignore their context.
//
// Each request runs handle with a context that is cancelled when handle returns.
//   - warmCache's goroutine sleeps for an hour and never looks at the context.
//   - poll checks ctx.Err() once at the start and never again.
package main

import (
	"context"
	"time"
)

var sleeper, poller *Expect

func warmCache(ctx context.Context) {
	next(sleeper, "go")
	go func() {
		time.Sleep(at(sleeper, "block", time.Hour)) // ignores ctx
	}()
}

func poll(ctx context.Context, checked chan<- struct{}) {
	if ctx.Err() != nil { // checked once, never again
		return
	}
	close(checked)
	for {
		time.Sleep(at(poller, "block", 200*time.Millisecond))
	}
}

func handle(base context.Context) {
	ctx, cancel := context.WithTimeout(at(sleeper, "ctx", at(poller, "ctx", base)), time.Second)
	defer func() {
		cancel()
		hit(sleeper)
		hit(poller)
	}()
	warmCache(ctx)
	checked := make(chan struct{})
	go poll(at(poller, "go", ctx), checked)
	<-checked // the check happens while the request is live
}

func main() {
	start("leak_ignores_ctx", false)
	sleeper = expect("outlived-context", "goroutine sleeps, ignoring its context", "sleep")
	poller = expect("outlived-context", "loop that checked ctx.Err() once", "sleep")
	base, stop := context.WithCancel(context.Background())
	defer stop()
	for i := 0; i < *flagN; i++ {
		handle(base)
		time.Sleep(*flagInterval)
	}
	finish()
}
