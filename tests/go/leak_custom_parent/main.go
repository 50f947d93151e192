// leak_custom_parent: pattern 8 of leak-patterns.md. Sessions carry a user-defined
// Context type. Every context derived from it makes the runtime start a watcher
// goroutine (context.propagateCancel cannot register the child with a parent it does
// not know), and the watchers pile up because nothing is ever cancelled: the cancel
// funcs are kept in a registry that is never drained.
package main

import (
	"context"
	"sync"
	"time"
)

var watchers, kept *Expect

// sessionCtx is a Context of the program's own: not a *context.cancelCtx, and no
// AfterFunc method (Go 1.21+ would use it instead of a goroutine).
type sessionCtx struct {
	done chan struct{}
	user string
}

func (s *sessionCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (s *sessionCtx) Done() <-chan struct{}       { return s.done }
func (s *sessionCtx) Err() error {
	select {
	case <-s.done:
		return context.Canceled
	default:
		return nil
	}
}
func (s *sessionCtx) Value(key any) any { return nil }

var registry struct {
	sync.Mutex
	cancels []context.CancelFunc
}

func call(sess *sessionCtx) {
	ctx, cancel := context.WithCancel(at(watchers, "derive", at(kept, "ctx", context.Context(sess))))
	registry.Lock()
	registry.cancels = append(registry.cancels, cancel) // never called
	registry.Unlock()
	hit(watchers)
	hit(kept)
	_ = ctx
}

func main() {
	start("leak_custom_parent", false)
	watchers = expect("propagate-goroutine", "contexts derived from a custom Context type: one watcher goroutine each", "select")
	kept = expect("lost-cancel", "the same contexts: their cancel funcs are stored and never called", "select")
	sess := &sessionCtx{done: make(chan struct{}), user: "alice"}
	for i := 0; i < *flagN; i++ {
		call(sess)
		time.Sleep(*flagInterval)
	}
	finish()
}
