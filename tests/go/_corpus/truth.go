// Shared by every program of the leak corpus (tests/go/leak_*/, tests/go/healthy_*/):
// each has a symlink truth.go -> ../_corpus/truth.go (the go tool ignores "_" folders).
//
// A corpus program says on stdout, as one JSON line, what ctxtrace must find in it:
// the alerts it expects (rule and file:line sites taken with runtime.Caller, so they
// cannot drift from the code) and how many instances it made. The tests compare
// ctxtrace's alerts with that line; they never ask ctxtrace what the truth is.
//
// Life of a program: print {"type":"start"}, wait -delay so ctxtrace can attach,
// make -n instances of its pattern, print {"type":"truth",...}, stay alive until
// -life has passed (or it is killed).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Expect is one alert the program must raise: rule plus sites.
// Site roles: "ctx" context creation site; "scope" the live context a lineage break
// happened in; "go" go statement; "block" where the goroutine is blocked; "derive"
// the WithCancel/... call whose custom parent made the runtime start a watcher.
type Expect struct {
	Rule     string            `json:"rule"`
	Severity string            `json:"severity,omitempty"` // only when it must be this one
	Count    int               `json:"count"`              // instances made
	Sites    map[string]string `json:"sites"`              // role -> "main.go:41"
	Wait     []string          `json:"wait,omitempty"`     // acceptable wait reasons or syscalls
	What     string            `json:"what"`
	// Wall-clock times (Unix ms) at which the first and the last instance's condition
	// began: a context cancelled, a deadline passed, a new root created.
	FirstMs int64 `json:"first_ms,omitempty"`
	LastMs  int64 `json:"last_ms,omitempty"`
	mu      sync.Mutex
}

// Truth is the line the tests read.
type Truth struct {
	Type    string    `json:"type"` // "truth"
	Program string    `json:"program"`
	Pid     int       `json:"pid"`
	Go      string    `json:"go"`
	Cgo     bool      `json:"cgo"`
	Healthy bool      `json:"healthy"` // no alert expected beyond Expect
	Expect  []*Expect `json:"expect"`
	StartMs int64     `json:"start_ms"` // first instance started
	ReadyMs int64     `json:"ready_ms"` // all instances made
	Notes   []string  `json:"notes,omitempty"`
}

var (
	flagN        = flag.Int("n", 30, "instances of the pattern to make")
	flagDelay    = flag.Duration("delay", 1500*time.Millisecond, "wait before the first instance (time to attach)")
	flagLife     = flag.Duration("life", 60*time.Second, "exit after this long")
	flagInterval = flag.Duration("interval", 20*time.Millisecond, "time between instances")
	truth        Truth
	born         = time.Now()
)

// start parses the flags, announces the program and waits for ctxtrace to attach.
func start(program string, healthy bool) {
	flag.Parse()
	truth = Truth{Type: "truth", Program: program, Pid: os.Getpid(), Go: runtime.Version(), Healthy: healthy}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "CGO_ENABLED" && s.Value == "1" {
				truth.Cgo = true
			}
		}
	}
	emit(map[string]any{"type": "start", "program": program, "pid": truth.Pid, "go": truth.Go})
	go func() {
		time.Sleep(*flagLife)
		os.Exit(0)
	}()
	time.Sleep(*flagDelay)
	truth.StartMs = time.Now().UnixMilli()
}

// expect declares an alert the program will raise.
func expect(rule, what string, wait ...string) *Expect {
	e := &Expect{Rule: rule, What: what, Sites: map[string]string{}, Wait: wait}
	truth.Expect = append(truth.Expect, e)
	return e
}

func note(format string, args ...any) {
	truth.Notes = append(truth.Notes, fmt.Sprintf(format, args...))
}

// finish prints the truth line and keeps the process (and its leaks) alive.
func finish() {
	truth.ReadyMs = time.Now().UnixMilli()
	if truth.Expect == nil {
		truth.Expect = []*Expect{}
	}
	emit(truth)
	select {}
}

func emit(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(append(b, '\n'))
}

func caller(skip, add int) string {
	_, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return "?"
	}
	return fmt.Sprintf("%s:%d", filepath.Base(file), line+add)
}

// at records the line it is called from as e's site for role, and returns v, so it
// can wrap an argument on the very line whose pc ctxtrace sees:
//
//	ctx, _ := context.WithCancel(at(e, "ctx", parent))
func at[T any](e *Expect, role string, v T) T {
	s := caller(1, 0)
	e.mu.Lock()
	if _, ok := e.Sites[role]; !ok {
		e.Sites[role] = s
	}
	e.mu.Unlock()
	return v
}

// next records the line after the call as e's site for role: for statements that
// take no argument to wrap (go func() {...}(), wg.Wait()).
func next(e *Expect, role string) {
	s := caller(1, 1)
	e.mu.Lock()
	if _, ok := e.Sites[role]; !ok {
		e.Sites[role] = s
	}
	e.mu.Unlock()
}

// hit counts one instance whose condition begins now.
func hit(e *Expect) {
	now := time.Now().UnixMilli()
	e.mu.Lock()
	e.Count++
	if e.FirstMs == 0 {
		e.FirstMs = now
	}
	e.LastMs = now
	e.mu.Unlock()
}

// hitAt counts one instance whose condition began at t.
func hitAt(e *Expect, t time.Time) {
	ms := t.UnixMilli()
	e.mu.Lock()
	e.Count++
	if e.FirstMs == 0 || ms < e.FirstMs {
		e.FirstMs = ms
	}
	if ms > e.LastMs {
		e.LastMs = ms
	}
	e.mu.Unlock()
}

// goMinor is the Go minor version that built the program (19 for go1.19.8).
func goMinor() int {
	var minor int
	fmt.Sscanf(strings.TrimPrefix(runtime.Version(), "go1."), "%d", &minor)
	return minor
}

// forever blocks the calling goroutine for good without using the CPU.
func forever() { select {} }

var _ = forever
var _ = goMinor
var _ = note
var _ = hitAt
