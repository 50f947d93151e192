//go:build go1.21

package main

import "context"

// Go 1.21 added AfterFunc (afterFuncCtx) and WithoutCancel (withoutCancelCtx).
func useNewContexts(ctx context.Context) context.Context {
	stop := context.AfterFunc(ctx, func() {})
	defer stop()
	return context.WithoutCancel(ctx)
}
