// leak_lost_cancel: pattern 1 of leak-patterns.md, the dropped cancel func.
//
//   - subscribe drops the cancel func of a WithCancel derived from the process's base
//     context: every call leaves a live context registered in base, and a goroutine
//     waiting on its Done forever.
//   - lookup returns early before `defer cancel()`: its WithTimeout contexts are never
//     cancelled by their cancel func, they only expire by deadline.
package main

import (
	"context"
	"errors"
	"time"
)

var errNotCached = errors.New("not cached")

var live, expired *Expect

func subscribe(base context.Context, topic int) {
	ctx, _ := context.WithCancel(at(live, "ctx", base)) // the cancel func is dropped
	next(live, "go")
	go func() {
		<-at(live, "block", ctx).Done()
	}()
	hit(live)
}

func lookup(base context.Context, key int) error {
	ctx, cancel := context.WithTimeout(at(expired, "ctx", base), 50*time.Millisecond)
	if key >= 0 {
		hitAt(expired, time.Now().Add(50*time.Millisecond))
		return errNotCached // early return: cancel is never called
	}
	defer cancel()
	<-ctx.Done()
	return nil
}

func main() {
	start("leak_lost_cancel", false)
	live = expect("lost-cancel", "WithCancel whose cancel func is dropped; a goroutine waits on its Done", "chan receive")
	expired = expect("lost-cancel", "WithTimeout whose cancel is skipped by an early return; expires by deadline")
	base, stop := context.WithCancel(context.Background())
	defer stop()
	for i := 0; i < *flagN; i++ {
		subscribe(base, i)
		done := make(chan struct{})
		go func(i int) { // one short request per lookup; it exits
			lookup(base, i)
			close(done)
		}(i)
		<-done
		time.Sleep(*flagInterval)
	}
	time.Sleep(100 * time.Millisecond) // the last deadlines pass
	finish()
}
