package wxpay

import (
	"strings"
	"testing"
)

// TestValidNotifyURL: WeChat's notify_url, v2 and v3 alike (README Merchant
// API): absolute http(s), at most 256 bytes, no query string.
func TestValidNotifyURL(t *testing.T) {
	const base = "https://merchant.example/"
	tests := []struct {
		name, url string
		ok        bool
	}{
		{"https", "https://merchant.example/webhooks/wechat", true},
		{"http with a port", "http://localhost:8080/webhooks/wechat_v2", true},
		{"256 bytes", base + strings.Repeat("n", 256-len(base)), true},
		{"257 bytes", base + strings.Repeat("n", 257-len(base)), false},
		{"a query", "https://merchant.example/n?x=1", false},
		{"an empty query", "https://merchant.example/n?", false},
		{"relative", "/webhooks/wechat", false},
		{"another scheme", "ftp://merchant.example/n", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidNotifyURL(tt.url); got != tt.ok {
				t.Fatalf("ValidNotifyURL(%q) = %v, want %v", tt.url, got, tt.ok)
			}
		})
	}
}

// TestValidRefundReason: WeChat's 80 characters of a refund reason are
// counted as characters (README Merchant API), whatever their bytes.
func TestValidRefundReason(t *testing.T) {
	for _, tt := range []struct {
		reason string
		valid  bool
	}{
		{"", true},
		{strings.Repeat("r", 80), true},
		{strings.Repeat("退", 80), true}, // 240 bytes
		{strings.Repeat("😀", 80), true}, // 320 bytes
		{strings.Repeat("r", 81), false},
		{strings.Repeat("退", 79) + "ab", false},
	} {
		if got := ValidRefundReason(tt.reason); got != tt.valid {
			t.Errorf("%d characters (%d bytes): %v, want %v", len([]rune(tt.reason)), len(tt.reason), got, tt.valid)
		}
	}
}
