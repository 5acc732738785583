package latipay

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// Latipay's error codes (docs/providers/latipay.md "Errors") the sandbox answers with.
const (
	codeOrderNotExist = 201
	codeFieldsNull    = 204
	codeUnknownUser   = 205
	codeBadSignature  = 206
	codeParamWrong    = 207
	codeAccountWrong  = 301
	codeWalletNotUser = 450
)

// Sandbox emulates Latipay's mini app API for one merchant: it verifies
// every signature it receives, keeps orders in memory, signs its query
// answers and notifications with the merchant's key the way Latipay does,
// and answers errors as {"code":N,"message":"..."}.
type Sandbox struct {
	cfg    Config
	signer signer
	mu     sync.Mutex
	// orders by merchant_reference, and by Latipay's order_id
	orders map[string]*sandboxOrder
	ring   transform.OrderRing // creation order, to forget the oldest
	byID   map[string]*sandboxOrder
	// Now is the sandbox's clock (time.Now unless a test pins it).
	Now func() time.Time
}

type sandboxOrder struct {
	ref, id   string
	amount    transform.Money
	notifyURL string
	product   string
	openID    string
	status    string // pending, paid, failed
	payTime   string // "2006-01-02 15:04:05", UTC as Latipay writes it
	refunded  int64
	payment   sandboxPayment
	created   time.Time
}

type sandboxPayment struct {
	NonceStr   string `json:"nonceStr"`
	PaySign    string `json:"paySign"`
	SignType   string `json:"signType"`
	TimeStamp  string `json:"timeStamp"`
	PackageStr string `json:"packageStr"`
}

// NewSandbox validates cfg (every field but notify_url) and returns an
// empty Sandbox.
func NewSandbox(cfg Config) (*Sandbox, error) {
	if err := transform.CheckConfig(&cfg, transform.RoleSandbox); err != nil {
		return nil, err
	}
	return &Sandbox{cfg: cfg, signer: newSigner(cfg.APIKey), orders: map[string]*sandboxOrder{}, byID: map[string]*sandboxOrder{}, Now: time.Now}, nil
}

var _ transform.Sandbox = (*Sandbox)(nil)

// Handles implements transform.Sandbox.
func (s *Sandbox) Handles(path string) bool {
	if path == PathPay || s.isRefund(path) {
		return true
	}
	ref, ok := strings.CutPrefix(path, PathQuery)
	return ok && ref != "" && !strings.Contains(ref, "/")
}

// isRefund tells whether path is a refund path: Latipay's /refund, the
// /v2/refund some integrations use, or the configured refund_path.
func (s *Sandbox) isRefund(path string) bool {
	return path == PathRefund || path == PathRefundV2 || path == s.cfg.RefundPath
}

// ServeHTTP implements transform.Sandbox.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == PathPay || s.isRefund(r.URL.Path):
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost) // RFC 9110 §15.5.6: a 405 names what is allowed
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p, ok := readJSONParams(r.Body)
		if !ok {
			fail(w, codeParamWrong, "Param is wrong")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path == PathPay {
			s.pay(w, p)
		} else {
			s.refund(w, p)
		}
	case s.Handles(r.URL.Path):
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			fail(w, codeParamWrong, "Param is wrong")
			return
		}
		p := transform.Params{{Name: "merchant_reference", Value: strings.TrimPrefix(r.URL.Path, PathQuery)}}
		for name, v := range q {
			// Read as UTF-8, as the webhook reads a form (ParseNotification).
			if len(v) != 1 || name == "merchant_reference" || !utf8.ValidString(name) || !utf8.ValidString(v[0]) {
				fail(w, codeParamWrong, "Param is wrong")
				return
			}
			p = append(p, transform.Param{Name: name, Value: v[0]})
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.query(w, p)
	default:
		http.NotFound(w, r)
	}
}

// readJSONParams reads a JSON object of scalars (bounded), the way the
// signature sees it: strings raw, numbers as written, null as absent. Text
// that is not UTF-8 is refused, as the webhook and caddy minipay sign refuse
// it: encoding/json would read it as U+FFFD, a text nobody signed.
func readJSONParams(body io.Reader) (transform.Params, bool) {
	b, err := io.ReadAll(io.LimitReader(body, MaxNotification+1))
	if err != nil || len(b) > MaxNotification || !transform.ValidJSONText(b) {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil, false
	}
	p := make(transform.Params, 0, len(m))
	for k, raw := range m {
		v, ok := transform.JSONScalar(raw)
		if !ok {
			return nil, false
		}
		p = append(p, transform.Param{Name: k, Value: v})
	}
	return p, true
}

