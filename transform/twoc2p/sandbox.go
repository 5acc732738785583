package twoc2p

import (
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// maxRequest bounds what the sandbox reads of a payment request.
const maxRequest = 64 << 10

// Sandbox emulates 2C2P's SecurePay endpoint for one merchant account and
// the WeChat payment behind it: it verifies the envelope, keeps orders in
// memory, answers WCMINI requests with respCode 32 and a wx.requestPayment
// object, and signs its answers and notifications with the secret key.
//
// Every refusal is what 2C2P answers for a request it cannot take: HTTP 200
// and a signed PaymentResponse with respCode 99, status F and the reason in
// failReason (a foreign merchantID, a bad signature, a missing field).
type Sandbox struct {
	cfg Config
	sig signer // the secret key's pooled HMAC states
	// wechatKey signs paySign, standing in for the WeChat merchant account
	// 2C2P pays through (its key is 2C2P's, never the merchant's).
	wechatKey string
	mu        sync.Mutex
	orders    map[string]*sandboxOrder // by uniqueTransactionCode
	ring      transform.OrderRing      // creation order, to forget the oldest
	seq       int64
	// Now is the sandbox's clock (time.Now unless a test pins it).
	Now func() time.Time
}

// Order states.
const (
	statePending   = "pending"
	stateSucceeded = "succeeded"
	stateFailed    = "failed"
)

type sandboxOrder struct {
	request        transform.Params // the payload as received
	number         int64            // the sandbox's order count, for its references
	state          string
	tranRef        string
	prepayID       string
	approvalCode   string
	backendInvoice string
	notifyURL      string
	created        time.Time
}

// NewSandbox checks cfg and returns an empty Sandbox.
func NewSandbox(cfg Config) (*Sandbox, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleSandbox); err != nil {
		return nil, err
	}
	return &Sandbox{
		cfg: cfg, sig: newSigner(cfg.SecretKey), wechatKey: transform.HMACSHA256Hex(cfg.SecretKey, []byte("minipay sandbox: WeChat key of 2C2P"), false)[:32],
		orders: map[string]*sandboxOrder{}, Now: time.Now,
	}, nil
}

var _ transform.Sandbox = (*Sandbox)(nil)

// Handles implements transform.Sandbox: the configured payment_path, the
// demo server's and the live hosts' (so a minipay route whose payment_path
// differs from the sandbox's still reaches it, as a Latipay refund does).
func (s *Sandbox) Handles(path string) bool {
	return path == s.cfg.PaymentPath || path == DefaultPaymentPath || path == LivePaymentPath
}

// ServeHTTP implements transform.Sandbox for POST payment_path, form field
// paymentRequest.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost) // RFC 9110 §15.5.6: a 405 names what is allowed
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := s.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(body) > maxRequest {
		s.reply(w, r, s.refusal(nil, "Invalid payment request.", now))
		return
	}
	text, err := EnvelopeText(body, r.Header.Get("Content-Type"), FieldRequest)
	if err != nil {
		s.reply(w, r, s.refusal(nil, "Invalid payment request.", now))
		return
	}
	env, err := ParseEnvelope(text, RootRequest)
	if err != nil {
		s.reply(w, r, s.refusal(nil, "Invalid payment request.", now))
		return
	}
	// Read before verifying, as 2C2P must: the merchantID selects the key.
	req, err := env.Fields()
	switch {
	case err != nil:
		s.reply(w, r, s.refusal(nil, "Invalid payment request.", now))
	case req.Get("merchantID") != s.cfg.MerchantID:
		s.reply(w, r, s.refusal(req, "Invalid merchant ID.", now))
	case !env.verify(s.sig):
		s.reply(w, r, s.refusal(req, "Invalid signature.", now))
	case env.Version != s.cfg.Version:
		s.reply(w, r, s.refusal(req, "Invalid version.", now))
	default:
		s.mu.Lock()
		inner := s.pay(req, now)
		s.mu.Unlock()
		s.reply(w, r, inner)
	}
}

