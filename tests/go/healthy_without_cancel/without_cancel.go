//go:build go1.21

package main

import (
	"context"
	"time"
)

const haveWithoutCancel = true

func audit(req context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(at(detached, "ctx", req)), time.Second)
	hit(detached)
	go func() {
		defer cancel()
		writeAudit(ctx)
	}()
}
