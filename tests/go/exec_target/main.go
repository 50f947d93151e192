// exec_target leaks goroutines that outlive their cancelled contexts, then
// replaces itself with another program, as a service's re-exec does.
//
// Usage: exec_target GOFILE sleep|self. Leaks 5 goroutines, waits until GOFILE
// exists (ctxtrace is attached by then), leaks 5 more, prints "exec" on stdout
// and, 1 s later, executes /bin/sleep 30 (sleep) or itself as "exec_target idle"
// (self), which only sleeps: no goroutine of the old image exists any more.
package main

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
)

var block = make(chan struct{})

func leak(n int) {
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go func(ctx context.Context) {
			<-block // never returns: outlives ctx
		}(ctx)
		cancel()
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "idle" {
		time.Sleep(60 * time.Second)
		return
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: exec_target GOFILE sleep|self")
		os.Exit(2)
	}
	leak(5)
	for {
		if _, err := os.Stat(os.Args[1]); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	leak(5)
	fmt.Println("exec")
	time.Sleep(time.Second)
	var err error
	if os.Args[2] == "self" {
		exe, _ := os.Executable()
		err = syscall.Exec(exe, []string{os.Args[0], "idle"}, os.Environ())
	} else {
		err = syscall.Exec("/bin/sleep", []string{"sleep", "30"}, os.Environ())
	}
	fmt.Fprintln(os.Stderr, "exec:", err)
	os.Exit(1)
}
