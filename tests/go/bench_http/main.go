// bench_http measures a small net/http service with its clients in the same
// process, over loopback: each request's handler derives a timeout context and a
// value context from the request's context and fans out to two goroutines that
// honour Done; one client in ten gives up early (a short timeout). It waits for
// SIGUSR1 (or -start-now), measures for -seconds and prints
// {"requests": N, "seconds": S, "rps": R, "gave_up": G, "all_requests": A,
// "cpu_ns": C}: A counts the warm-up too, C is the CPU time of the measured part.
// With -every D it also prints {"at_ns": wall clock ns, "requests": so far} every D.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type key struct{}

var work = flag.Int("work", 4, "sha256 rounds over 1 KiB per fan-out goroutine")

func compute(n int) byte {
	var buf [1024]byte
	var s [32]byte
	for i := 0; i < n; i++ {
		buf[0] = byte(i)
		s = sha256.Sum256(buf[:])
	}
	return s[0]
}

func handler(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	ctx = context.WithValue(ctx, key{}, r.URL.Path)
	res := make(chan byte, 2)
	for i := 0; i < 2; i++ {
		go func() {
			v := compute(*work)
			select {
			case res <- v:
			case <-ctx.Done():
			}
		}()
	}
	var sum byte
	for i := 0; i < 2; i++ {
		select {
		case v := <-res:
			sum += v
		case <-ctx.Done():
			http.Error(w, "timeout", http.StatusGatewayTimeout)
			return
		}
	}
	fmt.Fprintf(w, "%d\n", sum)
}

func client(id int, url string, stop *atomic.Bool, n, gaveUp *atomic.Int64) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for !stop.Load() {
		ctx := context.Background()
		var cancel context.CancelFunc = func() {}
		if id%10 == 0 {
			// gives up early: often before the response
			ctx, cancel = context.WithTimeout(ctx, time.Millisecond)
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		} else {
			gaveUp.Add(1)
		}
		cancel()
		n.Add(1)
	}
}

// cpuNs is the process's CPU time (user + system), as /proc/PID/stat counts it.
func cpuNs() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func main() {
	seconds := flag.Float64("seconds", 3, "measurement length")
	clients := flag.Int("clients", 10, "concurrent clients")
	now := flag.Bool("start-now", false, "do not wait for SIGUSR1")
	warmup := flag.Duration("warmup", 300*time.Millisecond, "load before measuring")
	every := flag.Duration("every", 0, "also print {\"at_ns\": wall clock ns, \"requests\": so far} this often")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, http.HandlerFunc(handler))
	url := "http://" + ln.Addr().String() + "/x"
	if !*now {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGUSR1)
		fmt.Println("ready")
		<-ch
	}
	var stop atomic.Bool
	var n, gaveUp atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			client(i, url, &stop, &n, &gaveUp)
		}(i)
	}
	if *every > 0 {
		go func() {
			for t := time.NewTicker(*every); !stop.Load(); <-t.C {
				fmt.Printf("{\"at_ns\": %d, \"requests\": %d}\n", time.Now().UnixNano(), n.Load())
			}
		}()
	}
	time.Sleep(*warmup)
	n0, g0, cpu0 := n.Load(), gaveUp.Load(), cpuNs()
	fmt.Println("measuring") // a benchmark reads its tracer's CPU time now
	start := time.Now()
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	n1, g1, cpu1 := n.Load(), gaveUp.Load(), cpuNs()
	el := time.Since(start).Seconds()
	stop.Store(true)
	wg.Wait()
	fmt.Printf("{\"requests\": %d, \"seconds\": %.3f, \"rps\": %.0f, \"gave_up\": %d, \"all_requests\": %d, \"cpu_ns\": %d}\n", n1-n0, el, float64(n1-n0)/el, g1-g0, n.Load(), cpu1-cpu0)
}
