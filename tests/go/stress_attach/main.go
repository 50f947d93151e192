// stress_attach is the target of tests/e2e/stress_attach.sh: workers recurse deep enough
// to grow their stacks (morestack re-runs function prologues, where probes sit) while
// creating, deriving and cancelling contexts, and check that the context package still
// behaves. It runs until SIGTERM, then prints {"ok": true, "ops": N} and exits 0, or
// prints the first failure and exits 1.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type key int

var (
	ops    atomic.Int64
	failed atomic.Value
)

func fail(format string, a ...any) {
	failed.CompareAndSwap(nil, fmt.Sprintf(format, a...))
}

// deep recurses n frames with a large frame each, so the goroutine's stack grows, then
// exercises contexts at the bottom.
func deep(ctx context.Context, n int) int {
	var pad [256]byte
	pad[n%256] = byte(n)
	if n > 0 {
		return deep(ctx, n-1) + int(pad[n%256])
	}
	return exercise(ctx)
}

func exercise(parent context.Context) int {
	ctx, cancel := context.WithCancel(parent)
	vctx := context.WithValue(ctx, key(1), "v")
	tctx, tcancel := context.WithTimeout(vctx, time.Millisecond)
	done := make(chan struct{})
	go func() {
		<-tctx.Done()
		close(done)
	}()
	if vctx.Value(key(1)) != "v" {
		fail("value lost")
	}
	cancel()
	<-done
	if !errors.Is(tctx.Err(), context.Canceled) && !errors.Is(tctx.Err(), context.DeadlineExceeded) {
		fail("timer context not cancelled after its parent: %v", tctx.Err())
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		fail("cancel did not cancel: %v", ctx.Err())
	}
	tcancel()
	ops.Add(1)
	return 1
}

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	var quit atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; !quit.Load(); i++ {
				// A fresh goroutine each round starts with a small stack.
				ch := make(chan int)
				go func() { ch <- deep(context.Background(), 50+(i+w)%200) }()
				<-ch
				if i%20 == 0 {
					// A service's pace, not a benchmark's: keeps each watch short.
					time.Sleep(time.Millisecond)
				}
			}
		}(w)
	}
	fmt.Println("ready")
	<-stop
	quit.Store(true)
	wg.Wait()
	if f := failed.Load(); f != nil {
		fmt.Printf("{\"ok\": false, \"error\": %q}\n", f)
		os.Exit(1)
	}
	fmt.Printf("{\"ok\": true, \"ops\": %d}\n", ops.Load())
}
