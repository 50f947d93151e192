//go:build cgo

package main

/*
#include <pthread.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

// Waits on a condition nobody signals: the thread sleeps in futex(2).
static void wait_forever(void) {
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&never, &mu);
}
*/
import "C"

import "context"

var cgoWait *Expect

func startCgo(ctx context.Context) {
	next(cgoWait, "go")
	go func() {
		next(cgoWait, "block")
		C.wait_forever()
	}()
}
