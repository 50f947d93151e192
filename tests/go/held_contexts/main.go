// held_contexts keeps contexts open a while before cancelling them, so that a
// run traced under an overhead budget sees many of them created while the probes
// are attached and cancelled while they are not. Each of -workers loops: a
// timeout context (an hour: only its cancel ends it) with a goroutine waiting on
// its Done, held 100-400 ms, then cancelled. It prints "ready", waits for
// SIGUSR1, creates contexts for -seconds, cancels the ones it holds, waits for
// their goroutines and prints {"created": N, "open": 0}, then stays -linger
// before exiting (a tracer reads its memory meanwhile).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"math/rand"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	workers := flag.Int("workers", 100, "concurrent holders")
	seconds := flag.Float64("seconds", 4, "how long contexts are created")
	linger := flag.Duration("linger", 3*time.Second, "stay alive this long after the last cancel")
	flag.Parse()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	os.Stdout.WriteString("ready\n")
	<-ch

	var created, open atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
				created.Add(1)
				open.Add(1)
				waited := make(chan struct{})
				go func() {
					<-ctx.Done()
					close(waited)
				}()
				time.Sleep(time.Duration(100+rnd.Intn(300)) * time.Millisecond)
				cancel()
				open.Add(-1)
				<-waited
			}
		}(int64(w))
	}
	wg.Wait()
	json.NewEncoder(os.Stdout).Encode(map[string]int64{"created": created.Load(), "open": open.Load()})
	time.Sleep(*linger)
}
