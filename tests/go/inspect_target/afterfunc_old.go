//go:build !go1.21

package main

import "context"

func extraContexts(ctx context.Context) int {
	c, cancel := context.WithCancel(ctx)
	cancel()
	if c.Err() == nil {
		return -100
	}
	return 100
}
