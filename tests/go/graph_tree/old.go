//go:build !go1.21

package main

import "context"

const hasAfterFunc = false

// WithoutCancel and AfterFunc do not exist before Go 1.21.
func extra(root context.Context, rroot *ctxRec, me *goRec) {}
