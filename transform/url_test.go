package transform

import "testing"

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
