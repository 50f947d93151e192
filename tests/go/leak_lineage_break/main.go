// leak_lineage_break: pattern 6 of leak-patterns.md. Each request has its own
// context (derived from the server's base context, cancelled when the request ends):
//   - auditLog derives its timeout from context.Background() instead of the request
//     context it was given, so the request's cancellation never reaches it;
//   - the session middleware replaces the request context with one derived from
//     context.TODO() before calling the handler.
//
// Both are new roots created while the request context is live.
package main

import (
	"context"
	"time"
)

var background, todo *Expect

type request struct {
	ctx context.Context
	id  int
}

func auditLog(r *request) {
	ctx, cancel := context.WithTimeout(at(background, "ctx", context.Background()), time.Second) // should be r.ctx
	defer cancel()
	hit(background)
	time.Sleep(2 * time.Millisecond)
	_ = ctx
}

func withSession(next func(*request)) func(*request) {
	return func(r *request) {
		ctx, cancel := context.WithCancel(at(todo, "ctx", context.TODO())) // drops r.ctx
		defer cancel()
		hit(todo)
		next(&request{ctx: ctx, id: r.id})
	}
}

func handler(r *request) { time.Sleep(time.Millisecond) }

func serve(base context.Context, id int, h func(*request)) {
	ctx, cancel := context.WithCancel(at(background, "scope", at(todo, "scope", base)))
	defer cancel()
	done := make(chan struct{})
	go func() { // the request's goroutine
		defer close(done)
		r := &request{ctx: ctx, id: id}
		auditLog(r)
		h(r)
	}()
	<-done
}

func main() {
	start("leak_lineage_break", false)
	background = expect("lineage-break", "WithTimeout(context.Background()) inside a request")
	todo = expect("lineage-break", "middleware replaces the request context with one from context.TODO()")
	base, stop := context.WithCancel(context.Background())
	defer stop()
	h := withSession(handler)
	for i := 0; i < *flagN; i++ {
		serve(base, i, h)
		time.Sleep(*flagInterval)
	}
	finish()
}
