package caddymodule

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
)

func init() { caddy.RegisterModule(AdminAPI{}) }

// AdminAPI is the admin.api.minipay module: GET /minipay/providers on
// Caddy's admin endpoint lists every loaded minipay, minipay_webhook and
// minipay_sandbox provider with its non-secret configuration, the public
// identities of its keys and its access token's expiry. Secret fields are
// left out, not masked. It has no configuration and no Caddyfile syntax:
// Caddy's admin endpoint serves every registered admin.api module's routes.
type AdminAPI struct{}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "admin.api.minipay", New: func() caddy.Module { return new(AdminAPI) }}
}

// Routes implements caddy.AdminRouter.
func (AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/minipay/providers", Handler: caddy.AdminHandlerFunc(serveProviders)}}
}

// loadedProviders is every provider of the running configurations. During
// a reload the old configuration's entries stay until it is unloaded.
var loadedProviders = struct {
	mu  sync.Mutex
	seq uint64
	m   map[uint64]*loadedProvider
}{m: map[uint64]*loadedProvider{}}

type loadedProvider struct {
	seq      uint64
	handler  string // the directive
	provider string
	config   map[string]any
	side     any // the transform Client, Webhook or Sandbox, asked for keys and token
}

// adminListing is embedded in the three handlers: the providers a handler
// listed in Provision, taken off the list by its Cleanup (when its
// configuration is unloaded).
type adminListing struct{ ids []uint64 }

// list adds a provider the handler has built to the admin API's list. Its
// configuration is captured now, without the secret fields.
func (a *adminListing) list(handler string, p provider, side any) error {
	// The side was built from a copy of the configuration, whose Check
	// filled in the defaults; filling them here too makes the view show
	// the values in effect (sign_type MD5, 2c2p's version, ...). Check
	// passed on that copy, so it passes here.
	if ch, ok := p.(transform.Checker); ok {
		if err := ch.Check(); err != nil {
			return err
		}
	}
	config, err := publicConfig(p)
	if err != nil {
		return err
	}
	loadedProviders.mu.Lock()
	loadedProviders.seq++
	e := &loadedProvider{seq: loadedProviders.seq, handler: handler, provider: p.ProviderName(), config: config, side: side}
	loadedProviders.m[e.seq] = e
	loadedProviders.mu.Unlock()
	a.ids = append(a.ids, e.seq)
	return nil
}

// Cleanup implements caddy.CleanerUpper for the handler.
func (a *adminListing) Cleanup() error {
	loadedProviders.mu.Lock()
	for _, id := range a.ids {
		delete(loadedProviders.m, id)
	}
	loadedProviders.mu.Unlock()
	a.ids = nil
	return nil
}

// publicConfig is the provider's JSON configuration (resolved placeholders
// included) without the fields its ConfigFields mark secret.
func publicConfig(p provider) (map[string]any, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("minipay: provider %s: encoding its configuration: %w", p.ProviderName(), err)
	}
	config := map[string]any{}
	if err := json.Unmarshal(b, &config); err != nil {
		return nil, fmt.Errorf("minipay: provider %s: encoding its configuration: %w", p.ProviderName(), err)
	}
	for _, f := range p.ConfigFields() {
		if f.Secret {
			delete(config, f.Name)
		}
	}
	return config, nil
}

// handlerOrder lists the merchant API first, then webhooks, then sandboxes.
var handlerOrder = map[string]int{"minipay": 0, "minipay_webhook": 1, "minipay_sandbox": 2}

type providerView struct {
	Handler        string         `json:"handler"`
	Provider       string         `json:"provider"`
	Config         map[string]any `json:"config"`
	Keys           []keyView      `json:"keys"`
	TokenExpiresAt string         `json:"token_expires_at,omitempty"`
}

type keyView struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	NotAfter string `json:"not_after,omitempty"`
}

func serveProviders(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed: use GET", r.Method)}
	}
	loadedProviders.mu.Lock()
	entries := make([]*loadedProvider, 0, len(loadedProviders.m))
	for _, e := range loadedProviders.m {
		entries = append(entries, e)
	}
	loadedProviders.mu.Unlock()
	slices.SortFunc(entries, func(a, b *loadedProvider) int {
		return cmp.Or(cmp.Compare(handlerOrder[a.handler], handlerOrder[b.handler]), strings.Compare(a.provider, b.provider), cmp.Compare(a.seq, b.seq))
	})

	views := make([]providerView, 0, len(entries))
	for _, e := range entries {
		v := providerView{Handler: e.handler, Provider: e.provider, Config: e.config, Keys: []keyView{}}
		if kh, ok := e.side.(transform.KeyHolder); ok {
			for _, k := range kh.Keys() {
				kv := keyView{ID: k.ID, Kind: k.Kind}
				if !k.NotAfter.IsZero() {
					kv.NotAfter = k.NotAfter.UTC().Format(time.RFC3339)
				}
				v.Keys = append(v.Keys, kv)
			}
		}
		if th, ok := e.side.(transform.TokenHolder); ok {
			if t := th.TokenExpiresAt(); !t.IsZero() {
				v.TokenExpiresAt = t.UTC().Format(time.RFC3339)
			}
		}
		views = append(views, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	noSniff(w.Header())
	return json.NewEncoder(w).Encode(views)
}

// Interface guard.
var _ caddy.AdminRouter = AdminAPI{}
