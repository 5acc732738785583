package caddymodule

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// validateHandler loads a configuration whose one route holds handler, as
// caddy validate does, and returns the error.
func validateHandler(t *testing.T, handler string) error {
	t.Helper()
	var c caddy.Config
	cfg := `{"apps":{"http":{"servers":{"s":{"listen":["127.0.0.1:0"],"routes":[{"handle":[` + handler + `]}]}}}}}`
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatalf("%s: %v", cfg, err)
	}
	return caddy.Validate(&c)
}

// TestJSONSandboxProvidersOfAnotherType: minipay_sandbox's providers given
// as something other than an array fails the load saying what it takes, as
// a provider field's wrong type is named, not by Go's struct path ("Go
// struct field plain.providers of type []json.RawMessage").
func TestJSONSandboxProvidersOfAnotherType(t *testing.T) {
	for value, want := range map[string]string{
		`{"name":"latipay","api_key":"k"}`: "minipay_sandbox: providers takes an array of provider objects, not an object",
		`"latipay"`:                        "minipay_sandbox: providers takes an array of provider objects, not a string",
		`5`:                                "minipay_sandbox: providers takes an array of provider objects, not a number",
		`true`:                             "minipay_sandbox: providers takes an array of provider objects, not a bool",
	} {
		err := validateHandler(t, `{"handler":"minipay_sandbox","providers":`+value+`}`)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "Go struct") {
			t.Errorf("providers %s: load error %v, want it to contain %q", value, err, want)
		}
	}
}
