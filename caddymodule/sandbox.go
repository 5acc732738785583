package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

// Sandbox is the minipay_sandbox terminal handler: it serves the real API
// paths of every provider it is configured with, verifying what it receives
// and signing what it answers, keeps orders in memory, and sends signed
// notifications on POST /sandbox/complete. It also plays a demo merchant
// backend at /sandbox/merchant/events, which records the events
// minipay_webhook forwards so a walkthrough can show them.
//
//	minipay_sandbox [<matcher>] {
//	    <provider_name> {
//	        <field> <value>
//	    }
//	}
//
// or, for one provider, in minipay's own form:
//
//	minipay_sandbox [<matcher>] <provider_name> {
//	    <field> <value>
//	}
type Sandbox struct {
	// One module per emulated provider, in the minipay.providers namespace.
	ProvidersRaw []json.RawMessage `json:"providers,omitempty" caddy:"namespace=minipay.providers inline_key=name"`
	// ProviderRaw is one more, written as minipay and minipay_webhook take
	// theirs ("provider": {...}).
	ProviderRaw json.RawMessage `json:"provider,omitempty" caddy:"namespace=minipay.providers inline_key=name"`

	adminListing
	providers map[string]transform.Sandbox
	names     []string
	client    *http.Client
	logger    *zap.Logger
	// secrets are every emulated provider's secret values, kept out of the
	// names POST /sandbox/complete's errors echo, as minipay's are
	// (Error.WithoutSecretsOf).
	secrets transform.Secrets

	demo  *demoMerchant
	notes *notificationLog // what the console lists
}

// CaddyModule returns the Caddy module information.
func (Sandbox) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.minipay_sandbox", New: func() caddy.Module { return new(Sandbox) }}
}

// Provision builds one emulated server per provider block.
func (s *Sandbox) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	if s.ProviderRaw != nil {
		if _, err := providerObjectName(s.ProviderRaw); err != nil {
			return fmt.Errorf("minipay_sandbox: provider: %w", err)
		}
		s.ProvidersRaw, s.ProviderRaw = append(s.ProvidersRaw, s.ProviderRaw), nil
	}
	for i, raw := range s.ProvidersRaw {
		if _, err := providerObjectName(raw); err != nil {
			return fmt.Errorf("minipay_sandbox: providers[%d]: %w", i, err)
		}
	}
	mods, err := ctx.LoadModule(s, "ProvidersRaw")
	if err != nil {
		return fmt.Errorf("minipay_sandbox: loading providers: %w", err)
	}
	s.providers = map[string]transform.Sandbox{}
	s.demo = new(demoMerchant)
	s.notes = new(notificationLog)
	list, _ := mods.([]any) // nil when no provider block is configured
	var secrets []string
	for _, mod := range list {
		p, err := resolveProvider(mod, transform.RoleSandbox)
		if err != nil {
			return err
		}
		sp, ok := p.(sandboxProvider)
		if !ok {
			return fmt.Errorf("minipay_sandbox: provider %s has no sandbox", p.ProviderName())
		}
		if _, dup := s.providers[p.ProviderName()]; dup {
			return fmt.Errorf("minipay_sandbox: provider %s is configured twice", p.ProviderName())
		}
		sb, err := sp.NewSandbox()
		if err != nil {
			return err
		}
		if n, ok := sb.(notifyingSandbox); ok {
			name := p.ProviderName()
			n.SetNotify(func(orderID string, out *transform.Outbound, acked func(int, []byte) bool) {
				go s.notify(name, orderID, out, acked) // the provider's sandbox is locked: never wait here
			})
		}
		if err := s.list("minipay_sandbox", p, sb); err != nil {
			return err
		}
		s.providers[p.ProviderName()] = sb
		s.names = append(s.names, p.ProviderName())
		secrets = append(secrets, secretValues(p)...)
	}
	s.secrets = transform.NewSecrets(secrets...)
	if len(s.providers) == 0 {
		return errors.New("minipay_sandbox: at least one provider is required")
	}
	s.client = notifyClient(15 * time.Second)
	return nil
}

// notifyClient posts the sandbox's notifications. They go to URLs of the
// sandbox's own configuration, bounded in time like any outbound call, and
// to the notify URL itself: a provider posts there and reads that answer,
// so a redirect is the answer (not the ACK, and the provider retries),
// never followed to a page whose 200 would pass for one (README Sandbox).
func notifyClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: transform.NoRedirect}
}

// ServeHTTP implements caddyhttp.MiddlewareHandler; it never calls next.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	answerBeforeBody(w, r)
	switch r.URL.Path {
	case "/sandbox/complete":
		s.complete(w, r)
		return nil
	case "/sandbox/merchant/events":
		s.merchant(w, r)
		return nil
	case "/sandbox/":
		s.console(w, r)
		return nil
	case "/sandbox":
		// Relative to the request's own URL, so that a prefix handle_path
		// stripped stays (http.Redirect would resolve it against the
		// stripped path).
		location := "sandbox/"
		if r.URL.RawQuery != "" {
			location += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusMovedPermanently)
		return nil
	}
	for _, name := range s.names {
		if p := s.providers[name]; p.Handles(r.URL.Path) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			noSniff(w.Header()) // the emulated API's answer, whatever its form
			p.ServeHTTP(w, r)
			return nil
		}
	}
	writeError(w, &transform.Error{Status: http.StatusNotFound, Code: "not_found", Message: "the sandbox emulates no API at this path"})
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Sandbox)(nil)
	_ caddy.CleanerUpper          = (*Sandbox)(nil)
	_ caddyhttp.MiddlewareHandler = (*Sandbox)(nil)
	_ caddyfile.Unmarshaler       = (*Sandbox)(nil)
)
