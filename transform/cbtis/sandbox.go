package cbtis

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/minipay/caddy-minipay/transform"
)

// DefaultTokenLifetime is the sandbox's expires_in.
const DefaultTokenLifetime = time.Hour

// Sandbox error codes (CBTIS publishes none; these are the sandbox's own).
const (
	SandboxCodeUnauthorized   = 40100
	SandboxCodeInvalidParam   = 40001
	SandboxCodeDuplicateOrder = 40002
	SandboxCodeOrderPaid      = 40003
	SandboxCodeOrderNotFound  = 40004
)

// maxSandboxTokens bounds the live tokens the sandbox keeps; a client
// renewing its token keeps working, as the newest are kept.
const maxSandboxTokens = 100

// Sandbox emulates the CBTIS API for one merchant: client-credentials
// tokens that expire, create and query behind a bearer token, orders in
// memory, and signed notifications.
type Sandbox struct {
	cfg Config
	// TokenLifetime is the lifetime of issued tokens (tests shorten it).
	TokenLifetime time.Duration
	// Now is the sandbox clock.
	Now func() time.Time

	mu     sync.Mutex
	tokens map[string]time.Time // token → expiry
	// tokenQueue lists the live tokens as issued, which is also the order
	// they expire in (one lifetime for all): the oldest go first.
	tokenQueue []string
	issued     int
	orders     map[string]*sandboxOrder // by merchant_order_id
	ring       transform.OrderRing      // creation order, to forget the oldest
}

type sandboxOrder struct {
	orderID, merchantOrderID string
	amount                   transform.Money
	description, notifyURL   string
	subOpenID                string
	status                   string // PENDING, SUCCEEDED, FAILED, REFUNDED
	createTime, payTime      time.Time
	refundID                 string
	refundTime               time.Time
	next                     map[string]string
}

// NewSandbox validates cfg and returns an empty Sandbox.
func NewSandbox(cfg Config) (*Sandbox, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleSandbox); err != nil {
		return nil, err
	}
	return &Sandbox{cfg: cfg, TokenLifetime: DefaultTokenLifetime, Now: time.Now,
		tokens: map[string]time.Time{}, orders: map[string]*sandboxOrder{}}, nil
}

var _ transform.Sandbox = (*Sandbox)(nil)

// Handles implements transform.Sandbox.
func (s *Sandbox) Handles(path string) bool {
	return path == PathAuth || path == PathCreate || path == PathQuery
}

// TokensIssued counts the access tokens the sandbox has issued.
func (s *Sandbox) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// ServeHTTP implements transform.Sandbox.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PathAuth {
		s.auth(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost) // RFC 9110 §15.5.6: a 405 names what is allowed
		reply(w, http.StatusMethodNotAllowed, 40500, "method not allowed", nil)
		return
	}
	if !s.authorized(r) {
		reply(w, http.StatusUnauthorized, SandboxCodeUnauthorized, "invalid or expired access token", nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		reply(w, http.StatusBadRequest, SandboxCodeInvalidParam, "unreadable body", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		code int
		msg  string
		data any
	)
	switch r.URL.Path {
	case PathCreate:
		code, msg, data = s.create(body)
	case PathQuery:
		code, msg, data = s.query(body)
	}
	reply(w, http.StatusOK, code, msg, data)
}

// auth is GET /mch-api/v1/auth?grant_type=client_credentials&uid=&client_secret=.
func (s *Sandbox) auth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		reply(w, http.StatusMethodNotAllowed, 40500, "method not allowed", nil)
		return
	}
	q := r.URL.Query()
	if q.Get("grant_type") != "client_credentials" {
		reply(w, http.StatusBadRequest, SandboxCodeInvalidParam, "grant_type must be client_credentials", nil)
		return
	}
	uidOK := transform.EqualConstantTime(q.Get("uid"), s.cfg.UID)
	secretOK := transform.EqualConstantTime(q.Get("client_secret"), s.cfg.ClientSecret)
	if !uidOK || !secretOK {
		reply(w, http.StatusUnauthorized, SandboxCodeUnauthorized, "invalid uid or client_secret", nil)
		return
	}
	now := s.Now()
	token := "sbx_" + transform.Nonce(40)
	s.mu.Lock()
	// Expired tokens go, and beyond maxSandboxTokens the oldest live one:
	// whoever holds client_secret cannot fill memory by asking again.
	for len(s.tokenQueue) > 0 && (len(s.tokenQueue) >= maxSandboxTokens || !now.Before(s.tokens[s.tokenQueue[0]])) {
		delete(s.tokens, s.tokenQueue[0])
		s.tokenQueue = s.tokenQueue[1:]
	}
	s.tokens[token] = now.Add(s.TokenLifetime)
	s.tokenQueue = append(s.tokenQueue, token)
	s.issued++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(transform.Marshal(struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}{token, int64((s.TokenLifetime + time.Second - 1) / time.Second)}))
}

