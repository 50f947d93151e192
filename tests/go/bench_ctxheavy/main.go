// bench_ctxheavy measures context-heavy throughput: each operation creates a timeout
// context, starts a goroutine that waits on it, cancels it and waits for the goroutine.
// -work adds the request's own CPU work, so the ratio is that of a service.
// It waits for SIGUSR1 (or -start-now) before measuring for -seconds, then prints
// {"ops": N, "seconds": S, "ops_per_sec": R, "all_ops": A, "cpu_ns": C}: A counts the
// warm-up too, C is the CPU time of the measured part.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

var work = flag.Int("work", 0, "sha256 rounds over 1 KiB per operation: the request's own work")
var sink [32]byte

func op(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, time.Second)
	var buf [1024]byte
	for i := 0; i < *work; i++ {
		buf[0] = byte(i)
		sink = sha256.Sum256(buf[:])
	}
	done := make(chan struct{})
	go func() {
		<-ctx.Done()
		close(done)
	}()
	cancel()
	<-done
}

// cpuNs is the process's CPU time (user + system).
func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func main() {
	seconds := flag.Float64("seconds", 3, "measurement length")
	now := flag.Bool("start-now", false, "do not wait for SIGUSR1")
	warmup := flag.Duration("warmup", 0, "load before measuring (after 1000 operations)")
	flag.Parse()
	if !*now {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGUSR1)
		fmt.Println("ready")
		<-ch
	}
	base := context.Background()
	warm := 1000
	for i := 0; i < 1000; i++ { // warm up
		op(base)
	}
	for t0 := time.Now(); time.Since(t0) < *warmup; warm += 100 {
		for i := 0; i < 100; i++ {
			op(base)
		}
	}
	n := 0
	cpu0 := cpuNs()
	fmt.Println("measuring") // a benchmark reads its tracer's CPU time now
	start := time.Now()
	limit := time.Duration(*seconds * float64(time.Second))
	for time.Since(start) < limit {
		for i := 0; i < 100; i++ {
			op(base)
		}
		n += 100
	}
	el := time.Since(start).Seconds()
	fmt.Printf("{\"ops\": %d, \"seconds\": %.3f, \"ops_per_sec\": %.0f, \"all_ops\": %d, \"cpu_ns\": %d}\n",
		n, el, float64(n)/el, n+warm, cpuNs()-cpu0)
}
