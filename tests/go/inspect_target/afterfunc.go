//go:build go1.21

package main

import "context"

// AfterFunc, WithoutCancel and the *Cause variants exist since Go 1.21.
func extraContexts(ctx context.Context) int {
	c, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(c, func() {})
	cancel(nil)
	stop()
	d := context.WithoutCancel(c)
	if d.Err() != nil {
		return -100
	}
	return 100
}
