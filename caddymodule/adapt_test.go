package caddymodule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard" // reverse_proxy in the goldens
)

// TestCaddyfileAdapt is Caddy's own adapt test
// (caddytest/integration/caddyfile_adapt_test.go) for this plugin's
// directives: each testdata/caddyfile_adapt file is a Caddyfile, a line of
// ten dashes, and the exact JSON the caddyfile adapter must produce. One
// file per provider covers minipay, minipay_webhook (where the provider
// sends notifications) and minipay_sandbox.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			caddyfile, expected, ok := strings.Cut(string(data), "----------")
			if !ok {
				t.Fatal("no ---------- line between the Caddyfile and the JSON")
			}
			if !caddytest.CompareAdapt(t, file, strings.TrimSpace(caddyfile)+"\n", "caddyfile", strings.TrimSpace(expected)) {
				t.Fatal("the adapted JSON differs from the golden (diff above)")
			}
		})
	}
}
