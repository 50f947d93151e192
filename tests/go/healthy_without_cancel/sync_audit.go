//go:build !go1.21

package main

import "context"

const haveWithoutCancel = false

func audit(req context.Context) { writeAudit(req) }
