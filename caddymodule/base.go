package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

// providerHandler is what the minipay and minipay_webhook middleware share:
// the one provider they serve, its name, the logger and the metrics, how
// they are provisioned and how their Caddyfile directive is read. Each
// embeds it and adds the provider side it uses (a Client, a Webhook).
type providerHandler struct {
	// The provider, a module in the minipay.providers namespace.
	ProviderRaw json.RawMessage `json:"provider,omitempty" caddy:"namespace=minipay.providers inline_key=name"`

	name    string
	logger  *zap.Logger
	metrics *metrics
	// secrets are the values of the provider's secret fields, kept out of
	// the provider text an error answer passes on and out of the names it
	// echoes (Error.WithoutSecretsOf), URL-encoded once here.
	secrets transform.Secrets
}

// provision loads the provider for role, resolves its placeholders and
// sets up the name, logger and metrics. directive names the handler in
// errors.
func (b *providerHandler) provision(ctx caddy.Context, directive string, role transform.Role) (provider, error) {
	b.logger = ctx.Logger()
	if b.ProviderRaw == nil {
		return nil, fmt.Errorf("%s: a provider is required", directive)
	}
	name, err := providerObjectName(b.ProviderRaw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", directive, err)
	}
	mod, err := ctx.LoadModule(b, "ProviderRaw")
	if err != nil {
		return nil, fmt.Errorf("%s: loading provider %q: %w", directive, name, err)
	}
	p, err := resolveProvider(mod, role)
	if err != nil {
		return nil, err
	}
	b.name = p.ProviderName()
	b.secrets = transform.NewSecrets(secretValues(p)...)
	b.metrics, err = newMetrics(ctx.GetMetricsRegistry())
	return p, err
}

// secretValues lists the values of p's secret fields that are set: what
// no answer, log line or command output may show.
func secretValues(p provider) []string {
	var secrets []string
	for _, f := range p.ConfigFields() {
		if f.Secret && *f.Value != "" {
			secrets = append(secrets, *f.Value)
		}
	}
	return secrets
}

// provisionSide provisions b for role, then builds the provider side the
// handler serves with build, a constructor of the provider interface P
// (clientProvider.NewClient; a provider that is no P lacks that side, and
// the error says so), and lists it for the admin API.
func provisionSide[P, S any](ctx caddy.Context, b *providerHandler, a *adminListing, directive string, role transform.Role,
	lacks string, build func(P) (S, error)) (S, error) {
	var zero S
	p, err := b.provision(ctx, directive, role)
	if err != nil {
		return zero, err
	}
	sided, ok := p.(P)
	if !ok {
		return zero, fmt.Errorf("%s: provider %s %s", directive, p.ProviderName(), lacks)
	}
	s, err := build(sided)
	if err != nil {
		return zero, err
	}
	shareState(ctx, b.metrics, s, b.name)
	warnExpired(b.logger, b.name, directive, s)
	if r, ok := any(s).(certificateDownloader); ok {
		r.ReportFailures(func(err error) {
			b.logger.Warn("minipay: platform certificate download failed", zap.String("provider", b.name), zap.Error(err))
		})
	}
	return s, a.list(directive, p, s)
}

// warnExpired warns, when the configuration loads, of a configured
// certificate that has expired (a wechat_v3 platform_certificate nobody
// replaced): it verifies nothing, so every answer it signs is refused as
// upstream_signature_invalid, and that line alone does not say why.
func warnExpired(logger *zap.Logger, provider, directive string, side any) {
	kh, ok := side.(transform.KeyHolder)
	if !ok {
		return
	}
	now := time.Now()
	for _, k := range kh.Keys() {
		if !k.NotAfter.IsZero() && now.After(k.NotAfter) {
			logger.Warn("minipay: a configured certificate has expired and verifies nothing", zap.String("provider", provider),
				zap.String("handler", directive), zap.String("kind", k.Kind), zap.String("id", k.ID), zap.Time("not_after", k.NotAfter))
		}
	}
}

// certificateDownloader is a provider side that works in the background (a
// wechat_v3 certificate download) and reports why that failed: the
// operation's own line then only says its answer did not verify.
type certificateDownloader interface {
	ReportFailures(func(error))
}

// decodeOptions decodes a handler's JSON object into v as Caddy's strict
// decoder does (an unknown key is an error naming it), and also fails when
// it spells an option in another case ("Provider", "DEDUPE"), which
// encoding/json would take, the last of two spellings winning, where
// README "Caddyfile" says names are exact. Caddy removed the "handler" key
// before.
func decodeOptions(directive string, b []byte, v any, options ...string) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) == nil {
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			for _, option := range options {
				if key != option && strings.EqualFold(key, option) {
					return fmt.Errorf("%s has no option %q (option names are exact: %s)", directive, key, option)
				}
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	// Go's message names the struct path ("Go struct field plain.providers
	// of type []json.RawMessage"); the one array option is providers.
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Type.Kind() == reflect.Slice {
		return fmt.Errorf("%s: %s takes an array of provider objects, not %s", directive, typeErr.Field, withArticle(typeErr.Value))
	}
	return err
}

// UnmarshalJSON reads minipay's JSON with exact option names.
func (h *Handler) UnmarshalJSON(b []byte) error {
	type plain Handler
	return decodeOptions("minipay", b, (*plain)(h), "provider")
}

// UnmarshalJSON reads minipay_webhook's JSON with exact option names.
func (h *Webhook) UnmarshalJSON(b []byte) error {
	type plain Webhook
	return decodeOptions("minipay_webhook", b, (*plain)(h), "provider", "dedupe")
}

// UnmarshalJSON reads minipay_sandbox's JSON with exact option names.
func (s *Sandbox) UnmarshalJSON(b []byte) error {
	type plain Sandbox
	return decodeOptions("minipay_sandbox", b, (*plain)(s), "provider", "providers")
}
