package cbtis

import (
	"context"
	"testing"
	"time"
)

// TokenExpiresAt is what expires_in said, counted from when the fetch
// started; zero before the first fetch, without expires_in, and after the
// token was dropped.
func TestTokenExpiresAt(t *testing.T) {
	ts := newTokenServer(t)
	ts.set(func(ts *tokenServer) { ts.expiresIn = "7200" })
	clk := newClock()
	c := newTestClient(t, testConfig(ts.URL()), clk)
	if !c.TokenExpiresAt().IsZero() {
		t.Fatal("an expiry before any token")
	}
	if _, err := c.tokens.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := c.TokenExpiresAt(), t0.Add(2*time.Hour); !got.Equal(want) {
		t.Fatalf("TokenExpiresAt = %v, want %v", got, want)
	}
	c.tokens.Invalidate("tok-1")
	if !c.TokenExpiresAt().IsZero() {
		t.Fatal("an expiry after the token was dropped")
	}
	ts.set(func(ts *tokenServer) { ts.expiresIn = "" })
	if _, err := c.tokens.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !c.TokenExpiresAt().IsZero() {
		t.Fatal("an expiry for a token without expires_in")
	}
}
