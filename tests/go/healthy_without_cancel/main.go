// healthy_without_cancel: context.WithoutCancel (Go 1.21+) used on purpose: each
// request hands its audit write to a goroutine that must finish even though the
// request is over, with its own timeout. Not a leak: ctxtrace reports it as lineage
// information (rule lineage-break, severity "info"). Built by Go 1.19 (no
// WithoutCancel) the program writes synchronously and expects nothing.
package main

import (
	"context"
	"time"
)

var detached *Expect

func writeAudit(ctx context.Context) {
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
}

func handle(base context.Context) {
	req, cancel := context.WithCancel(at(detached, "scope", base))
	defer cancel()
	audit(req) // without_cancel.go / sync_audit.go
	time.Sleep(2 * time.Millisecond)
}

func main() {
	start("healthy_without_cancel", true)
	detached = &Expect{Sites: map[string]string{}}
	if haveWithoutCancel {
		detached = expect("lineage-break", "WithoutCancel on purpose: lineage information, not a leak")
		detached.Severity = "info"
	}
	base, stop := context.WithCancel(context.Background())
	defer stop()
	for i := 0; i < *flagN; i++ {
		handle(base)
		time.Sleep(*flagInterval)
	}
	time.Sleep(200 * time.Millisecond)
	finish()
}
