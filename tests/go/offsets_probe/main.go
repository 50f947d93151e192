// offsets_probe uses every runtime and context struct ctxtrace reads, so that the
// linker writes their DWARF types; scripts/gen-offsets.sh builds it with each Go
// toolchain. Run, it reads its own DWARF with Go's debug/dwarf (independent of
// ctxtrace's libdw reader) and prints "key offset" lines; with a path argument it
// reads that file instead. Keys are ctxtrace's go_off_name() keys.
package main

import (
	"context"
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
	"strings"
	"time"
)

type field struct{ key, typ, path string }

var fields = []field{
	{"goid", "runtime.g", "goid"},
	{"atomicstatus", "runtime.g", "atomicstatus"},
	{"waitreason", "runtime.g", "waitreason"},
	{"waitsince", "runtime.g", "waitsince"},
	{"m", "runtime.g", "m"},
	{"sched.sp", "runtime.g", "sched.sp"},
	{"sched.pc", "runtime.g", "sched.pc"},
	{"sched.bp", "runtime.g", "sched.bp"},
	{"gopc", "runtime.g", "gopc"},
	{"startpc", "runtime.g", "startpc"},
	{"parentGoid", "runtime.g", "parentGoid"},
	{"syscallsp", "runtime.g", "syscallsp"},
	{"syscallpc", "runtime.g", "syscallpc"},
	{"stack.lo", "runtime.g", "stack.lo"},
	{"stack.hi", "runtime.g", "stack.hi"},
	{"m.curg", "runtime.m", "curg"},
	{"m.procid", "runtime.m", "procid"},
	{"cancelCtx.Context", "context.cancelCtx", "Context"},
	{"cancelCtx.mu", "context.cancelCtx", "mu"},
	{"cancelCtx.done", "context.cancelCtx", "done"},
	{"cancelCtx.children", "context.cancelCtx", "children"},
	{"cancelCtx.err", "context.cancelCtx", "err"},
	{"cancelCtx.cause", "context.cancelCtx", "cause"},
	{"timerCtx.cancelCtx", "context.timerCtx", "cancelCtx"},
	{"timerCtx.timer", "context.timerCtx", "timer"},
	{"timerCtx.deadline", "context.timerCtx", "deadline"},
	{"valueCtx.Context", "context.valueCtx", "Context"},
	{"valueCtx.key", "context.valueCtx", "key"},
	{"valueCtx.val", "context.valueCtx", "val"},
	{"afterFuncCtx.cancelCtx", "context.afterFuncCtx", "cancelCtx"},
	{"afterFuncCtx.once", "context.afterFuncCtx", "once"},
	{"afterFuncCtx.f", "context.afterFuncCtx", "f"},
	{"withoutCancelCtx.c", "context.withoutCancelCtx", "c"},
	{"waiting", "runtime.g", "waiting"},
	{"sudog.g", "runtime.sudog", "g"},
	{"sudog.elem", "runtime.sudog", "elem"},
	{"sudog.c", "runtime.sudog", "c"},
	{"sudog.waitlink", "runtime.sudog", "waitlink"},
	{"sudog.isSelect", "runtime.sudog", "isSelect"},
	{"hchan.qcount", "runtime.hchan", "qcount"},
	{"hchan.dataqsiz", "runtime.hchan", "dataqsiz"},
	{"hchan.closed", "runtime.hchan", "closed"},
	{"hchan.elemtype", "runtime.hchan", "elemtype"},
	{"hchan.recvq", "runtime.hchan", "recvq"},
	{"hchan.sendq", "runtime.hchan", "sendq"},
	{"moduledata.itablinks", "runtime.moduledata", "itablinks"},
	{"moduledata.itaboffset", "runtime.moduledata", "itaboffset"},
	{"moduledata.itabsize", "runtime.moduledata", "itabsize"},
}

type ctxKey struct{}

// useContexts makes the linker keep cancelCtx, timerCtx and valueCtx; the go1.21
// file adds afterFuncCtx and withoutCancelCtx.
func useContexts() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tctx, tcancel := context.WithTimeout(ctx, time.Hour)
	defer tcancel()
	vctx := context.WithValue(tctx, ctxKey{}, 1)
	return useNewContexts(vctx)
}

func offset(d *dwarf.Data, structs map[string]*dwarf.StructType, f field) (int64, bool) {
	st := structs[f.typ]
	var off int64
	for _, name := range strings.Split(f.path, ".") {
		if st == nil {
			return 0, false
		}
		var next *dwarf.StructField
		for _, sf := range st.Field {
			if sf.Name == name {
				next = sf
				break
			}
		}
		if next == nil {
			return 0, false
		}
		off += next.ByteOffset
		st = nil
		t := next.Type
		for {
			if td, ok := t.(*dwarf.TypedefType); ok {
				t = td.Type
				continue
			}
			break
		}
		if s, ok := t.(*dwarf.StructType); ok {
			st = s
		}
	}
	return off, true
}

func dump(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, fl := range fields {
		want[fl.typ] = true
	}
	structs := map[string]*dwarf.StructType{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return err
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		if !want[name] || structs[name] != nil {
			r.SkipChildren()
			continue
		}
		t, err := d.Type(e.Offset)
		if err != nil {
			return err
		}
		structs[name] = t.(*dwarf.StructType)
		r.SkipChildren()
	}
	for _, fl := range fields {
		if off, ok := offset(d, structs, fl); ok {
			fmt.Printf("%s %d\n", fl.key, off)
		}
	}
	return nil
}

func main() {
	ctx := useContexts()
	path := "/proc/self/exe"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := dump(path); err != nil {
		fmt.Fprintf(os.Stderr, "offsets_probe: %s: %v (ctx %v)\n", path, err, ctx != nil)
		os.Exit(1)
	}
}