// pay takes a verified WCMINI request; the same order sent again (same
// amount, still unpaid) gets a fresh wx.requestPayment for its prepay.
func (s *Sandbox) pay(req transform.Params, now time.Time) []byte {
	if reason := s.checkPay(req); reason != "" {
		return s.refusal(req, reason, now)
	}
	id := req.Get("uniqueTransactionCode")
	o, ok := s.orders[id]
	if ok && (o.state != statePending || o.request.Get("amt") != req.Get("amt") || o.request.Get("currencyCode") != req.Get("currencyCode") ||
		o.request.Get("desc") != req.Get("desc") ||
		o.request.Get("miniProgramData/wechat/openID") != req.Get("miniProgramData/wechat/openID")) { // a prepay is its payer's
		return s.refusal(req, "Duplicate unique transaction code.", now)
	}
	if !ok {
		s.seq++
		o = &sandboxOrder{
			request: req, number: s.seq, state: statePending, tranRef: now.In(transform.UTC8).Format("060102150405") + strconv.FormatInt(3200000+transform.SandboxSerial(), 10),
			prepayID:  "wx" + now.In(transform.UTC8).Format("20060102150405") + transform.Nonce(20),
			notifyURL: cmp.Or(req.Get(BackendURLField), s.cfg.NotifyURL), created: now,
		}
		if old, evict := s.ring.Add(id); evict { // bounded memory
			delete(s.orders, old)
		}
		s.orders[id] = o
	}
	return s.response(req, outcome{code: RespPrepay, reason: "Pending", tranRef: o.tranRef, wechat: s.requestPayment(o.prepayID, now)}, now)
}

// checkPay returns 2C2P's failReason for a request it would not take.
func (s *Sandbox) checkPay(req transform.Params) string {
	amt := req.Get("amt")
	_, knownCurrency := CurrencyForNumeric(req.Get("currencyCode"))
	switch {
	// timeStamp may be left out: 2C2P then takes its time of receipt, and
	// the demo server approved the captured request, which has none
	// (docs/providers/2c2p.md "Times").
	case req.Get("timeStamp") != "" && (len(req.Get("timeStamp")) != 12 || !digits(req.Get("timeStamp"))):
		return "Invalid timeStamp."
	case transform.ValidOrderID("uniqueTransactionCode", req.Get("uniqueTransactionCode")) != nil,
		len(req.Get("uniqueTransactionCode")) > MaxUniqueTransactionCode:
		return "Invalid uniqueTransactionCode."
	case req.Get("desc") == "":
		return "Invalid desc."
	case len(amt) != 12 || !digits(amt) || strings.Trim(amt, "0") == "":
		return "Invalid amt."
	case !knownCurrency:
		return "Invalid currencyCode."
	case req.Get("paymentChannel") != PaymentChannel:
		return "Invalid paymentChannel."
	case req.Get("miniProgramData/wechat/appID") != s.cfg.AppID:
		return "Invalid appID."
	case req.Get("miniProgramData/wechat/openID") == "":
		return "Invalid openID."
	case req.Has("panCountry") && !transform.ValidCountry(req.Get("panCountry")):
		return "Invalid panCountry."
	}
	if u := req.Get(BackendURLField); u != "" {
		if _, ok := transform.AbsoluteURL(u); !ok {
			return "Invalid " + BackendURLField + "."
		}
	}
	return ""
}

// requestPayment is the JSON 2C2P puts in miniProgramData/wechat, signed
// the way WeChat Pay signs wx.requestPayment (HMAC-SHA256 sign type).
func (s *Sandbox) requestPayment(prepayID string, now time.Time) string {
	ts, nonce, pkg := strconv.FormatInt(now.Unix(), 10), transform.Nonce(32), "prepay_id="+prepayID
	return string(transform.Marshal(struct {
		TimeStamp string `json:"timeStamp"`
		Package   string `json:"package"`
		NonceStr  string `json:"nonceStr"`
		SignType  string `json:"signType"`
		PaySign   string `json:"paySign"`
	}{ts, pkg, nonce, wxpay.SignHMACSHA256, wxpay.PaySign(s.cfg.AppID, nonce, pkg, wxpay.SignHMACSHA256, ts, s.wechatKey)}))
}

// outcome is what varies between 2C2P's answers.
type outcome struct {
	code, status, reason                  string
	tranRef, approvalCode, backendInvoice string
	wechat                                string // the wx.requestPayment JSON (respCode 32)
}

func (s *Sandbox) refusal(req transform.Params, reason string, now time.Time) []byte {
	return s.response(req, outcome{code: RespFailed, status: "F", reason: reason}, now)
}

