// leak_blocked_chan: pattern 3 of leak-patterns.md, a blocked send or receive after
// the peer gave up. Each request has a 10ms timeout:
//   - fetch's producer sends on an unbuffered channel without a select on ctx.Done;
//     the caller has returned on timeout, so the send blocks forever.
//   - stream's consumer ranges over a channel the producer stops feeding on timeout
//     without closing it: the receive blocks forever.
//   - race's goroutine selects on two channels, neither of them ctx.Done.
package main

import (
	"context"
	"time"
)

var sender, receiver, selecter *Expect

func fetch(ctx context.Context) int {
	ch := make(chan int)
	next(sender, "go")
	go func() {
		time.Sleep(30 * time.Millisecond) // slower than the caller's timeout
		ch <- at(sender, "block", 42)
	}()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		return -1
	}
}

func stream(ctx context.Context) {
	in := make(chan int)
	next(receiver, "go")
	go func() {
		for v := range at(receiver, "block", in) {
			_ = v
		}
	}()
	for i := 0; ; i++ {
		select {
		case in <- i:
			time.Sleep(time.Millisecond)
		case <-ctx.Done():
			return // in is never closed
		}
	}
}

func race(ctx context.Context) {
	a, b := make(chan int), make(chan int)
	next(selecter, "go")
	go func() {
		next(selecter, "block")
		select {
		case <-a:
		case <-b:
		}
	}()
	<-ctx.Done()
}

func handle(base context.Context) {
	ctx, cancel := context.WithTimeout(at(sender, "ctx", at(receiver, "ctx", at(selecter, "ctx", base))), 10*time.Millisecond)
	defer cancel()
	fetch(ctx)
	stream(ctx)
	race(ctx)
	hit(sender)
	hit(receiver)
	hit(selecter)
}

func main() {
	start("leak_blocked_chan", false)
	sender = expect("outlived-context", "send on an unbuffered channel after the receiver timed out", "chan send")
	receiver = expect("outlived-context", "range over a channel the producer abandoned", "chan receive")
	selecter = expect("outlived-context", "select without ctx.Done", "select")
	base, stop := context.WithCancel(context.Background())
	defer stop()
	for i := 0; i < *flagN; i++ {
		handle(base)
		time.Sleep(*flagInterval)
	}
	time.Sleep(50 * time.Millisecond)
	finish()
}
