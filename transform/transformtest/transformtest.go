// Package transformtest holds the assertions the providers' tests share. It
// is imported by tests only.
package transformtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// WantError asserts that err is a *transform.Error with status and code, and
// that its JSON form carries none of the forbidden strings (secrets, URLs
// with secrets in their query).
func WantError(t testing.TB, err error, status int, code string, forbidden ...string) *transform.Error {
	t.Helper()
	var e *transform.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *transform.Error", err, err)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("error = %d %s (%s), want %d %s", e.Status, e.Code, e.Message, status, code)
	}
	j := string(e.JSON())
	for _, f := range forbidden {
		if f != "" && strings.Contains(j, f) {
			t.Fatalf("the error carries %q: %s", f, j)
		}
	}
	return e
}
