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

// fetch asks a slow backend; its result channel is unbuffered.
func fetch(ctx context.Context) <-chan int {
	ch := make(chan int)
	next(sender, "go")
	go func() {
		time.Sleep(30 * time.Millisecond) // slower than the caller's timeout
		ch <- at(sender, "block", 42)
	}()
	return ch
}

// stream starts a consumer of the channel it returns.
func stream(ctx context.Context) chan<- int {
	in := make(chan int)
	next(receiver, "go")
	go func() {
		for v := range at(receiver, "block", in) {
			_ = v
		}
	}()
	return in
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
}

func handle(base context.Context) {
	ctx, cancel := context.WithTimeout(at(sender, "ctx", at(receiver, "ctx", at(selecter, "ctx", base))), 10*time.Millisecond)
	defer cancel()
	price := fetch(ctx)
	in := stream(ctx)
	race(ctx)
	for i := 0; ; i++ {
		select {
		case <-price: // late, on a loaded machine: the consumer and the selecter leak all the same
			hit(receiver)
			hit(selecter)
			return
		case in <- i:
			time.Sleep(time.Millisecond)
		case <-ctx.Done(): // gives up: the price is never received, in never closed
			hit(sender)
			hit(receiver)
			hit(selecter)
			return
		}
	}
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
