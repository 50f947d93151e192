// inspect_target is the binary `ctxtrace inspect` and the Go binary reader are
// tested on: it links a large part of the standard library (so the plain build is
// over 15 MB), creates contexts in every way the context package offers, and calls
// small helpers the compiler inlines, so the pclntab has a deep inline tree.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"debug/dwarf"
	"debug/elf"
	"encoding/gob"
	"encoding/json"
	"encoding/xml"
	"expvar"
	"fmt"
	"go/ast"
	"go/format"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"html/template"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	_ "net/http/pprof"
	"net/mail"
	"net/rpc"
	"net/smtp"
	"os"
	"regexp"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"
)

type ctxKey string

// Small enough to be inlined into every caller; they nest, so a pc inside
// run() can sit three inline levels deep.
func withKey(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, ctxKey("k"), v)
}

func shortTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(withKey(ctx, "short"), 50*time.Millisecond)
}

func deadlineSoon(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, time.Now().Add(time.Second))
}

//go:noinline
func worker(ctx context.Context, id int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	select {
	case <-ctx.Done():
	case out <- id:
	}
}

//go:noinline
func contexts() int {
	root := context.Background()
	ctx, cancel := context.WithCancel(root)
	defer cancel()
	tctx, tcancel := shortTimeout(ctx)
	defer tcancel()
	dctx, dcancel := deadlineSoon(tctx)
	defer dcancel()
	vctx := withKey(dctx, "v")
	out := make(chan int, 4)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go worker(vctx, i, out, &wg)
	}
	wg.Wait()
	close(out)
	n := 0
	for v := range out {
		n += v
	}
	n += extraContexts(vctx)
	if vctx.Value(ctxKey("k")) == nil {
		n = -1
	}
	return n
}

// The standard library is referenced through a table so that the linker keeps it.
var uses = []func() error{
	func() error { _, err := json.Marshal(map[string]int{"a": 1}); return err },
	func() error { return xml.NewEncoder(&bytes.Buffer{}).Encode(struct{ A int }{1}) },
	func() error { return gob.NewEncoder(&bytes.Buffer{}).Encode(struct{ A int }{1}) },
	func() error {
		w := gzip.NewWriter(&bytes.Buffer{})
		return w.Close()
	},
	func() error { return zip.NewWriter(&bytes.Buffer{}).Close() },
	func() error { return tar.NewWriter(&bytes.Buffer{}).Close() },
	func() error { _, err := regexp.Compile(`a+b*`); return err },
	func() error { _, err := texttemplate.New("t").Parse("{{.}}"); return err },
	func() error { _, err := template.New("h").Parse("<p>{{.}}</p>"); return err },
	func() error {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "x.go", "package x\nfunc F() int { return 1 }\n", 0)
		if err != nil {
			return err
		}
		conf := types.Config{Importer: importer.Default()}
		_, _ = conf.Check("x", fset, []*ast.File{f}, nil)
		return format.Node(&bytes.Buffer{}, fset, f)
	},
	func() error {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1)}
		_, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		return err
	},
	func() error { _ = tls.Config{MinVersion: tls.VersionTLS12}; return nil },
	func() error {
		img := image.NewRGBA(image.Rect(0, 0, 2, 2))
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			return err
		}
		if err := jpeg.Encode(&b, img, nil); err != nil {
			return err
		}
		return gif.Encode(&b, img, nil)
	},
	func() error { _, err := mail.ParseAddress("a <a@b.c>"); return err },
	func() error { w := multipart.NewWriter(&bytes.Buffer{}); return w.Close() },
	func() error { _, err := sql.Open("nodriver", ""); _ = err; return nil },
	func() error { _, err := elf.Open("/nonexistent"); _ = err; return nil },
	func() error { _ = dwarf.ErrUnknownPC; return nil },
	func() error { _ = rpc.NewServer(); _ = smtp.PlainAuth; return nil },
	func() error { expvar.NewInt("ctxtrace_inspect_target"); return nil },
	func() error { return pprof.Lookup("goroutine").WriteTo(&bytes.Buffer{}, 0) },
	func() error {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := shortTimeout(r.Context())
			defer cancel()
			<-ctx.Done()
			fmt.Fprintln(w, "ok")
		}))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	},
	func() error { _, err := net.ResolveTCPAddr("tcp", "127.0.0.1:1"); return err },
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-all" {
		for i, f := range uses {
			if err := f(); err != nil {
				fmt.Println("use", i, err)
			}
		}
	}
	names := []string{"b", "a"}
	sort.Strings(names)
	fmt.Println(strings.Join(names, ","), contexts())
}
