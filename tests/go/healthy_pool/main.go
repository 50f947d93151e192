// healthy_pool: worker pools that honour cancellation; must raise no alert.
//   - a long-lived pool started once, bound to the process's base context;
//   - a pool per batch: every worker selects on the batch context's Done and
//     returns when the batch is cancelled, explicitly or by its deadline.
package main

import (
	"context"
	"sync"
	"time"
)

func longLived(ctx context.Context, jobs <-chan int, out chan<- int) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-jobs:
			select {
			case out <- j * j:
			case <-ctx.Done():
				return
			}
		}
	}
}

func batch(base context.Context, n int, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(base, timeout)
	defer cancel()
	jobs := make(chan int)
	results := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-jobs:
					time.Sleep(time.Millisecond)
					select {
					case results <- j:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	go func() {
		for i := 0; i < n; i++ {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	got := 0
loop:
	for got < n {
		select {
		case <-results:
			got++
		case <-ctx.Done():
			break loop
		}
	}
	cancel()
	wg.Wait()
	return got
}

func main() {
	start("healthy_pool", true)
	base, stop := context.WithCancel(context.Background())
	defer stop()
	jobs, out := make(chan int), make(chan int)
	for w := 0; w < 4; w++ {
		go longLived(base, jobs, out)
	}
	for i := 0; i < *flagN; i++ {
		// Every third batch is too short to finish: its deadline stops the workers.
		timeout := time.Second
		if i%3 == 0 {
			timeout = 3 * time.Millisecond
		}
		batch(base, 10, timeout)
		jobs <- i
		<-out
		time.Sleep(*flagInterval)
	}
	finish()
}
