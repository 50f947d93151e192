//go:build !go1.21

package main

import "context"

// Before Go 1.21 a cancel carries no cause.
func causeOf(c context.Context) *string { return nil }
func canceledCause() *string           { return nil }

// AfterFunc, WithoutCancel and the *Cause variants do not exist before 1.21.
func extra(base context.Context, rb *ctxRec) {}
