package caddymodule

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/minipay/caddy-minipay/transform"
)

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
	if err := transform.DecodeFlatJSON(body, transform.JSONField{Name: "provider", Value: &req.Provider},
		transform.JSONField{Name: "order_id", Value: &req.OrderID}, transform.JSONField{Name: "result", Value: &req.Result}); err != nil {
		writeError(w, asError(err).WithoutSecretsOf(s.secrets)) // an unknown member's name, as minipay echoes it
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
	maps.Copy(nreq.Header, out.Header)
	nreq.Header.Set("Content-Type", out.ContentType)
	resp, err := s.client.Do(nreq)
	if err != nil {
		res.DeliveryFailure = deliveryFailure(err)
		return
	}
	ack, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	res.Delivered, res.ResponseStatus, res.ResponseBody = true, resp.StatusCode, string(ack)
	res.Acknowledged = acked(resp.StatusCode, ack)
}

// deliveryFailure says why a notification could not be posted, in words a
// developer can act on: the notify URL's TLS certificate is one the
// sandbox does not trust (a provider would refuse it too: a self-signed
// one, or Caddy's tls internal one), it did not answer in time, or it could
// not be reached at all. The error's own text is left out: it holds the
// URL, and the query of a notify URL may carry a token.
func deliveryFailure(err error) string {
	const unreachable = "the notify URL could not be reached"
	var certificate *tls.CertificateVerificationError
	var timeout net.Error
	switch {
	case errors.As(err, &certificate):
		return unreachable + ": its TLS certificate is not trusted (not one a public CA issued for its host), and a provider would refuse it too"
	case errors.As(err, &timeout) && timeout.Timeout():
		return unreachable + ": it did not answer in time"
	}
	return unreachable
}
