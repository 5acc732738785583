package transform

import (
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestAbsoluteURL: the rule of every notify_url and token_url (README
// Merchant API): http or https with a host, and a port a connection can
// reach when one is given.
func TestAbsoluteURL(t *testing.T) {
	for _, tt := range []struct {
		url   string
		valid bool
	}{
		{"https://pay.example.com/n", true},
		{"HTTP://pay.example.com", true},
		{"https://pay.example.com:/n", true}, // RFC 3986 §3.2.3: an empty port is the default
		{"https://pay.example.com:1/n", true},
		{"https://pay.example.com:65535/n", true},
		{"http://[2001:db8::1]:8080/n", true},
		{"https://pay.example.com:0/n", false},
		{"https://pay.example.com:65536/n", false},
		{"https://pay.example.com:99999/n", false},
		{"https://pay.example.com:99999999999999999999/n", false},
		{"http://:80/n", false},
		{"ftp://pay.example.com/n", false},
		{"/n", false},
	} {
		if _, ok := AbsoluteURL(tt.url); ok != tt.valid {
			t.Errorf("%q: %v, want %v", tt.url, ok, tt.valid)
		}
	}
}

// TestParseForm: a form of up to MaxFormFields fields (empty ones
// included) is url.ParseQuery's reading; one of more is refused before it
// is parsed.
func TestParseForm(t *testing.T) {
	fields := func(n int) string {
		f := make([]string, n)
		for i := range f {
			f[i] = "f" + strconv.Itoa(i) + "=v"
		}
		return strings.Join(f, "&")
	}
	tests := []struct {
		form string
		n    int // fields read; -1: refused
	}{
		{"a=1&b=2", 2},
		{fields(MaxFormFields), MaxFormFields},
		{fields(MaxFormFields + 1), -1},
		{strings.Repeat("&", MaxFormFields-1), 0},
		{strings.Repeat("&", MaxFormFields), -1},
		{"a=1&" + fields(MaxFormFields), -1},
	}
	for _, tt := range tests {
		v, err := ParseForm(tt.form)
		if tt.n < 0 {
			if !errors.Is(err, ErrFormFields) || v != nil {
				t.Errorf("%.40q…: %d fields, %v; want refused", tt.form, len(v), err)
			}
			continue
		}
		want, werr := url.ParseQuery(tt.form)
		if err != nil || werr != nil || len(v) != tt.n || !reflect.DeepEqual(v, want) {
			t.Errorf("%.40q…: %d fields, %v; want %d", tt.form, len(v), err, tt.n)
		}
	}
}
