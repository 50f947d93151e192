// healthy_signal: a process-wide root context from signal.NotifyContext, with
// long-lived workers bound to it and short per-tick contexts derived from it;
// must raise no alert: the root lives as long as the process, by design.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func worker(ctx context.Context, id int) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			step, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			select {
			case <-step.Done():
			case <-time.After(time.Millisecond):
			}
			cancel()
		}
	}
}

func main() {
	start("healthy_signal", true)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for i := 0; i < 4; i++ {
		go worker(ctx, i)
	}
	for i := 0; i < *flagN; i++ {
		c, cancel := context.WithCancel(ctx)
		go func() { <-c.Done() }()
		time.Sleep(*flagInterval)
		cancel()
	}
	finish()
}
