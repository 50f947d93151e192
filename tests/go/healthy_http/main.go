// healthy_http: a net/http server and client on loopback, with keep-alive, under a
// bounded load; must raise no alert. Handlers derive a timeout from r.Context(),
// start a goroutine that honours it and cancel on return. The idle keep-alive
// connection loops (server conn goroutines, client persistConn read/write loops)
// outlive each request by design.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

func compute(ctx context.Context, n int) (int, error) {
	res := make(chan int, 1)
	go func() {
		select {
		case res <- n * 2:
		case <-ctx.Done():
		}
	}()
	select {
	case v := <-res:
		return v, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func handler(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 500*time.Millisecond)
	defer cancel()
	v, err := compute(ctx, len(r.URL.Path))
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "%d\n", v)
}

func get(client *http.Client, base context.Context, url string) error {
	ctx, cancel := context.WithTimeout(base, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// load runs clients x perClient requests over keep-alive connections.
func load(client *http.Client, base context.Context, url string, clients, perClient int) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				if err := get(client, base, url); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failed
}

func main() {
	start("healthy_http", true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(handler), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: 5 * time.Minute}}
	url := "http://" + ln.Addr().String() + "/work"
	base, stop := context.WithCancel(context.Background())
	defer stop()
	const clients = 8
	per := *flagN * 10 / clients
	failed := 0
	// Three bursts: between them the connections idle, kept alive, and are reused.
	for burst := 0; burst < 3; burst++ {
		failed += load(client, base, url, clients, per)
		time.Sleep(time.Second)
	}
	note("%d requests over keep-alive, %d failed", 3*clients*per, failed)
	go func() {
		time.Sleep(8 * time.Second)
		load(client, base, url, clients, per)
	}()
	finish()
}
