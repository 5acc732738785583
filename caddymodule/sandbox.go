package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
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
type Sandbox struct {
	// One module per emulated provider, in the minipay.providers namespace.
	ProvidersRaw []json.RawMessage `json:"providers,omitempty" caddy:"namespace=minipay.providers inline_key=name"`

	adminListing
	providers map[string]transform.Sandbox
	names     []string
	client    *http.Client
	logger    *zap.Logger

	demo  *demoMerchant
	notes *notificationLog // what the console lists
}

// demoMerchant holds the events the demo merchant backend received.
type demoMerchant struct {
	mu     sync.Mutex
	events []merchantEvent
}

// CaddyModule returns the Caddy module information.
func (Sandbox) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "http.handlers.minipay_sandbox", New: func() caddy.Module { return new(Sandbox) }}
}

// Provision builds one emulated server per provider block.
func (s *Sandbox) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
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
	}
	if len(s.providers) == 0 {
		return errors.New("minipay_sandbox: at least one provider is required")
	}
	// Notifications go to URLs of the sandbox's own configuration; bound
	// them in time like any outbound call.
	s.client = &http.Client{Timeout: 15 * time.Second}
	return nil
}

// ServeHTTP implements caddyhttp.MiddlewareHandler; it never calls next.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
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
		http.Redirect(w, r, "/sandbox/", http.StatusMovedPermanently)
		return nil
	}
	for _, name := range s.names {
		if p := s.providers[name]; p.Handles(r.URL.Path) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			p.ServeHTTP(w, r)
			return nil
		}
	}
	writeJSON(w, http.StatusNotFound, []byte(`{"error":{"code":"not_found","message":"the sandbox emulates no API at this path"}}`))
	return nil
}

// notifyingSandbox is a provider sandbox that sends notifications by itself
// (a v3 refund's REFUND.SUCCESS), through the hook it is given, naming the
// order each is about so that the console lists it under that order.
type notifyingSandbox interface {
	SetNotify(func(orderID string, out *transform.Outbound, acknowledged func(status int, body []byte) bool))
}

// notify delivers a notification a provider's sandbox sent by itself, and
// records it like those of /sandbox/complete.
func (s *Sandbox) notify(provider, orderID string, out *transform.Outbound, acked func(int, []byte) bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := completeResult{Provider: provider, OrderID: orderID, Result: "refunded", NotifyURL: out.URL}
	s.deliver(ctx, out, acked, &res)
	s.record(&res)
}

type completeRequest struct {
	Provider string `json:"provider"`
	OrderID  string `json:"order_id"`
	Result   string `json:"result"`
}

type completeResult struct {
	Provider        string `json:"provider"`
	OrderID         string `json:"order_id"`
	Result          string `json:"result"`
	NotifyURL       string `json:"notify_url"`
	Delivered       bool   `json:"delivered"`
	ResponseStatus  int    `json:"response_status,omitempty"`
	ResponseBody    string `json:"response_body,omitempty"`
	Acknowledged    bool   `json:"acknowledged"`
	DeliveryFailure string `json:"delivery_failure,omitempty"`
}

// complete settles an order and sends the provider's signed notification to
// its notify URL, reporting what came back.
func (s *Sandbox) complete(w http.ResponseWriter, r *http.Request) {
	body, terr := readCompleteRequest(w, r)
	if terr != nil {
		writeError(w, terr)
		return
	}
	var req completeRequest
	if err := transform.DecodeJSON(body, &req); err != nil {
		writeError(w, asError(err))
		return
	}
	p, ok := s.providers[req.Provider]
	if !ok {
		writeError(w, transform.Invalid("provider", "is not emulated by this sandbox"))
		return
	}
	var (
		out   *transform.Outbound
		acked func(int, []byte) bool
		err   error
	)
	switch req.Result {
	case "succeeded", "failed":
		out, acked, err = p.Complete(req.OrderID, req.Result == "succeeded", time.Now())
	case "refunded":
		rp, ok := p.(transform.RefundSandbox)
		if !ok {
			writeError(w, transform.Invalid("result", "must be succeeded or failed: "+req.Provider+" sends no refund notifications"))
			return
		}
		out, acked, err = rp.CompleteRefund(req.OrderID, time.Now())
	default:
		writeError(w, transform.Invalid("result", "must be succeeded, failed or refunded"))
		return
	}
	switch {
	case errors.Is(err, transform.ErrNoOrders):
		writeError(w, transform.Invalid("provider", "keeps no orders in this sandbox: "+req.Provider+" sends no notifications"))
		return
	case errors.Is(err, transform.ErrNotNotified): // settled: say so, with what was not sent
		res := completeResult{Provider: req.Provider, OrderID: req.OrderID, Result: req.Result, DeliveryFailure: err.Error()}
		s.logger.Info("minipay sandbox settlement without notification", zap.String("provider", req.Provider),
			zap.String("order_id", req.OrderID), zap.String("result", req.Result))
		writeJSON(w, http.StatusOK, transform.Marshal(res))
		return
	case err != nil:
		writeError(w, transform.Invalid("order_id", "cannot be completed: "+err.Error()))
		return
	}
	res := completeResult{Provider: req.Provider, OrderID: req.OrderID, Result: req.Result, NotifyURL: out.URL}
	s.deliver(r.Context(), out, acked, &res)
	s.record(&res)
	writeJSON(w, http.StatusOK, transform.Marshal(res))
}

