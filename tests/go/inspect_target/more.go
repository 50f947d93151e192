package main

import (
	"bytes"
	"compress/bzip2"
	"compress/lzw"
	"compress/zlib"
	"container/list"
	"container/ring"
	"crypto/aes"
	"crypto/des"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha512"
	"debug/buildinfo"
	"debug/gosym"
	"debug/macho"
	"debug/pe"
	"debug/plan9obj"
	"embed"
	"encoding/ascii85"
	"encoding/asn1"
	"encoding/base32"
	"encoding/csv"
	"encoding/pem"
	"flag"
	"go/build"
	"go/constant"
	"go/doc"
	"go/printer"
	"hash/crc64"
	"hash/fnv"
	"html"
	"image"
	"image/draw"
	"index/suffixarray"
	"io/fs"
	"log"
	"log/syslog"
	"math/cmplx"
	"math/rand"
	"mime/quotedprintable"
	"net/http/cgi"
	"net/http/cookiejar"
	"net/http/fcgi"
	"net/http/httptrace"
	"net/http/httputil"
	"net/netip"
	"net/rpc/jsonrpc"
	"net/textproto"
	"os/exec"
	"os/user"
	"runtime/trace"
	"testing"
	"testing/fstest"
	"testing/quick"
	"text/scanner"
	"text/tabwriter"
	_ "time/tzdata"
)

func init() {
	uses = append(uses,
		func() error { _, err := bzip2.NewReader(&bytes.Buffer{}).Read(make([]byte, 1)); _ = err; return nil },
		func() error { return lzw.NewWriter(&bytes.Buffer{}, lzw.LSB, 8).Close() },
		func() error { return zlib.NewWriter(&bytes.Buffer{}).Close() },
		func() error { _, err := aes.NewCipher(make([]byte, 16)); return err },
		func() error { _, err := des.NewCipher(make([]byte, 8)); return err },
		func() error { _, _, err := ed25519.GenerateKey(nil); return err },
		func() error { _, err := rsa.GenerateKey(randReader{}, 512); _ = err; return nil },
		func() error { _ = sha512.Sum512(nil); return nil },
		func() error { _ = gosym.NewLineTable(nil, 0); return nil },
		func() error { _, err := macho.Open("/nonexistent"); _ = err; return nil },
		func() error { _, err := pe.Open("/nonexistent"); _ = err; return nil },
		func() error { _, err := plan9obj.Open("/nonexistent"); _ = err; return nil },
		func() error { _, err := asn1.Marshal(1); return err },
		func() error { return csv.NewWriter(&bytes.Buffer{}).Write([]string{"a"}) },
		func() error { _ = pem.EncodeToMemory(&pem.Block{Type: "X"}); return nil },
		func() error { _, err := build.Default.Import("fmt", "", build.FindOnly); _ = err; return nil },
		func() error { _ = doc.IsPredeclared("int"); _ = doc.Synopsis("x. y"); return nil },
		func() error { _ = printer.Config{}; return nil },
		func() error { _ = html.EscapeString("<"); return nil },
		func() error { _ = suffixarray.New([]byte("banana")).Lookup([]byte("an"), -1); return nil },
		func() error { _, err := syslog.New(syslog.LOG_INFO, "x"); _ = err; return nil },
		func() error { _ = cgi.Handler{}; _ = fcgi.ErrConnClosed; return nil },
		func() error { _, err := cookiejar.New(nil); return err },
		func() error { _ = httputil.NewSingleHostReverseProxy(nil); return nil },
		func() error { _ = jsonrpc.NewClient; return nil },
		func() error { _ = exec.Command("true").Run(); return nil },
		func() error { _, err := user.Current(); _ = err; return nil },
		func() error { _ = testing.Benchmark(func(b *testing.B) {}); return nil },
		func() error { _, err := buildinfo.ReadFile("/nonexistent"); _ = err; return nil },
		func() error { return trace.Start(nil) },
		func() error { _ = httptrace.ContextClientTrace(nil); return nil },
		func() error { _ = constant.MakeInt64(1).String(); return nil },
		func() error { draw.Draw(nil, image.Rect(0, 0, 0, 0), nil, image.Point{}, draw.Src); return nil },
		func() error { _ = list.New(); _ = ring.New(1); return nil },
		func() error { _ = crc64.MakeTable(crc64.ISO); _ = fnv.New128a(); return nil },
		func() error { return quotedprintable.NewWriter(&bytes.Buffer{}).Close() },
		func() error { _, err := netip.ParseAddr("::1"); return err },
		func() error { _ = base32.StdEncoding.EncodeToString(nil); _ = ascii85.MaxEncodedLen(1); return nil },
		func() error { _ = textproto.CanonicalMIMEHeaderKey("a-b"); return nil },
		func() error { log.SetFlags(0); _ = flag.CommandLine; _ = cmplx.Sqrt(-1); _ = rand.Int(); return nil },
		func() error { var e embed.FS; _, err := fs.ReadDir(e, "."); _ = fstest.TestFS; return err },
		func() error { return quick.Check(func(int) bool { return true }, nil) },
		func() error { var s scanner.Scanner; s.Init(&bytes.Buffer{}); return nil },
		func() error { return tabwriter.NewWriter(&bytes.Buffer{}, 0, 8, 1, ' ', 0).Flush() },
	)
}

type randReader struct{}

func (randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}
