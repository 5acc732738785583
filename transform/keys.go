package transform

import "time"

// KeyInfo names a key or certificate a provider side uses by its public
// identity only (a key id, a certificate serial), for the admin API.
type KeyInfo struct {
	ID   string // the key id or certificate serial
	Kind string // "merchant_certificate", "wechatpay_public_key", "platform_certificate", ...
	// NotAfter is a certificate's expiry; zero when the key has none.
	NotAfter time.Time
}

// KeyHolder is a provider side (Client, Webhook or Sandbox) whose keys have
// public identities. Keys never returns key material.
type KeyHolder interface {
	Keys() []KeyInfo
}

// TokenHolder is a provider side that caches an access token.
type TokenHolder interface {
	// TokenExpiresAt is when the cached token expires; zero when no token
	// is cached or it has no known expiry.
	TokenExpiresAt() time.Time
}
