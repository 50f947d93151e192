// healthy_sql: database/sql over a small in-process driver (standard library only),
// queried concurrently with per-query timeouts; must raise no alert. The pool's
// connection opener and cleaner goroutines, and idle connections, outlive every
// query by design.
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
	"time"
)

// A driver whose single table "numbers" holds 0..9; queries take about a millisecond.
type fakeDriver struct{}
type fakeConn struct{}
type fakeStmt struct{ query string }
type fakeRows struct{ i int }

func (fakeDriver) Open(name string) (driver.Conn, error) { return &fakeConn{}, nil }

func (c *fakeConn) Prepare(q string) (driver.Stmt, error) { return &fakeStmt{query: q}, nil }
func (c *fakeConn) Close() error                          { return nil }
func (c *fakeConn) Begin() (driver.Tx, error)             { return nil, errors.New("no transactions") }

// QueryContext honours the context, as a well-behaved driver does.
func (c *fakeConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	select {
	case <-time.After(time.Millisecond):
		return &fakeRows{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *fakeStmt) Close() error  { return nil }
func (s *fakeStmt) NumInput() int { return -1 }
func (s *fakeStmt) Exec(args []driver.Value) (driver.Result, error) {
	return nil, errors.New("read only")
}
func (s *fakeStmt) Query(args []driver.Value) (driver.Rows, error) { return &fakeRows{}, nil }

func (r *fakeRows) Columns() []string { return []string{"n"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.i >= 10 {
		return io.EOF
	}
	dest[0] = int64(r.i)
	r.i++
	return nil
}

func sum(db *sql.DB, base context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(base, time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT n FROM numbers")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, rows.Err()
}

func main() {
	start("healthy_sql", true)
	sql.Register("ctxtracefake", fakeDriver{})
	db, err := sql.Open("ctxtracefake", "")
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxLifetime(time.Minute)
	base, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < *flagN*4; i++ {
				if s, err := sum(db, base); err != nil || s != 45 {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	note("%d queries on a pool of 4 connections, %d failed", 8**flagN*4, failed)
	finish()
}
