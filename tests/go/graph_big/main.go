// graph_big makes a large context graph, for the daemon stress test: it waits
// until GOFILE exists (the daemon is attached by then), creates N contexts
// under one root (a tree 10 wide), starts G goroutines that wait on leaves,
// cancels every context (each by its own cancel func, so no rule fires: the
// test is about the daemon's clients, and the daemon keeps the cancelled
// contexts for its retention), prints "ready N G" and sleeps.
//
// Usage: graph_big GOFILE N G [keep]; with keep nothing is cancelled (every
// context is then a lost-cancel finding: the rules' cost, not the clients').
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// pace lets the tracer's reader keep up: the test is about the daemon's
// clients, not about a burst that overflows the ring buffer.
func pace(i int) {
	if i%500 == 0 {
		time.Sleep(2 * time.Millisecond)
	}
}

func main() {
	if len(os.Args) != 4 && len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: graph_big GOFILE N G [keep]")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[2])
	g, _ := strconv.Atoi(os.Args[3])
	for {
		if _, err := os.Stat(os.Args[1]); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctxs := make([]context.Context, 0, n)
	cancels := make([]context.CancelFunc, 0, n)
	root, stop := context.WithCancel(context.Background())
	ctxs = append(ctxs, root)
	cancels = append(cancels, stop)
	for i := 1; i < n; i++ {
		c, cancel := context.WithCancel(ctxs[(i-1)/10])
		ctxs = append(ctxs, c)
		cancels = append(cancels, cancel)
		pace(i)
	}
	for i := 0; i < g; i++ {
		go func(c context.Context) { <-c.Done() }(ctxs[n-1-i%(n/2)])
	}
	for i := len(cancels) - 1; i >= 0 && len(os.Args) == 4; i-- {
		cancels[i]()
		pace(i)
	}
	fmt.Println("ready", n, g)
	time.Sleep(10 * time.Minute)
}
