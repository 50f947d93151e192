// leak_unreachable: pattern 7 of leak-patterns.md, cancellation cannot reach a
// blocking call. Each request has a 10ms timeout and starts a goroutine that:
//   - reads a loopback TCP connection nobody writes to, with no deadline (IO wait);
//   - reads a pipe with syscall.Read, blocking its thread in read(2);
//   - in cgo builds (cgo.go), calls C code waiting in pthread_cond_wait (futex).
//
// Cancelling the request's context cannot wake any of them.
package main

import (
	"context"
	"net"
	"syscall"
	"time"
)

var netRead, pipeRead *Expect

// A listener that accepts and keeps the connections, never writing to them.
func listen() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() {
		var keep []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			keep = append(keep, c)
		}
	}()
	return ln.Addr().String(), nil
}

func readReply(conn net.Conn) {
	buf := make([]byte, 64)
	conn.Read(at(netRead, "block", buf)) // no deadline: cancellation cannot reach it
}

func readPipe(fd int) {
	buf := make([]byte, 64)
	syscall.Read(at(pipeRead, "block", fd), buf) // blocking fd: the thread sits in read(2)
}

func handle(base context.Context, conn net.Conn, fd int) {
	ctx, cancel := context.WithTimeout(at(netRead, "ctx", at(pipeRead, "ctx", at(cgoWait, "ctx", base))), 10*time.Millisecond)
	defer cancel()
	go readReply(at(netRead, "go", conn))
	go readPipe(at(pipeRead, "go", fd))
	startCgo(ctx)
	<-ctx.Done()
	hit(netRead)
	hit(pipeRead)
	if truth.Cgo {
		hit(cgoWait)
	}
}

func main() {
	start("leak_unreachable", false)
	netRead = expect("unreachable-cancel", "TCP read with no deadline", "IO wait")
	pipeRead = expect("unreachable-cancel", "syscall.Read on a blocking pipe", "read")
	if truth.Cgo {
		cgoWait = expect("unreachable-cancel", "cgo call waiting in pthread_cond_wait", "futex")
	} else {
		cgoWait = &Expect{Sites: map[string]string{}}
	}
	addr, err := listen()
	if err != nil {
		panic(err)
	}
	base, stop := context.WithCancel(context.Background())
	defer stop()
	n := *flagN
	if n > 20 {
		n = 20 // the pipe and cgo variants hold one OS thread each
	}
	for i := 0; i < n; i++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			panic(err)
		}
		var p [2]int
		if err := syscall.Pipe(p[:]); err != nil {
			panic(err)
		}
		handle(base, conn, p[0])
		time.Sleep(*flagInterval)
	}
	finish()
}
