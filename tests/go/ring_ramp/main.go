// ring_ramp makes contexts at a rate that doubles every quarter second (200 to
// 12,800 operations per second), so a traced run's ring buffer must grow while
// records arrive. Each operation creates a timeout context in op, starts a
// goroutine in op that waits on it, cancels it and waits for the goroutine.
// It waits for the file named by its argument, runs, waits for the last
// goroutines to exit, and prints {"pid": P, "ops": N, "seconds": S}: N is every
// operation it made, all in op.
package main

import (
	"context"
	"encoding/json"
	"os"
	"time"
)

func op(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, time.Minute)
	done := make(chan struct{})
	go func() {
		<-ctx.Done()
		close(done)
	}()
	cancel()
	<-done
}

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: ring_ramp START_FILE\n")
		os.Exit(2)
	}
	for {
		if _, err := os.Stat(os.Args[1]); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	base := context.Background()
	ops := 0
	start := time.Now()
	// 5 ms ticks: rate/200 operations back to back, then sleep to the tick.
	for rate := 200; rate <= 12800; rate *= 2 {
		step := time.Now()
		for tick := 0; tick < 50; tick++ {
			for i := 0; i < rate/200; i++ {
				op(base)
				ops++
			}
			if d := time.Until(step.Add(time.Duration(tick+1) * 5 * time.Millisecond)); d > 0 {
				time.Sleep(d)
			}
		}
	}
	secs := time.Since(start).Seconds()
	time.Sleep(200 * time.Millisecond) // the last goroutines exit
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"pid": os.Getpid(), "ops": ops, "seconds": secs})
}
