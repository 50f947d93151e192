// healthy_timeout: a WithTimeout whose deadline fires before the deferred cancel
// runs (the work takes longer than the timeout and ignores it only briefly); the
// cancel is still called, so nothing is lost. Must raise no alert.
package main

import (
	"context"
	"time"
)

func slowWork(base context.Context) error {
	ctx, cancel := context.WithTimeout(base, 10*time.Millisecond)
	defer cancel() // runs ~30ms after the deadline fired
	time.Sleep(40 * time.Millisecond)
	return ctx.Err()
}

func request(base context.Context) {
	ctx, cancel := context.WithTimeout(base, 5*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { // outlives its context by ~35ms, far below any grace period
		defer close(done)
		slowWork(ctx)
	}()
	<-done
}

func main() {
	start("healthy_timeout", true)
	base, stop := context.WithCancel(context.Background())
	defer stop()
	for i := 0; i < *flagN; i++ {
		if i%2 == 0 {
			slowWork(base)
		} else {
			request(base)
		}
		time.Sleep(*flagInterval)
	}
	finish()
}