// response writes a PaymentResponse payload with the demo server's fields,
// in its order, echoing the request's.
func (s *Sandbox) response(req transform.Params, o outcome, now time.Time) []byte {
	p := make([]byte, 0, 1024+len(o.wechat))
	p = append(p, "<"+RootResponse+">"...)
	add := func(name, value string) { p = appendElement(p, name, value) }
	// the demo server's zones: timeStamp in UTC+7, dateTime in UTC+8
	ts, dateTime := now.In(clockZone).Format(timeLayout), now.In(transform.UTC8).Format(timeLayout)
	refNumber := ""
	if o.approvalCode != "" {
		refNumber = req.Get("uniqueTransactionCode")
	}
	add("timeStamp", ts)
	add("merchantID", cmp.Or(req.Get("merchantID"), s.cfg.MerchantID))
	add("respCode", o.code)
	add("pan", "")
	add("amt", req.Get("amt"))
	add("uniqueTransactionCode", req.Get("uniqueTransactionCode"))
	add("tranRef", o.tranRef)
	add("approvalCode", o.approvalCode)
	add("refNumber", refNumber)
	add("eci", "")
	add("dateTime", dateTime)
	add("status", o.status)
	add("failReason", o.reason)
	for i := 1; i <= 5; i++ {
		name := "userDefined" + strconv.Itoa(i)
		add(name, req.Get(name))
	}
	add("paymentChannel", req.Get("paymentChannel"))
	add("backendInvoice", o.backendInvoice)
	add("currencyCode", req.Get("currencyCode"))
	if o.wechat != "" {
		p = append(p, "<miniProgramData>"...)
		add("wechat", o.wechat)
		p = append(p, "</miniProgramData>"...)
	}
	return append(p, "</"+RootResponse+">"...)
}

// reply seals a payload and sends it like the demo server: base64 text as
// text/html, gzip-compressed when the client accepts it.
func (s *Sandbox) reply(w http.ResponseWriter, r *http.Request, inner []byte) {
	text := seal(RootResponse, s.cfg.Version, inner, s.sig)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header) {
		w.Header().Set("Content-Length", strconv.Itoa(len(text)))
		_, _ = io.WriteString(w, text)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	zw := gzip.NewWriter(w)
	_, _ = io.WriteString(zw, text)
	_ = zw.Close()
}

// acceptsGzip reads Accept-Encoding as RFC 9110 §12.5.3 does: codings are
// case-insensitive, x-gzip is gzip, "*" stands for any coding not listed,
// and q=0 means not acceptable ("gzip;q=0" asks for no compression).
func acceptsGzip(h http.Header) bool {
	gz, star := -1, -1 // -1 not listed, 0 refused, 1 accepted
	for _, v := range h.Values("Accept-Encoding") {
		for _, member := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(member, ";")
			q := 1
			if qZero(params) {
				q = 0
			}
			switch coding = strings.TrimSpace(coding); {
			case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
				gz = max(gz, q)
			case coding == "*":
				star = q
			}
		}
	}
	return gz == 1 || (gz == -1 && star == 1)
}

// qZero tells whether a member's parameters give it weight q=0 (0, 0., 0.0,
// up to three zero decimals).
func qZero(params string) bool {
	for _, p := range strings.Split(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		whole, frac, _ := strings.Cut(strings.TrimSpace(value), ".")
		return whole == "0" && len(frac) <= 3 && strings.Trim(frac, "0") == ""
	}
	return false
}

// Complete implements transform.Sandbox: it settles the order and signs the
// backend notification (form field paymentResponse) for the notify URL the
// pay request carried, else the configured notify_url (the backend URL a
// merchant registers with 2C2P); 2C2P wants HTTP 200 back.
func (s *Sandbox) Complete(orderID string, succeeded bool, now time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderID]
	switch {
	case !ok:
		return nil, nil, errors.New("no such order")
	case o.state == stateSucceeded && !succeeded:
		return nil, nil, errors.New("the order is " + o.state)
	}
	result := outcome{code: RespFailed, status: "F", reason: "Transaction is declined.", tranRef: o.tranRef}
	o.state = stateFailed
	if succeeded {
		if o.approvalCode == "" { // a retried notification repeats the same values
			o.approvalCode = strconv.FormatInt(631000+o.number%1000, 10)
			o.backendInvoice = strconv.FormatInt(3082000+o.number, 10)
		}
		result = outcome{code: RespApproved, status: "A", reason: "Approved", tranRef: o.tranRef,
			approvalCode: o.approvalCode, backendInvoice: o.backendInvoice}
		o.state = stateSucceeded
	}
	if o.notifyURL == "" { // settled as 2C2P settles a payment; nowhere to post its result
		return nil, nil, fmt.Errorf("%w: the order is now %s, and it has no notify URL to post 2C2P's result to (send notify_url with pay, or configure notify_url)", transform.ErrNotNotified, o.state)
	}
	text := seal(RootResponse, s.cfg.Version, s.response(o.request, result, now), s.sig)
	out := &transform.Outbound{
		URL: o.notifyURL, ContentType: "application/x-www-form-urlencoded",
		Body: []byte(FieldResponse + "=" + url.QueryEscape(text)),
	}
	return out, func(status int, _ []byte) bool { return status == http.StatusOK }, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
