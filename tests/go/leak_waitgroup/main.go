// leak_waitgroup: pattern 5 of leak-patterns.md, a WaitGroup masks cancellation.
// gather is given the request's context but waits on wg.Wait() for workers that
// never look at it; the workers block on a send nobody receives once the request
// has timed out. Both gather and its workers outlive the context.
package main

import (
	"context"
	"sync"
	"time"
)

var waiter, workers *Expect

const perRequest = 3

func work(results chan<- int, wg *sync.WaitGroup, i int) {
	defer wg.Done()
	time.Sleep(20 * time.Millisecond)
	results <- at(workers, "block", i) // nobody receives after the timeout
}

func gather(ctx context.Context, results chan int) {
	var wg sync.WaitGroup
	for i := 0; i < perRequest; i++ {
		wg.Add(1)
		go work(at(workers, "go", results), &wg, i)
	}
	next(waiter, "block")
	wg.Wait() // does not look at ctx
	close(results)
}

func handle(base context.Context) {
	ctx, cancel := context.WithTimeout(at(waiter, "ctx", at(workers, "ctx", base)), 10*time.Millisecond)
	defer cancel()
	results := make(chan int)
	go gather(at(waiter, "go", ctx), results)
	select {
	case <-results:
	case <-ctx.Done():
	}
	hit(waiter)
	for i := 0; i < perRequest; i++ {
		hit(workers)
	}
}

func main() {
	start("leak_waitgroup", false)
	// Go 1.24 added the wait reason "sync.WaitGroup.Wait"; before it, "semacquire".
	waiter = expect("outlived-context", "wg.Wait() on workers that ignore the context", "semacquire", "sync.WaitGroup.Wait")
	workers = expect("outlived-context", "workers that never look at the context", "chan send")
	base, stop := context.WithCancel(context.Background())
	defer stop()
	for i := 0; i < *flagN; i++ {
		handle(base)
		time.Sleep(*flagInterval)
	}
	time.Sleep(50 * time.Millisecond)
	finish()
}
