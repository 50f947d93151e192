// leak_churn: patterns 1 and 3 of leak-patterns.md among thousands of healthy
// contexts per second (issue 14's undercount). The Go allocator reuses a context's
// address once the GC freed it: a healthy context made at a leaked one's address
// must not erase the leak.
//   - leakCancel drops the cancel func of a WithCancel from Background: the context
//     is collected, never cancelled;
//   - handle's producer blocks on a send after handle gave up on its 5ms timeout: the
//     goroutine outlives its context, which is collected too.
// Meanwhile two goroutines make and cancel ~2,000 contexts/s, and the GC runs every
// 100ms, so the leaked contexts' addresses are reused within the watch.
package main

import (
	"context"
	"runtime"
	"time"
)

var lost, outlived *Expect

func leakCancel() {
	ctx, _ := context.WithCancel(at(lost, "ctx", context.Background())) // the cancel func is dropped
	_ = ctx
	hit(lost)
}

func handle() {
	ctx, cancel := context.WithTimeout(at(outlived, "ctx", context.Background()), 5*time.Millisecond)
	defer cancel()
	ch := make(chan int)
	next(outlived, "go")
	go func() {
		time.Sleep(10 * time.Millisecond)
		ch <- at(outlived, "block", 1)
	}()
	select {
	case <-ch:
	case <-ctx.Done():
		hit(outlived)
	}
}

// churn makes and cancels contexts, about 1,000 per second.
func churn() {
	for {
		for i := 0; i < 10; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			<-ctx.Done()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func main() {
	start("leak_churn", false)
	lost = expect("lost-cancel", "WithCancel(Background()) whose cancel func is dropped, collected while healthy contexts reuse its address")
	outlived = expect("outlived-context", "send after the caller's timeout; its context collected, its address reused", "chan send")
	go churn()
	go churn()
	go func() {
		for {
			time.Sleep(100 * time.Millisecond)
			runtime.GC()
		}
	}()
	for i := 0; i < *flagN; i++ {
		leakCancel()
		handle()
		time.Sleep(*flagInterval)
	}
	time.Sleep(300 * time.Millisecond) // a few collections: the addresses are reused
	finish()
}
