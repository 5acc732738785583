package caddymodule

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// FuzzDedupeWindowRoundTrip: a "dedupe" value minipay_webhook loads, as a
// duration string or a number of nanoseconds (README Clusters), is written
// by caddy adapt and GET /config/ as a text that loads back to the same
// window; what does not load fails naming the option, never echoing more
// than 40 bytes of it.
func FuzzDedupeWindowRoundTrip(f *testing.F) {
	for _, s := range []string{`"25h"`, `"2d"`, `"1.5s"`, `90000000000000`, `0`, `"-1h"`, `"0"`, `9223372036854775807`,
		`-9223372036854775808`, `"2562047h47m16.854775807s"`, `"1h"  `, `null`, `"1e3s"`, `1e3`, `"` + "\u00b5s" + `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var w DedupeWindow
		if err := json.Unmarshal(b, &w); err != nil {
			if len(err.Error()) > len("dedupe: ")+40+len(` is not a duration such as "25h"`) {
				t.Fatalf("error %d bytes: %q", len(err.Error()), err)
			}
			return
		}
		text, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("window %d does not encode: %v", int64(w), err)
		}
		var again DedupeWindow
		if err := json.Unmarshal(text, &again); err != nil || again != w {
			t.Fatalf("%s loaded as %v, written %s, loads back as %v (%v)", b, time.Duration(w), text, time.Duration(again), err)
		}
		if s, err := strconv.Unquote(string(text)); err != nil || s == "" {
			t.Fatalf("written as %s, not a duration text", text)
		}
	})
}