func (s *Sandbox) authorized(r *http.Request) bool {
	// The scheme's name is case-insensitive (RFC 7235 §2.1): a client may
	// send the token_type as "bearer".
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[token]
	return ok && s.Now().Before(exp)
}

type sandboxCreate struct {
	Amount          string `json:"amount"`
	Currency        string `json:"currency"`
	MerchantOrderID string `json:"merchant_order_id"`
	PaymentMethod   *struct {
		Type   string `json:"type"`
		WeChat *struct {
			Flow      string `json:"flow"`
			SubAppID  string `json:"sub_appid"`
			SubOpenID string `json:"sub_openid"`
		} `json:"wechat"`
	} `json:"payment_method"`
	Description        string `json:"description"`
	NotifyURL          string `json:"notify_url"`
	SettlementCurrency string `json:"settlement_currency"`
}

func (s *Sandbox) create(body []byte) (int, string, any) {
	var req sandboxCreate
	if err := json.Unmarshal(body, &req); err != nil {
		return SandboxCodeInvalidParam, "invalid JSON body", nil
	}
	m, err := transform.ParseMoney(req.Amount, req.Currency, "amount", "currency")
	if err != nil {
		var te *transform.Error
		if errors.As(err, &te) {
			return SandboxCodeInvalidParam, te.Message, nil
		}
		return SandboxCodeInvalidParam, "invalid amount", nil
	}
	switch {
	case req.MerchantOrderID == "" || len(req.MerchantOrderID) > 32:
		return SandboxCodeInvalidParam, "merchant_order_id is required (at most 32 characters)", nil
	case strings.ContainsFunc(req.MerchantOrderID, unicode.IsControl):
		// CBTIS documents only the length; no API takes a CR or NUL in an
		// id, and the console could not name such an order back (HTML
		// reads a CR in an attribute as LF).
		return SandboxCodeInvalidParam, "merchant_order_id holds a control character", nil
	case req.Description == "":
		return SandboxCodeInvalidParam, "description is required", nil
	case req.PaymentMethod == nil || req.PaymentMethod.Type != "wechat" || req.PaymentMethod.WeChat == nil:
		return SandboxCodeInvalidParam, "payment_method.type must be wechat with a wechat object", nil
	case req.PaymentMethod.WeChat.Flow != "mini_program":
		return SandboxCodeInvalidParam, "payment_method.wechat.flow must be mini_program", nil
	case req.PaymentMethod.WeChat.SubAppID != s.cfg.SubAppID:
		return SandboxCodeInvalidParam, "sub_appid is not bound to this merchant", nil
	case req.PaymentMethod.WeChat.SubOpenID == "":
		return SandboxCodeInvalidParam, "sub_openid is required for the mini_program flow", nil
	case req.NotifyURL != "" && !absoluteURL(req.NotifyURL):
		return SandboxCodeInvalidParam, "notify_url must be an absolute URL", nil
	}
	if o, ok := s.orders[req.MerchantOrderID]; ok {
		switch {
		case o.status == "SUCCEEDED" || o.status == "REFUNDED": // a refunded order was paid
			return SandboxCodeOrderPaid, "the order has been paid", nil
		case o.status == "FAILED", // paid again under a new id, as every sandbox has it (README Sandbox)
			o.amount != m || o.description != req.Description || o.subOpenID != req.PaymentMethod.WeChat.SubOpenID:
			return SandboxCodeDuplicateOrder, "duplicate merchant_order_id", nil
		}
		return 0, "ok", o.view(true)
	}
	now := s.Now()
	o := &sandboxOrder{
		orderID:         "C" + now.UTC().Format("060102150405") + strconv.FormatInt(100000+transform.SandboxSerial(), 10),
		merchantOrderID: req.MerchantOrderID, amount: m, description: req.Description,
		notifyURL: req.NotifyURL, subOpenID: req.PaymentMethod.WeChat.SubOpenID,
		status: "PENDING", createTime: now,
		next: map[string]string{
			"appId": s.cfg.SubAppID, "timeStamp": strconv.FormatInt(now.Unix(), 10), "nonceStr": transform.Nonce(32),
			"package": "prepay_id=wx" + now.UTC().Format("20060102150405") + transform.Nonce(20), "signType": "RSA",
			"paySign": fakeRSASignature(),
		},
	}
	if old, evict := s.ring.Add(o.merchantOrderID); evict { // bounded memory
		delete(s.orders, old)
	}
	s.orders[o.merchantOrderID] = o
	return 0, "ok", o.view(true)
}