// authenticate runs Latipay's checks in its order: required fields (204),
// the user (205), the signature (206: the sorted form, or for a query also
// the older one, see querySignedConcat). It answers and returns false on a
// failure.
func (s *Sandbox) authenticate(w http.ResponseWriter, p transform.Params, required ...string) bool {
	for _, f := range required {
		if p.Get(f) == "" {
			fail(w, codeFieldsNull, "Some fields from input are null")
			return false
		}
	}
	if p.Get("user_id") != s.cfg.UserID {
		fail(w, codeUnknownUser, "Cannot find out corresponding key for the user code or user is disabled or user is not activity")
		return false
	}
	if !s.signer.verify(p) && !s.querySignedConcat(p) {
		fail(w, codeBadSignature, "Signature from Merchant request is wrong")
		return false
	}
	return true
}

// querySignedConcat tells whether p is a query (merchant_reference from
// the path, user_id and signature, nothing else) signed in the older form of
// Latipay's docs and PHP plugin (Core.php find()): HMAC-SHA256 over the
// plain concatenation merchant_reference + user_id, keyed by the api_key. A
// client falls back to it when an account refuses the sorted form
// (docs/providers/latipay.md), so the sandbox takes both, as a Latipay that
// serves both kinds of clients must.
func (s *Sandbox) querySignedConcat(p transform.Params) bool {
	if len(p) != 3 || !p.Has("merchant_reference") || !p.Has("user_id") {
		return false
	}
	want := s.signer.olderQuerySign(p.Get("merchant_reference"), p.Get("user_id"))
	return transform.EqualHexConstantTime(p.Get("signature"), want)
}

func (s *Sandbox) pay(w http.ResponseWriter, p transform.Params) {
	if !s.authenticate(w, p, "user_id", "wallet_id", "amount", "notify_url", "merchant_reference", "app_id", "open_id", "signature") {
		return
	}
	if p.Get("wallet_id") != s.cfg.WalletID {
		fail(w, codeWalletNotUser, "Wallet not assign to user")
		return
	}
	if p.Get("app_id") != s.cfg.AppID {
		fail(w, codeAccountWrong, "Wrong account info or currency info")
		return
	}
	m, err := transform.ParseMoney(p.Get("amount"), s.cfg.Currency, "amount", "currency")
	if err != nil || !absoluteURL(p.Get("notify_url")) || transform.ValidOrderID("merchant_reference", p.Get("merchant_reference")) != nil {
		fail(w, codeParamWrong, "Param is wrong")
		return
	}
	ref := p.Get("merchant_reference")
	if o, ok := s.orders[ref]; ok {
		switch {
		case o.status == "paid":
			fail(w, codeParamWrong, "The merchant_reference has been paid")
		case o.status == "failed", o.amount != m || o.product != p.Get("product_name") || o.openID != p.Get("open_id"):
			// A failed payment is paid again under a new reference, as
			// every sandbox has it (README Sandbox).
			fail(w, codeParamWrong, "The merchant_reference has been used")
		default: // the same order again: the same payment, notified where the first asked, as every sandbox keeps it
			writeJSON(w, s.paymentAnswer(o))
		}
		return
	}
	now := s.Now().In(transform.UTC8)
	o := &sandboxOrder{
		ref: ref, id: now.Format("20060102") + strconv.FormatInt(10000000+transform.SandboxSerial(), 10),
		amount: m, notifyURL: p.Get("notify_url"), product: p.Get("product_name"), openID: p.Get("open_id"), status: "pending",
		created: now,
	}
	o.payment = sandboxPayment{
		NonceStr: transform.Nonce(32), SignType: wxpay.SignMD5, TimeStamp: strconv.FormatInt(now.Unix(), 10),
		PackageStr: "prepay_id=wx" + now.Format("20060102150405") + transform.Nonce(20),
	}
	// WeChat's paySign over the object, under a key the sandbox derives: in
	// production Latipay signs it with its own WeChat key.
	o.payment.PaySign = wxpay.PaySign(s.cfg.AppID, o.payment.NonceStr, o.payment.PackageStr, o.payment.SignType, o.payment.TimeStamp, s.wechatKey())
	if old, evict := s.ring.Add(ref); evict { // bounded memory
		delete(s.byID, s.orders[old].id)
		delete(s.orders, old)
	}
	s.orders[ref] = o
	s.byID[o.id] = o
	writeJSON(w, s.paymentAnswer(o))
}

