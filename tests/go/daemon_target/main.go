// daemon_target is the program tests/e2e/daemon*.sh let ctxtraced find by name: it
// says it is ready, then leaks like a request handler would (a dropped cancel
// func, and a worker blocked on a send nobody receives after its request timed
// out) until it is stopped. -leaks bounds how many it leaks.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func worker(ctx context.Context, out chan<- int) {
	time.Sleep(5 * time.Millisecond)
	out <- 1 // blocks forever once the caller gave up
}

func request(base context.Context) {
	ctx, cancel := context.WithTimeout(base, time.Millisecond)
	defer cancel()
	ch := make(chan int)
	go worker(ctx, ch)
	select {
	case <-ch:
	case <-ctx.Done():
	}
}

func audit(base context.Context) {
	ctx, _ := context.WithCancel(base) // the dropped cancel func is the point
	_ = ctx
}

func main() {
	leaks := flag.Int("leaks", 2000, "stop leaking after this many requests")
	flag.Parse()
	base, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("daemon_target pid %d ready\n", os.Getpid())
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-base.Done():
			fmt.Printf("daemon_target pid %d stopping\n", os.Getpid())
			return
		case <-tick.C:
		}
		if i < *leaks {
			request(base)
			audit(base)
		}
	}
}
