// leak_shared_pool: pattern 9 of leak-patterns.md, one context shared by a worker
// pool, without a WithCancel per worker or per job.
//   - startPool drops the pool context's cancel func: nothing ever stops the
//     workers, which wait on the jobs channel and the shared Done forever ("none").
//   - batch shares one timeout between all its workers; when it fires, batch stops
//     reading results and its workers block on their send ("one cancel stops all"
//     would have needed every worker to select on Done).
package main

import (
	"context"
	"time"
)

var idle, stuck *Expect

const workersPerPool = 5

func startPool(base context.Context) chan<- int {
	ctx, _ := context.WithCancel(at(idle, "ctx", base)) // no cancel: the pool is never stopped
	jobs := make(chan int)
	for i := 0; i < workersPerPool; i++ {
		next(idle, "go")
		go func() {
			for {
				next(idle, "block")
				select {
				case j := <-jobs:
					_ = j
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	hit(idle)
	return jobs
}

func batch(base context.Context) {
	ctx, cancel := context.WithTimeout(at(stuck, "ctx", base), 10*time.Millisecond)
	defer cancel()
	jobs, results := make(chan int), make(chan int)
	for i := 0; i < workersPerPool; i++ {
		next(stuck, "go")
		go func() {
			for j := range jobs {
				time.Sleep(20 * time.Millisecond)
				results <- at(stuck, "block", j*2) // no select on ctx.Done
			}
		}()
	}
	for i := 0; i < workersPerPool; i++ {
		jobs <- i
	}
	select {
	case <-results:
	case <-ctx.Done():
	}
	for i := 0; i < workersPerPool; i++ {
		hit(stuck)
	}
}

func main() {
	start("leak_shared_pool", false)
	idle = expect("lost-cancel", "pool context never cancelled; its workers wait on its Done", "select")
	stuck = expect("outlived-context", "pool workers blocked on a send after the shared timeout", "chan send")
	base, stop := context.WithCancel(context.Background())
	defer stop()
	pools := *flagN / workersPerPool
	if pools < 3 {
		pools = 3
	}
	for i := 0; i < pools; i++ {
		startPool(base)
		batch(base)
		time.Sleep(*flagInterval)
	}
	time.Sleep(50 * time.Millisecond)
	finish()
}
