package transform_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// The bounds on what a call allocates are measured with
// transformtest.Allocated, the fewest bytes over several runs: TotalAlloc
// counts every goroutine of the process, and the finalizers runtime.GC
// queues run beside the measured call (TestDecodeContentBoundedWork, bound
// 4 KiB, measured 5592 bytes for a header that allocates nothing, 1 run in
// 5 of go test -race -count=5 on a loaded two-core machine). Another
// goroutine only adds bytes, and the call's own are the same each run.

// TestDecodeContentBoundedWork: a Content-Encoding of a megabyte (the
// header size Go's server accepts by default), on one line or many, costs
// no more than a short one: listing "identity," 100000 times whole cost
// 9 MB and accepted the body; "a," 500000 times 45 MB.
func TestDecodeContentBoundedWork(t *testing.T) {
	headers := map[string]http.Header{
		"identity 100000 times":    {"Content-Encoding": {strings.Repeat("identity,", 100000)}},
		"a 500000 times":           {"Content-Encoding": {strings.Repeat("a,", 500000)}},
		"IDENTITY 100000 times":    {"Content-Encoding": {strings.Repeat("IDENTITY,", 100000)}},
		"empty 1000000 times":      {"Content-Encoding": {strings.Repeat(",", 1<<20)}},
		"identity on 100000 lines": {"Content-Encoding": slices.Repeat([]string{"identity"}, 100000)},
	}
	for name, h := range headers {
		t.Run(name, func(t *testing.T) {
			var err error
			alloc := transformtest.Allocated(func() { _, err = transform.DecodeContent(h, []byte("{}"), transform.MaxNotification) })
			if !errors.Is(err, transform.ErrContentCoding) {
				t.Fatalf("DecodeContent: %v", err)
			}
			if alloc > 4<<10 {
				t.Fatalf("%d bytes allocated", alloc)
			}
		})
	}
}

// TestUnmarshalExactAllocation: the walk's allocations grow with the
// document, not with its length times its members: an answer of up to
// MaxAnswer bytes is read before anything in it is verified (CBTIS's are
// not signed), and an escaped name once cost a buffer of the rest of the
// document (4,678 names: 178 MB for 64 KiB).
func TestUnmarshalExactAllocation(t *testing.T) {
	const size = 64 << 10
	fill := func(item string) []byte {
		n := (size - 32) / (len(item) + 1)
		return []byte(`{"prepay_id":"a","x":[` + strings.Repeat(item+",", n-1) + item + `]}`)
	}
	docs := map[string][]byte{
		"escaped names":   fill(`{"\u0061":1}`),
		"escaped values":  fill(`{"a":"\u0061"}`),
		"case variants":   fill(`{"PREPAY_ID":1}`),
		"escaped variant": fill(`{"PREPAY\u005fID":1}`),
		"nine members":    fill(`{"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1}`),
		// Each object renumbers its own variants only: each renumbered
		// every variant nested in it too (3,119 levels: 0.59 s, 76 MB;
		// encoding/json's 10,000 in 210 KB: 4.5 s).
		"nested variants beside tilde names": nest(size, `{"~":0,"CODE":0,"x":`),
	}
	for name, doc := range docs {
		var v allocTarget
		var err error
		alloc := transformtest.Allocated(func() { v = allocTarget{}; err = transform.UnmarshalExact(doc, &v) })
		if err != nil || v.PrepayID != "a" {
			t.Fatalf("%s: %+v %v", name, v, err)
		}
		if alloc > 32*uint64(len(doc)) {
			t.Errorf("%s: %d bytes allocated for a document of %d", name, alloc, len(doc))
		}
	}
}

// nest is a document of about size bytes whose member x holds level
// nested in itself, as deep as fits.
func nest(size int, level string) []byte {
	n := (size - 32) / (len(level) + 1)
	return []byte(`{"prepay_id":"a","x":` + strings.Repeat(level, n) + "1" + strings.Repeat("}", n+1))
}

// allocTarget is the document type TestUnmarshalExactAllocation reads,
// FuzzUnmarshalExact's.
type allocTarget struct {
	PrepayID string             `json:"prepay_id"`
	Code     transform.JSONCode `json:"code"`
	Amount   *struct {
		Total *int64 `json:"total"`
	} `json:"amount"`
}

// TestFlattenJSONBoundedWork: a document at the notification bound built
// to cost the most (a long member name above thousands of values, each
// value's name repeating it; thousands of nulls or empty arrays, which
// are no leaves) costs about its own size in memory, where the first
// cost hundreds of megabytes before FlattenJSON built names in one buffer,
// counted every value and bounded a name (Latipay reads a JSON
// notification so before its signature is checked).
func TestFlattenJSONBoundedWork(t *testing.T) {
	const size = transform.MaxNotification
	fill := func(prefix, unit, suffix string) []byte {
		return []byte(prefix + strings.Repeat(unit, (size-len(prefix)-len(suffix))/len(unit)) + suffix)
	}
	long := strings.Repeat("n", 30000)
	var leaves strings.Builder
	for i := range 63 {
		fmt.Fprintf(&leaves, `"%x":"1",`, i)
	}
	docs := map[string][]byte{
		"a long name above nulls":        fill(`{"`+long+`":[`, "null,", "null]}"),
		"a long name above empty arrays": fill(`{"`+long+`":[`, "[],", "[]]}"),
		"a long name above members":      fill(`{"`+long+`":{`, `"":null,`, `"z":null}}`),
		"a longer name above leaves":     []byte(`{"` + strings.Repeat("n", size-len(leaves.String())-16) + `":{` + leaves.String() + `"zz":"1"}}`),
		"nulls":                          fill(`{"a":[`, "null,", "null]}"),
		"empty objects":                  fill(`{"a":[`, "{},", "{}]}"),
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			if len(doc) > size {
				t.Fatalf("the document is %d bytes", len(doc))
			}
			for _, bound := range []struct{ depth, members int }{{3, 64}, {8, 1024}} { // Latipay's, CBTIS's
				if alloc := transformtest.Allocated(func() { _, _ = transform.FlattenJSON(doc, bound.depth, bound.members) }); alloc > 4*uint64(len(doc)) {
					t.Fatalf("%+v: %d bytes allocated for a document of %d", bound, alloc, len(doc))
				}
			}
		})
	}
}
