// demo_leaky is the bundled demo: a small order service whose request handlers leak in
// three common ways. `make demo` runs it and attaches ctxtrace to it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

type order struct{ id int }

// fetchPrice asks a slow backend; the result channel is unbuffered, so when the
// caller times out first, this goroutine blocks forever on its send.
func fetchPrice(ctx context.Context, o order) <-chan int {
	ch := make(chan int)
	go func() {
		time.Sleep(50 * time.Millisecond) // the backend is slower than the caller's timeout
		ch <- o.id * 100                  // leak: nobody receives after the timeout
	}()
	return ch
}

// handle is one request. Its timeout is short, so fetchPrice's goroutine outlives it.
func handle(parent context.Context, o order) {
	ctx, cancel := context.WithTimeout(parent, 10*time.Millisecond)
	defer cancel()
	select {
	case p := <-fetchPrice(ctx, o):
		_ = p
	case <-ctx.Done():
	}
}

// audit drops its cancel func: every call leaves a live context behind.
func audit(parent context.Context, o order) {
	ctx, _ := context.WithCancel(parent) //nolint: the lost cancel is the point
	_ = ctx
}

// notify starts from context.Background() instead of the request's context, so the
// request's cancellation never reaches it.
func notify(reqCtx context.Context, o order, wg *sync.WaitGroup) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		<-ctx.Done() // never cancelled: the lineage is broken
	}()
	_ = reqCtx
}

func main() {
	base, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("demo_leaky pid %d: serving fake orders; Ctrl-C to stop\n", os.Getpid())
	var wg sync.WaitGroup
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-base.Done():
			return
		case <-tick.C:
		}
		req, cancel := context.WithCancel(base)
		o := order{id: i}
		handle(req, o)
		audit(base, o) // the server-wide context: every lost cancel stays registered in it
		if i%5 == 0 {
			notify(req, o, &wg)
		}
		cancel()
	}
}