// wechatKey stands in for the WeChat key Latipay holds.
func (s *Sandbox) wechatKey() string {
	sum := sha256.Sum256([]byte("latipay-sandbox-wechat:" + s.cfg.APIKey))
	return hex.EncodeToString(sum[:16])
}

func (s *Sandbox) paymentAnswer(o *sandboxOrder) []byte {
	return transform.Marshal(struct {
		Payment sandboxPayment    `json:"payment"`
		Paydata map[string]string `json:"paydata"`
	}{o.payment, map[string]string{"order_id": o.id}})
}

// queryAnswer is Latipay's transaction answer; amount is a JSON number, as
// Latipay documents it, and the signature is over its text.
type queryAnswer struct {
	MerchantReference string      `json:"merchant_reference"`
	Currency          string      `json:"currency"`
	Amount            json.Number `json:"amount"`
	PaymentMethod     string      `json:"payment_method"`
	Status            string      `json:"status"`
	PayTime           string      `json:"pay_time"`
	OrderID           string      `json:"order_id"`
	Signature         string      `json:"signature"`
}

func (s *Sandbox) query(w http.ResponseWriter, p transform.Params) {
	if !s.authenticate(w, p, "merchant_reference", "user_id", "signature") {
		return
	}
	o, ok := s.orders[p.Get("merchant_reference")]
	if !ok {
		fail(w, codeOrderNotExist, "order not exist")
		return
	}
	a := queryAnswer{
		MerchantReference: o.ref, Currency: o.amount.Currency, Amount: json.Number(o.amount.String()),
		PaymentMethod: "wechat", Status: o.status, PayTime: o.payTime, OrderID: o.id,
	}
	a.Signature = s.signer.notifySign(a.MerchantReference, a.PaymentMethod, a.Status, a.Currency, string(a.Amount))
	writeJSON(w, transform.Marshal(a))
}

func (s *Sandbox) refund(w http.ResponseWriter, p transform.Params) {
	if !s.authenticate(w, p, "user_id", "order_id", "refund_amount", "signature") {
		return
	}
	o, ok := s.byID[p.Get("order_id")]
	if !ok {
		fail(w, codeOrderNotExist, "order not exist")
		return
	}
	if o.status != "paid" {
		fail(w, codeParamWrong, "The order is not paid")
		return
	}
	m, err := transform.ParseMoney(p.Get("refund_amount"), s.cfg.Currency, "refund_amount", "currency")
	if err != nil {
		fail(w, codeParamWrong, "Param is wrong")
		return
	}
	if o.refunded+m.Minor > o.amount.Minor {
		fail(w, codeParamWrong, "refund_amount cannot be in excess of order amount")
		return
	}
	o.refunded += m.Minor
	writeJSON(w, []byte(`{"code":0,"message":""}`))
}

// Complete implements transform.Sandbox: it settles a pending (or failed)
// order and builds Latipay's form-encoded, signed notification to the
// order's notify_url. Latipay's ACK is HTTP 200 with the body exactly "sent".
func (s *Sandbox) Complete(orderID string, succeeded bool, now time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := transform.SandboxSettleable(s.orders, orderID, sandboxState, succeeded, "paid", "pending", "failed")
	if err != nil {
		return nil, nil, err
	}
	if o.status != "paid" {
		o.payTime = now.UTC().Format("2006-01-02 15:04:05")
	}
	o.status = "failed"
	if succeeded {
		o.status = "paid"
	}
	amount := o.amount.String()
	form := url.Values{
		"merchant_reference": {o.ref}, "order_id": {o.id}, "currency": {o.amount.Currency}, "amount": {amount},
		"payment_method": {"wechat"}, "status": {o.status}, "pay_time": {o.payTime},
		"signature": {s.signer.notifySign(o.ref, "wechat", o.status, o.amount.Currency, amount)},
	}
	out := &transform.Outbound{URL: o.notifyURL, ContentType: "application/x-www-form-urlencoded", Body: []byte(form.Encode())}
	ack := func(status int, body []byte) bool {
		return status == http.StatusOK && bytes.Equal(body, []byte(AckBody))
	}
	return out, ack, nil
}

// sandboxState is the order's state for /sandbox/complete and the
// console: Latipay's status, or refunded once refunded in full (its status
// stays paid), so that a refunded order is not notified paid again, as on
// every provider (README Sandbox).
func sandboxState(o *sandboxOrder) string {
	if o.status == "paid" && o.refunded == o.amount.Minor {
		return "refunded"
	}
	return o.status
}

func fail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, transform.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg}))
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}