// readCompleteRequest reads POST /sandbox/complete's body, which is JSON
// whatever Content-Type a script sends (curl -d sends a form's). A
// browser's cross-site request is refused instead: the JSON-only rule of
// the merchant API is what kept another site's page from posting here.
func readCompleteRequest(w http.ResponseWriter, r *http.Request) ([]byte, *transform.Error) {
	if terr := requirePost(w, r); terr != nil {
		return nil, terr
	}
	if crossSite(r) {
		return nil, &transform.Error{Status: http.StatusForbidden, Code: codeCrossSite, Message: "the sandbox refuses requests from another site's page"}
	}
	return readPlainBody(r, nil)
}

// codeCrossSite is the error code of a cross-site request to the sandbox.
const codeCrossSite = "cross_site_request"

// crossSite tells whether a browser sent r from another origin's page:
// its Sec-Fetch-Site is neither same-origin nor none (typed by the user),
// or, from a browser too old to send that, its Origin names another host
// (or is "null", a sandboxed frame's). Scripts and curl send neither.
func crossSite(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site != "same-origin" && site != "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host)
}

// record lists a delivered (or undeliverable) notification in the console
// and logs it: one place for both ways a notification goes out, so neither
// can leave out the order it is about.
func (s *Sandbox) record(res *completeResult) {
	s.notes.add(sentNotification{At: time.Now(), Provider: res.Provider, OrderID: res.OrderID, Result: res.Result, URL: res.NotifyURL,
		Status: res.ResponseStatus, Answer: res.ResponseBody, Acknowledged: res.Acknowledged, Failure: res.DeliveryFailure})
	s.logger.Info("minipay sandbox notification", zap.String("provider", res.Provider), zap.String("order_id", res.OrderID),
		zap.String("result", res.Result), zap.Int("status", res.ResponseStatus), zap.Bool("acknowledged", res.Acknowledged))
}

// deliver posts a notification to its URL and records the answer in res.
func (s *Sandbox) deliver(ctx context.Context, out *transform.Outbound, acked func(int, []byte) bool, res *completeResult) {
	nreq, err := http.NewRequestWithContext(ctx, http.MethodPost, out.URL, bytes.NewReader(out.Body))
	if err != nil {
		res.DeliveryFailure = "invalid notify URL"
		return
	}
	for k, v := range out.Header {
		nreq.Header[k] = v
	}
	nreq.Header.Set("Content-Type", out.ContentType)
	resp, err := s.client.Do(nreq)
	if err != nil {
		res.DeliveryFailure = "the notify URL could not be reached"
		return
	}
	ack, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	res.Delivered, res.ResponseStatus, res.ResponseBody = true, resp.StatusCode, string(ack)
	res.Acknowledged = acked(resp.StatusCode, ack)
}

type merchantEvent struct {
	EventID  string          `json:"minipay_event_id"`
	Provider string          `json:"minipay_provider"`
	Event    json.RawMessage `json:"event"`
}

// merchant is the demo merchant backend: POST records a forwarded event
// (answering 200), GET lists the last 100.
func (s *Sandbox) merchant(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		body, err := readBody(r, maxBody, nil)
		if err != nil || !json.Valid(body) {
			writeJSON(w, http.StatusBadRequest, []byte(`{"received":false}`))
			return
		}
		s.demo.mu.Lock()
		s.demo.events = append(s.demo.events, merchantEvent{r.Header.Get("Minipay-Event-Id"), r.Header.Get("Minipay-Provider"), body})
		if len(s.demo.events) > 100 {
			s.demo.events = s.demo.events[len(s.demo.events)-100:]
		}
		s.demo.mu.Unlock()
		writeJSON(w, http.StatusOK, []byte(`{"received":true}`))
	case http.MethodGet:
		s.demo.mu.Lock()
		out := transform.Marshal(struct {
			Events []merchantEvent `json:"events"`
		}{append([]merchantEvent{}, s.demo.events...)})
		s.demo.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, &transform.Error{Status: http.StatusMethodNotAllowed, Code: transform.CodeMethodNotAllowed, Message: "use GET or POST"})
	}
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Sandbox)(nil)
	_ caddy.CleanerUpper          = (*Sandbox)(nil)
	_ caddyhttp.MiddlewareHandler = (*Sandbox)(nil)
	_ caddyfile.Unmarshaler       = (*Sandbox)(nil)
)
