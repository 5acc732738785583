package transform

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestDecodeContent: RFC 9110 §8.4's Content-Encoding, a list of the codings
// applied in order, on one header line or several (§5.3), with empty
// elements (§5.6.1), case-insensitive, x-gzip as gzip (§8.4.1.3). The
// codings are removed last first when each is gzip or identity; anything
// else is refused before any inflating; nothing is inflated that the header
// did not ask for; no output is longer than the bound.
func TestDecodeContent(t *testing.T) {
	const plain = "<xml><return_code>SUCCESS</return_code></xml>"
	once := gzipBytes([]byte(plain))
	twice := gzipBytes(once)
	const max = 1 << 10
	bomb := gzipBytes(bytes.Repeat([]byte("A"), max+1))
	lines := func(v ...string) http.Header { return http.Header{"Content-Encoding": v} }
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		want   string // the decoded body, when err is nil
		err    error  // nil: success; errAny: any error
	}{
		{"no header", nil, []byte(plain), plain, nil},
		{"empty value", lines(""), []byte(plain), plain, nil},
		{"identity", lines("identity"), []byte(plain), plain, nil},
		{"Identity", lines("Identity"), []byte(plain), plain, nil},
		{"gzip", lines("gzip"), once, plain, nil},
		{"GZIP", lines("GZIP"), once, plain, nil},
		{"x-gzip", lines("x-gzip"), once, plain, nil},
		{"X-Gzip", lines("X-Gzip"), once, plain, nil},
		{"gzip, identity", lines("gzip, identity"), once, plain, nil},
		{"identity, gzip", lines("identity, gzip"), once, plain, nil},
		{"identity then gzip on two lines", lines("identity", "gzip"), once, plain, nil},
		{"gzip then identity on two lines", lines("gzip", "identity"), once, plain, nil},
		{"empty elements and whitespace", lines(" ,\tgzip , ,identity,"), once, plain, nil},
		{"gzip, x-gzip: two layers", lines("gzip, x-gzip"), twice, plain, nil},
		{"gzip on two lines: two layers", lines("gzip", "gzip"), twice, plain, nil},
		// One layer listed, one removed: the inner gzip is left as it is.
		{"gzip of gzip, one listed", lines("gzip"), twice, string(once), nil},
		{"gzip of a body that is not gzip", lines("gzip"), []byte(plain), "", errAny},
		{"gzip, gzip of a body compressed once", lines("gzip, gzip"), once, "", errAny},
		{"three gzip layers", lines("gzip, gzip, gzip"), gzipBytes(twice), "", ErrContentCoding},
		{"br", lines("br"), []byte(plain), "", ErrContentCoding},
		{"deflate", lines("deflate"), []byte(plain), "", ErrContentCoding},
		{"gzip, br: nothing inflated", lines("gzip, br"), once, "", ErrContentCoding},
		{"br on a second line", lines("gzip", "br"), once, "", ErrContentCoding},
		{"a bomb", lines("gzip"), bomb, "", ErrInflateTooLarge},
		{"a bomb inside a layer", lines("gzip, gzip"), gzipBytes(bomb), "", ErrInflateTooLarge},
		{"a body past the bound, not coded", nil, bytes.Repeat([]byte("A"), max+1), "", ErrInflateTooLarge},
		{"a body at the bound", lines("gzip"), gzipBytes(bytes.Repeat([]byte("A"), max)), string(bytes.Repeat([]byte("A"), max)), nil},
		// At most MaxCodingElements elements are read, empty ones included
		// (RFC 9110 §5.6.1: "a reasonable number"): a longer list is
		// refused unread.
		{"16 elements", lines(strings.Repeat("identity,", 15) + "gzip"), once, plain, nil},
		{"16 elements on 16 lines", lines(append(slices.Repeat([]string{"IDENTITY"}, 15), "x-gzip")...), once, plain, nil},
		{"17 elements", lines(strings.Repeat("identity,", 16) + "gzip"), once, "", ErrContentCoding},
		{"17 elements on 2 lines", lines(strings.Repeat("identity,", 15), "identity, gzip"), once, "", ErrContentCoding},
		{"17 empty elements", lines(strings.Repeat(",", 16)), []byte(plain), "", ErrContentCoding},
		{"17 empty lines", lines(slices.Repeat([]string{""}, 17)...), []byte(plain), "", ErrContentCoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeContent(tt.header, tt.body, max)
			switch {
			case tt.err == nil && (err != nil || string(got) != tt.want):
				t.Fatalf("DecodeContent = %q, %v; want %q", got, err, tt.want)
			case tt.err == errAny && err == nil, tt.err != nil && tt.err != errAny && !errors.Is(err, tt.err):
				t.Fatalf("DecodeContent = %q, %v; want %v", got, err, tt.err)
			}
		})
	}
}

// errAny is TestDecodeContent's "some error".
var errAny = errors.New("any error")

// FuzzDecodeContent: whatever the header and body, DecodeContent never
// returns more than max bytes, refuses a list with a coding other than
// gzip, x-gzip and identity (by the list syntax written out here), returns
// the body untouched when no gzip coding is listed, and gives back a
// payload compressed as many times as the header lists gzip (up to
// MaxGzipLayers), however the list is spelled.
func FuzzDecodeContent(f *testing.F) {
	f.Add("gzip", []byte("<xml/>"), uint8(1), uint16(64))
	f.Add("identity, x-gzip", []byte("{}"), uint8(1), uint16(64))
	f.Add("GZIP,\tgzip", []byte("payload"), uint8(2), uint16(16))
	f.Add("gzip\ngzip", []byte("payload"), uint8(2), uint16(16))
	f.Add("br, gzip", []byte("x"), uint8(1), uint16(8))
	f.Add(" , ", []byte("x"), uint8(0), uint16(8))
	f.Fuzz(func(t *testing.T, header string, payload []byte, layers uint8, max16 uint16) {
		max := int(max16)
		h := http.Header{}
		for _, line := range strings.Split(header, "\n") {
			h.Add("Content-Encoding", line)
		}
		// The list as RFC 9110 writes it: comma-separated elements on every
		// line, optional whitespace, empty elements ignored.
		gzips, other, elements := 0, false, 0
		for _, line := range strings.Split(header, "\n") {
			for _, e := range strings.Split(line, ",") {
				elements++
				switch strings.ToLower(strings.Trim(e, " \t")) {
				case "":
				case "identity":
				case "gzip", "x-gzip":
					gzips++
				default:
					other = true
				}
			}
		}
		body := payload
		for range min(int(layers), 3) {
			body = gzipBytes(body)
		}
		out, err := DecodeContent(h, body, max)
		if len(out) > max {
			t.Fatalf("%d bytes out, max %d", len(out), max)
		}
		switch {
		case other || gzips > MaxGzipLayers || elements > MaxCodingElements:
			if err == nil {
				t.Fatalf("Content-Encoding %q decoded", header)
			}
		case gzips == 0:
			if len(body) <= max && (err != nil || !bytes.Equal(out, body)) {
				t.Fatalf("Content-Encoding %q: body changed: %q, %v", header, out, err)
			}
		case gzips == int(layers) && len(payload) <= max && len(body) <= max:
			if err != nil || !bytes.Equal(out, payload) {
				t.Fatalf("Content-Encoding %q over %d layers: %q, %v; want %q", header, layers, out, err, payload)
			}
		}
	})
}
