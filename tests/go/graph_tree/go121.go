//go:build go1.21

package main

import "context"

const hasAfterFunc = true

// extra adds what Go 1.21 brought: a WithoutCancel context with a child that
// survives the parent's cancel, and an AfterFunc context.
func extra(root context.Context, rroot *ctxRec, me *goRec) {
	wc := context.WithoutCancel(root)
	rwc := add(wc, "withoutcancel", rroot, nil) // inlined: ctxtrace discovers it
	w2, cancelW2 := context.WithCancel(wc)
	add(w2, "cancel", rwc, me)
	_ = cancelW2
	af := context.AfterFunc(root, func() {})
	_ = af
}
