package transform

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
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

// TestNoRedirect: a client with NoRedirect gets a 302, which net/http
// follows by default, as its answer, a GET's and a POST's, and never sends
// the request to the Location.
func TestNoRedirect(t *testing.T) {
	var followed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Add(1)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	hc := &http.Client{CheckRedirect: NoRedirect}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, err := http.NewRequest(method, srv.URL+"/notify", nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/elsewhere" {
			t.Errorf("%s: HTTP %d, Location %q, want the 302 itself", method, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the Location was asked %d times", n)
	}
}