// fakeRSASignature looks like an RSA-2048 signature in base64; nothing
// verifies it outside a real WeChat client.
func fakeRSASignature() string {
	var b [256]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func (s *Sandbox) query(body []byte) (int, string, any) {
	var req struct {
		OrderID         string `json:"order_id"`
		MerchantOrderID string `json:"merchant_order_id"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return SandboxCodeInvalidParam, "invalid JSON body", nil
	}
	if req.OrderID == "" && req.MerchantOrderID == "" {
		return SandboxCodeInvalidParam, "order_id or merchant_order_id is required", nil
	}
	var found *sandboxOrder
	if req.MerchantOrderID != "" {
		found = s.orders[req.MerchantOrderID]
	} else {
		for _, o := range s.orders {
			if o.orderID == req.OrderID {
				found = o
			}
		}
	}
	if found == nil {
		return SandboxCodeOrderNotFound, "order not found", nil
	}
	return 0, "ok", found.view(false)
}

// documentedStatus is the intent status the API answers with: CBTIS
// documents PENDING, SUCCEEDED and CANCELLED only, so a failed payment
// leaves the intent PENDING (the customer may pay again) and a refund, a
// separate object, leaves it SUCCEEDED. The console shows the sandbox's own
// state.
func documentedStatus(status string) string {
	switch status {
	case "FAILED":
		return "PENDING"
	case "REFUNDED":
		return "SUCCEEDED"
	}
	return status
}

// view is the order as create (with next_action) or query answers it.
func (o *sandboxOrder) view(withNext bool) map[string]any {
	v := map[string]any{
		"order_id": o.orderID, "merchant_order_id": o.merchantOrderID,
		"amount": o.amount.String(), "currency": o.amount.Currency, "description": o.description,
		"create_time": o.createTime.UTC().Format("2006-01-02T15:04:05.000Z"), "status": documentedStatus(o.status),
	}
	if !o.payTime.IsZero() {
		v["pay_time"] = o.payTime.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if withNext {
		v["next_action"] = map[string]any{"type": "call_sdk", "data": o.next}
	}
	return v
}

// reply writes the API envelope {"code","data","message","rid"}.
func reply(w http.ResponseWriter, status, code int, msg string, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(transform.Marshal(struct {
		Code    int    `json:"code"`
		Data    any    `json:"data,omitempty"`
		Message string `json:"message"`
		RID     string `json:"rid"`
	}{code, data, msg, transform.Nonce(24)}))
}

// notifiable is how Complete and CompleteRefund begin: the order, in one
// of states (or SUCCEEDED too, for a success notified again).
func (s *Sandbox) notifiable(orderID string, succeeded bool, states ...string) (*sandboxOrder, error) {
	return transform.SandboxSettleable(s.orders, orderID, func(o *sandboxOrder) string { return o.status }, succeeded, "SUCCEEDED", states...)
}

// unnotified is the error of a settlement whose order was created without
// a notify_url (optional in CBTIS's create): the order is settled, as
// CBTIS settles an intent its customer pays, and a merchant that polls
// query sees it; there is nowhere to send the notification.
func unnotified(o *sandboxOrder, kind string) error {
	return fmt.Errorf("%w: the order is now %s, and it was created without a notify_url to send %s to", transform.ErrNotNotified, o.status, kind)
}

// Complete implements transform.Sandbox: it settles a PENDING order (a
// SUCCEEDED one may be notified again; one whose payment failed is PENDING
// to the API, so the customer may still pay it) and signs the notification:
// payment_success, or payment_failed (a kind the plugin forwards as
// unknown) when the payment failed.
func (s *Sandbox) Complete(orderID string, succeeded bool, now time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.notifiable(orderID, succeeded, "PENDING", "FAILED")
	if err != nil {
		return nil, nil, err
	}
	kind := "payment_failed"
	if succeeded {
		kind = NotifyPaymentSuccess
		if o.payTime.IsZero() {
			o.payTime = now
		}
		o.status = "SUCCEEDED"
	} else {
		o.status = "FAILED"
	}
	data := map[string]any{
		"uid": s.uid(), "order_id": o.orderID, "merchant_order_id": o.merchantOrderID,
		"order_amount": o.amount.String(), "order_currency": o.amount.Currency,
		"create_time": o.createTime.UTC().Format("2006-01-02T15:04:05.000Z"), "status": o.status,
	}
	if succeeded {
		data["pay_time"] = o.payTime.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	if o.notifyURL == "" {
		return nil, nil, unnotified(o, kind)
	}
	return s.notification(o.notifyURL, kind, data), acknowledged, nil
}
