// run_leaktest: a Go test package for `ctxtrace run` (tests/e2e/run_cli.sh), built
// with `go test -c`. Its tests pass either way; with CTXTRACE_PLANT_LEAK=1,
// TestRequests leaks: workers still blocked on an unbuffered send, holding the
// context that timed out, when the binary exits. It prints one JSON line with the
// leak's sites (runtime.Caller, so they cannot drift from the code) for the test
// to compare with ctxtrace's findings.
package leaktest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	mu      sync.Mutex
	sites   = map[string]string{}
	sending atomic.Int32 // leaking workers about to block
)

// site records the line after the call as the site of role.
func site(role string) {
	_, file, line, _ := runtime.Caller(1)
	mu.Lock()
	sites[role] = fmt.Sprintf("%s:%d", filepath.Base(file), line+1)
	mu.Unlock()
}

// worker computes a result and hands it over without watching ctx.Done: when
// the caller gave up, the send blocks for good. ctx stays live across the send.
func worker(ctx context.Context, out chan<- int, leak bool) {
	time.Sleep(20 * time.Millisecond)
	if leak {
		sending.Add(1)
		site("block")
		out <- 42
	} else {
		select {
		case out <- 42:
		case <-ctx.Done():
		}
	}
	if ctx.Err() == nil {
		runtime.Gosched()
	}
}

func request(leak bool, wg *sync.WaitGroup) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	out := make(chan int)
	if !leak {
		wg.Add(1)
	}
	site("go")
	go func() {
		worker(ctx, out, leak)
		if !leak {
			wg.Done()
		}
	}()
	select {
	case <-out:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parked counts the goroutines the runtime shows parked in worker's send.
func parked() int {
	buf := make([]byte, 1<<20)
	dump := string(buf[:runtime.Stack(buf, true)])
	n := 0
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, "[chan send") && strings.Contains(g, "run_leaktest.worker(") {
			n++
		}
	}
	return n
}

func TestRequests(t *testing.T) {
	leak := os.Getenv("CTXTRACE_PLANT_LEAK") == "1"
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 5; i++ {
		if request(leak, &wg) != nil {
			n++
		}
	}
	wg.Wait()
	for leak && (int(sending.Load()) < n || parked() < n) {
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	b, _ := json.Marshal(map[string]any{"type": "truth", "leak": leak, "timeouts": n, "sites": sites})
	fmt.Println(string(b))
}
