// probe_bench drives ctxtrace's probes with a known workload and prints what it
// did, so tests can compare the records the probes produce with the truth.
//
//	probe_bench smoke START_FILE N   wait for START_FILE, then create N cancel,
//	                                 timer and value contexts and start N goroutines;
//	                                 print one line per object (address, goid)
//	probe_bench bench START_FILE FN ITERS
//	                                 wait for START_FILE, then call FN (value, done,
//	                                 cancel) ITERS times in a tight loop; print ns/op
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

type key struct{}

func waitFor(path string) {
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goid parses "goroutine N [" from the goroutine's own stack dump.
func goid() uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	if i := bytes.IndexByte(buf, ' '); i > 0 {
		n, _ := strconv.ParseUint(string(buf[:i]), 10, 64)
		return n
	}
	return 0
}

//go:noinline
func smoke(n int) {
	bg := context.Background()
	fmt.Printf("main_goid %d\n", goid())
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithCancel(bg)
		fmt.Printf("cancel_ctx %p\n", ctx)
		_ = ctx.Done()
		_ = ctx.Done() // the same goroutine again: deduplicated
		cancel()
		cancel() // a second call: already cancelled
	}
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(bg, time.Hour)
		fmt.Printf("timer_ctx %p\n", ctx)
		cancel()
	}
	for i := 0; i < n; i++ {
		ctx := context.WithValue(bg, key{}, i)
		fmt.Printf("value_ctx %p\n", ctx)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := goid()
			mu.Lock()
			fmt.Printf("goroutine %d\n", id)
			mu.Unlock()
		}()
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond) // let the goroutines reach goexit
}

var sink context.Context

//go:noinline
func bench(fn string, iters int) time.Duration {
	bg := context.Background()
	parent, cancelParent := context.WithCancel(bg)
	defer cancelParent()
	var c context.Context = parent
	start := time.Now()
	switch fn {
	case "value":
		for i := 0; i < iters; i++ {
			sink = context.WithValue(bg, key{}, i)
		}
	case "done":
		for i := 0; i < iters; i++ {
			_ = c.Done()
		}
	case "cancel":
		for i := 0; i < iters; i++ {
			ctx, cancel := context.WithCancel(bg)
			cancel()
			sink = ctx
		}
	default:
		fmt.Fprintln(os.Stderr, "probe_bench: unknown function", fn)
		os.Exit(2)
	}
	return time.Since(start)
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: probe_bench smoke START N | bench START FN ITERS")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "smoke":
		n, _ := strconv.Atoi(os.Args[3])
		waitFor(os.Args[2])
		smoke(n)
	case "bench":
		if len(os.Args) < 5 {
			os.Exit(2)
		}
		iters, _ := strconv.Atoi(os.Args[4])
		waitFor(os.Args[2])
		d := bench(os.Args[3], iters)
		fmt.Printf("ns_per_op %.1f\n", float64(d.Nanoseconds())/float64(iters))
	default:
		os.Exit(2)
	}
}
