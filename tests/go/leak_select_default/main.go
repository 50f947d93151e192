// leak_select_default: pattern 4 of leak-patterns.md. The select on ctx.Done has a
// default branch and is not in a loop, so cancellation is sampled once: the job
// then runs on forever. The job mostly sleeps between small bursts of work (so the
// corpus stays cheap on a shared machine): ctxtrace sees it sleeping or running.
package main

import (
	"context"
	"crypto/sha256"
	"time"
)

var looper *Expect

func crunch(n int) {
	var sum [32]byte
	for i := 0; i < n; i++ {
		sum = sha256.Sum256(sum[:])
	}
}

func job(ctx context.Context, sampled chan<- struct{}) {
	select {
	case <-ctx.Done():
		return
	default:
		close(sampled)
		for {
			crunch(200)
			time.Sleep(at(looper, "block", 100*time.Millisecond))
		}
	}
}

func handle(base context.Context) {
	ctx, cancel := context.WithCancel(at(looper, "ctx", base))
	sampled := make(chan struct{})
	go job(at(looper, "go", ctx), sampled)
	<-sampled // Done was sampled while the request was live
	cancel()
	hit(looper)
}

func main() {
	start("leak_select_default", false)
	looper = expect("outlived-context", "select with a default branch samples ctx.Done once", "sleep", "running", "runnable")
	base, stop := context.WithCancel(context.Background())
	defer stop()
	for i := 0; i < *flagN; i++ {
		handle(base)
		time.Sleep(*flagInterval)
	}
	finish()
}
