package wechatv3

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Sandbox emulates WeChat Pay API v3 for one merchant (and, with
// sub_mch_id, one sub-merchant of a service provider). It verifies every
// request's Authorization with the merchant's public key (derived from
// private_key), keeps orders and refunds in memory, and signs its answers
// and notifications with platform_private_key, announcing public_key_id
// when the request sent Wechatpay-Serial: <public_key_id> and its
// certificate's serial otherwise. Resources are encrypted with api_v3_key.
type Sandbox struct {
	cfg      Config
	merchant *rsa.PublicKey
	platform *rsa.PrivateKey
	cert     *x509.Certificate
	certPEM  []byte
	serial   string
	apiV3    []byte

	mu      sync.Mutex
	orders  map[string]*sandboxOrder  // by out_trade_no
	refunds map[string]*sandboxRefund // by out_refund_no
	// creation order of each map, to forget the oldest (bounded memory)
	orderRing, refundRing transform.OrderRing
	seq                   int64

	// Now is the sandbox's clock.
	Now func() time.Time
	// Notify, when set, sends a notification the sandbox produces by itself
	// (a refund's REFUND.SUCCESS) about the order orderID (its
	// out_trade_no, however the request named it); the Caddy module
	// delivers it and lists it in the console under that order.
	Notify func(orderID string, out *transform.Outbound, acknowledged func(status int, body []byte) bool)
}

type sandboxOrder struct {
	partner     bool
	req         payBody
	prepayID    string
	state       string // NOTPAY, SUCCESS, REFUND, CLOSED, PAYERROR
	txID        string
	successTime string
	refunded    int64
	lastRefund  *sandboxRefund
	created     time.Time
	// announce is the Wechatpay-Serial the order's notifications carry: the
	// key the merchant asked for when ordering.
	announce string
}

type sandboxRefund struct {
	order       *sandboxOrder
	id          string
	outRefundNo string
	amount      int64
	status      string
	createTime  string
	successTime string
}

// NewSandbox checks cfg, parses its keys and returns an empty Sandbox. The
// platform certificate is platform_certificate when given (it must hold
// platform_private_key's public key), else one the sandbox makes itself.
func NewSandbox(cfg Config) (*Sandbox, error) {
	k, err := cfg.parse(transform.RoleSandbox)
	if err != nil {
		return nil, err
	}
	platform, err := ParsePrivateKey(cfg.PlatformPrivateKey)
	if err != nil {
		return nil, fieldError("platform_private_key", err.Error())
	}
	s := &Sandbox{cfg: cfg, merchant: &k.signer.Key.PublicKey, platform: platform, apiV3: k.apiV3,
		orders: map[string]*sandboxOrder{}, refunds: map[string]*sandboxRefund{}, Now: time.Now}
	if len(k.certs) > 0 {
		s.cert = k.certs[0]
		if !platform.PublicKey.Equal(s.cert.PublicKey) {
			return nil, fieldError("platform_certificate", "does not hold platform_private_key's public key")
		}
	} else if s.cert, err = SandboxCertificate(platform); err != nil {
		return nil, fieldError("platform_private_key", "cannot sign a certificate")
	}
	if k.pub != nil && !platform.PublicKey.Equal(k.pub) {
		return nil, fieldError("public_key", "is not platform_private_key's public key")
	}
	s.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw})
	s.serial = CertificateSerial(s.cert)
	return s, nil
}

// SandboxCertificate is the self-signed platform certificate the sandbox
// makes when none is configured: deterministic for a key (serial from the
// key's hash, fixed validity), so every start announces the same serial.
func SandboxCertificate(key *rsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	sum[0] = sum[0]&0x7f | 0x10 // positive, and 16 hex digits however printed
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(sum[:8]),
		Subject:      pkix.Name{CommonName: "caddy-minipay wechat_v3 sandbox platform certificate", Organization: []string{"caddy-minipay sandbox"}},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(raw)
}

// Serial is the platform certificate serial the sandbox announces.
func (s *Sandbox) Serial() string { return s.serial }

// Keys implements transform.KeyHolder: the identities the sandbox signs
// under (its platform certificate, and its public key id when configured).
func (s *Sandbox) Keys() []transform.KeyInfo {
	out := []transform.KeyInfo{{ID: s.serial, Kind: "platform_certificate", NotAfter: s.cert.NotAfter}}
	if s.cfg.PublicKeyID != "" {
		out = append(out, transform.KeyInfo{ID: s.cfg.PublicKeyID, Kind: "wechatpay_public_key"})
	}
	return out
}

var _ transform.KeyHolder = (*Sandbox)(nil)

// CertificatePEM is the sandbox's platform certificate.
func (s *Sandbox) CertificatePEM() []byte { return s.certPEM }

var _ transform.Sandbox = (*Sandbox)(nil)

// Handles implements transform.Sandbox: every /v3/ path.
func (s *Sandbox) Handles(path string) bool { return strings.HasPrefix(path, "/v3/") }

// v3Error is WeChat's error body.
type v3Error struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func fail(status int, code, message string) *v3Error {
	return &v3Error{status: status, Code: code, Message: message}
}

// ServeHTTP implements transform.Sandbox.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	announce := s.serial
	if s.cfg.PublicKeyID != "" && r.Header.Get(HeaderSerial) == s.cfg.PublicKeyID {
		announce = s.cfg.PublicKeyID
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.reply(w, announce, 0, nil, fail(http.StatusRequestEntityTooLarge, "PARAM_ERROR", "请求体过大"))
		return
	}
	if e := s.authenticate(r, body); e != nil {
		s.reply(w, announce, 0, nil, e)
		return
	}
	status, answer, e := s.route(r, body, announce)
	s.reply(w, announce, status, answer, e)
}

// authenticate checks what WeChat checks before anything else: a
// User-Agent, and the Authorization signature by this merchant's key.
func (s *Sandbox) authenticate(r *http.Request, body []byte) *v3Error {
	if r.Header.Get("User-Agent") == "" {
		return fail(http.StatusBadRequest, "PARAM_ERROR", "User-Agent 不能为空")
	}
	a, ok := ParseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return fail(http.StatusUnauthorized, "SIGN_ERROR", "Authorization 格式错误")
	}
	if a.MchID != s.cfg.MchID {
		return fail(http.StatusUnauthorized, "SIGN_ERROR", "商户号与签名不匹配")
	}
	if !strings.EqualFold(a.SerialNo, s.cfg.SerialNo) {
		return fail(http.StatusUnauthorized, "SIGN_ERROR", "商户证书序列号有误")
	}
	ts, ok := parseTimestamp(a.Timestamp)
	if d := s.Now().Unix() - ts; !ok || d >= 300 || d <= -300 {
		return fail(http.StatusUnauthorized, "SIGN_ERROR", "请求时间戳与当前时间相差过大")
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	msg := AppendAuthMessage(nil, r.Method, uri, a.Timestamp, a.NonceStr, body)
	if !VerifyMessage(s.merchant, msg, a.Signature) {
		return fail(http.StatusUnauthorized, "SIGN_ERROR", "签名错误")
	}
	return nil
}

// reply writes a signed answer: the body (or the error), with
// Wechatpay-Serial, -Timestamp, -Nonce and -Signature over
// TIMESTAMP\nNONCE\nBODY\n. A 204 has an empty, still signed, body.
func (s *Sandbox) reply(w http.ResponseWriter, announce string, status int, body []byte, e *v3Error) {
	if e != nil {
		status, body = e.status, transform.Marshal(e)
	}
	h := s.sign(announce, body)
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Header().Set(HeaderRequestID, transform.Nonce(32))
	if len(body) > 0 {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// sign returns the four Wechatpay-* headers over body.
func (s *Sandbox) sign(announce string, body []byte) http.Header {
	ts := strconv.FormatInt(s.Now().Unix(), 10)
	nonce := transform.Nonce(32)
	sig, err := SignMessage(s.platform, AppendAnswerMessage(nil, ts, nonce, body))
	if err != nil {
		sig = ""
	}
	return http.Header{HeaderSerial: {announce}, HeaderTimestamp: {ts}, HeaderNonce: {nonce}, HeaderSignature: {sig}}
}

func (s *Sandbox) route(r *http.Request, body []byte, announce string) (int, []byte, *v3Error) {
	p := r.URL.Path
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case post && p == PathJSAPI:
		return s.pay(body, false, announce)
	case post && p == PathPartnerJSAPI:
		return s.pay(body, true, announce)
	case p == PathCertificates && get:
		return s.certificates()
	case post && p == PathRefunds:
		return s.refund(body, announce)
	case get && strings.HasPrefix(p, PathRefunds+"/"):
		return s.refundQuery(strings.TrimPrefix(p, PathRefunds+"/"), r.URL.Query())
	}
	for _, partner := range []bool{false, true} {
		prefix := PathTransactionID
		if partner {
			prefix = PathPartnerTransactionID
		}
		if tx, ok := strings.CutPrefix(p, prefix); ok && get && tx != "" && !strings.Contains(tx, "/") {
			return s.queryByTransactionID(tx, partner, r.URL.Query())
		}
	}
	for _, partner := range []bool{false, true} {
		prefix := PathOutTradeNo
		if partner {
			prefix = PathPartnerOutTradeNo
		}
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			continue
		}
		if id, ok := strings.CutSuffix(rest, "/close"); ok && post {
			return s.close(id, partner, body)
		}
		if get && !strings.Contains(rest, "/") {
			return s.query(rest, partner, r.URL.Query())
		}
	}
	return 0, nil, fail(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "无此接口或请求方法不支持")
}

type payBody struct {
	AppID       string `json:"appid,omitempty"`
	MchID       string `json:"mchid,omitempty"`
	SpAppID     string `json:"sp_appid,omitempty"`
	SpMchID     string `json:"sp_mchid,omitempty"`
	SubAppID    string `json:"sub_appid,omitempty"`
	SubMchID    string `json:"sub_mchid,omitempty"`
	Description string `json:"description"`
	OutTradeNo  string `json:"out_trade_no"`
	TimeExpire  string `json:"time_expire,omitempty"`
	Attach      string `json:"attach,omitempty"`
	NotifyURL   string `json:"notify_url"`
	Amount      *struct {
		Total    *int64 `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
	Payer *struct {
		OpenID    string `json:"openid"`
		SpOpenID  string `json:"sp_openid"`
		SubOpenID string `json:"sub_openid"`
	} `json:"payer"`
}

// identity checks a request's merchant fields against the configuration.
func (s *Sandbox) identity(partner bool, appID, mchID, spAppID, spMchID, subAppID, subMchID string) *v3Error {
	if !partner {
		if mchID != s.cfg.MchID {
			return fail(http.StatusBadRequest, "PARAM_ERROR", "mchid与请求方商户号不一致")
		}
		if appID != s.cfg.AppID {
			return fail(http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "appid和mchid不匹配")
		}
		return nil
	}
	switch {
	case spMchID != s.cfg.MchID:
		return fail(http.StatusBadRequest, "PARAM_ERROR", "sp_mchid与请求方商户号不一致")
	case spAppID != s.cfg.AppID:
		return fail(http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "sp_appid和sp_mchid不匹配")
	case s.cfg.SubMchID == "" || subMchID != s.cfg.SubMchID:
		return fail(http.StatusForbidden, "NO_AUTH", "服务商与子商户无授权关系")
	case subAppID != "" && subAppID != s.cfg.SubAppID:
		return fail(http.StatusBadRequest, "APPID_MCHID_NOT_MATCH", "sub_appid和sub_mchid不匹配")
	}
	return nil
}

func (s *Sandbox) pay(body []byte, partner bool, announce string) (int, []byte, *v3Error) {
	var req payBody
	if json.Unmarshal(body, &req) != nil {
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
	}
	if e := s.identity(partner, req.AppID, req.MchID, req.SpAppID, req.SpMchID, req.SubAppID, req.SubMchID); e != nil {
		return 0, nil, e
	}
	switch {
	case req.Description == "" || len(req.Description) > 127:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "description 参数有误")
	case transform.ValidOrderID("out_trade_no", req.OutTradeNo) != nil:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "out_trade_no 参数有误")
	case !validNotifyURL(req.NotifyURL):
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "notify_url 参数有误")
	case req.Amount == nil || req.Amount.Total == nil || *req.Amount.Total <= 0:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "amount.total 参数有误")
	case req.Amount.Currency != "" && req.Amount.Currency != currencyCNY:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "amount.currency 仅支持CNY")
	case req.Payer == nil:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "payer 不能为空")
	}
	switch {
	case !partner && req.Payer.OpenID == "",
		partner && req.Payer.SpOpenID == "" && req.Payer.SubOpenID == "",
		partner && req.Payer.SubOpenID != "" && req.SubAppID == "":
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "payer 的 openid 有误")
	}
	if req.TimeExpire != "" {
		t, err := time.Parse(time.RFC3339, req.TimeExpire)
		if err != nil {
			return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "time_expire 格式错误")
		}
		if t.Before(s.Now().Add(time.Minute)) {
			return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "time_expire 时间过短")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[req.OutTradeNo]; ok {
		switch {
		case o.state == "SUCCESS" || o.state == "REFUND":
			return 0, nil, fail(http.StatusForbidden, "ORDERPAID", "该订单已支付")
		case o.state == "CLOSED":
			return 0, nil, fail(http.StatusForbidden, "ORDER_CLOSED", "该订单已关闭")
		case o.partner != partner || *o.req.Amount.Total != *req.Amount.Total || o.req.Description != req.Description:
			return 0, nil, fail(http.StatusForbidden, "OUT_TRADE_NO_USED", "商户订单号重复")
		}
		return http.StatusOK, prepayAnswer(o.prepayID), nil
	}
	s.seq++
	o := &sandboxOrder{partner: partner, req: req, state: "NOTPAY", announce: announce, created: s.Now(),
		prepayID: "wx" + s.Now().In(transform.UTC8).Format("02150405") + strconv.FormatInt(1e9+s.seq, 10) + transform.Nonce(12)}
	s.orders[req.OutTradeNo] = o
	if oldest, evict := s.orderRing.Add(req.OutTradeNo); evict {
		delete(s.orders, oldest)
	}
	return http.StatusOK, prepayAnswer(o.prepayID), nil
}

func prepayAnswer(id string) []byte {
	return append(transform.AppendJSONString([]byte(`{"prepay_id":`), id), '}')
}

// transactionObject is the answer of a query and the resource of
// TRANSACTION.SUCCESS.
type transactionObject struct {
	AppID          string            `json:"appid,omitempty"`
	MchID          string            `json:"mchid,omitempty"`
	SpAppID        string            `json:"sp_appid,omitempty"`
	SpMchID        string            `json:"sp_mchid,omitempty"`
	SubAppID       string            `json:"sub_appid,omitempty"`
	SubMchID       string            `json:"sub_mchid,omitempty"`
	OutTradeNo     string            `json:"out_trade_no"`
	TransactionID  string            `json:"transaction_id,omitempty"`
	TradeType      string            `json:"trade_type,omitempty"`
	TradeState     string            `json:"trade_state"`
	TradeStateDesc string            `json:"trade_state_desc"`
	BankType       string            `json:"bank_type,omitempty"`
	Attach         string            `json:"attach"`
	SuccessTime    string            `json:"success_time,omitempty"`
	Payer          map[string]string `json:"payer"`
	Amount         struct {
		Total         int64  `json:"total"`
		PayerTotal    *int64 `json:"payer_total,omitempty"`
		Currency      string `json:"currency"`
		PayerCurrency string `json:"payer_currency"`
	} `json:"amount"`
}

var tradeStateDesc = map[string]string{
	"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "PAYERROR": "支付失败", "CLOSED": "订单已关闭", "REFUND": "转入退款",
}

func (o *sandboxOrder) transaction(outTradeNo string) *transactionObject {
	t := &transactionObject{OutTradeNo: outTradeNo, TradeState: o.state, TradeStateDesc: tradeStateDesc[o.state],
		Attach: o.req.Attach, Payer: map[string]string{}}
	if o.partner {
		t.SpAppID, t.SpMchID, t.SubAppID, t.SubMchID = o.req.SpAppID, o.req.SpMchID, o.req.SubAppID, o.req.SubMchID
		if o.req.Payer.SubOpenID != "" {
			t.Payer["sub_openid"] = o.req.Payer.SubOpenID
		} else {
			t.Payer["sp_openid"] = o.req.Payer.SpOpenID
		}
	} else {
		t.AppID, t.MchID = o.req.AppID, o.req.MchID
		t.Payer["openid"] = o.req.Payer.OpenID
	}
	t.Amount.Total, t.Amount.Currency, t.Amount.PayerCurrency = *o.req.Amount.Total, currencyCNY, currencyCNY
	if o.txID != "" {
		t.TransactionID, t.TradeType, t.BankType, t.SuccessTime = o.txID, "JSAPI", "OTHERS", o.successTime
		total := *o.req.Amount.Total
		t.Amount.PayerTotal = &total
	}
	return t
}

// order finds an order by id for the merchant named in a query string or body.
func (s *Sandbox) order(id string, partner bool, mchID, spMchID, subMchID string) (*sandboxOrder, *v3Error) {
	if partner {
		if spMchID != s.cfg.MchID || s.cfg.SubMchID == "" || subMchID != s.cfg.SubMchID {
			return nil, fail(http.StatusBadRequest, "PARAM_ERROR", "sp_mchid 或 sub_mchid 有误")
		}
	} else if mchID != s.cfg.MchID {
		return nil, fail(http.StatusBadRequest, "PARAM_ERROR", "mchid 有误")
	}
	o, ok := s.orders[id]
	if !ok || o.partner != partner {
		return nil, fail(http.StatusNotFound, "ORDER_NOT_EXIST", "订单不存在")
	}
	return o, nil
}

func (s *Sandbox) query(id string, partner bool, q url.Values) (int, []byte, *v3Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queryLocked(id, partner, q)
}

// queryLocked answers a query of the order id (none when id is empty) for
// the merchant its query string names; s.mu is held.
func (s *Sandbox) queryLocked(id string, partner bool, q url.Values) (int, []byte, *v3Error) {
	get := func(k string) string {
		if v := q[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	o, e := s.order(id, partner, get("mchid"), get("sp_mchid"), get("sub_mchid"))
	if e != nil {
		return 0, nil, e
	}
	return http.StatusOK, transform.Marshal(o.transaction(id)), nil
}

// queryByTransactionID answers 微信支付订单号查询订单: a paid order by its
// transaction_id (an unpaid order has none, so WeChat does not find it).
func (s *Sandbox) queryByTransactionID(tx string, partner bool, q url.Values) (int, []byte, *v3Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, o := range s.orders {
		if o.txID == tx {
			return s.queryLocked(id, partner, q)
		}
	}
	// Not found: the merchant is still checked first, as for any query.
	return s.queryLocked("", partner, q)
}

func (s *Sandbox) close(id string, partner bool, body []byte) (int, []byte, *v3Error) {
	var req struct {
		MchID    string `json:"mchid"`
		SpMchID  string `json:"sp_mchid"`
		SubMchID string `json:"sub_mchid"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, e := s.order(id, partner, req.MchID, req.SpMchID, req.SubMchID)
	if e != nil {
		return 0, nil, e
	}
	if o.state == "SUCCESS" || o.state == "REFUND" {
		return 0, nil, fail(http.StatusForbidden, "ORDERPAID", "订单已支付，不能关闭")
	}
	o.state = "CLOSED"
	return http.StatusNoContent, nil, nil
}

// refundObject is the answer of a refund and of a refund query.
type refundObject struct {
	RefundID            string `json:"refund_id"`
	OutRefundNo         string `json:"out_refund_no"`
	TransactionID       string `json:"transaction_id"`
	OutTradeNo          string `json:"out_trade_no"`
	Channel             string `json:"channel"`
	UserReceivedAccount string `json:"user_received_account"`
	SuccessTime         string `json:"success_time,omitempty"`
	CreateTime          string `json:"create_time"`
	Status              string `json:"status"`
	FundsAccount        string `json:"funds_account"`
	Amount              struct {
		Total            int64  `json:"total"`
		Refund           int64  `json:"refund"`
		PayerTotal       int64  `json:"payer_total"`
		PayerRefund      int64  `json:"payer_refund"`
		SettlementRefund int64  `json:"settlement_refund"`
		SettlementTotal  int64  `json:"settlement_total"`
		DiscountRefund   int64  `json:"discount_refund"`
		Currency         string `json:"currency"`
	} `json:"amount"`
}

func (r *sandboxRefund) object(status string) *refundObject {
	total := *r.order.req.Amount.Total
	o := &refundObject{RefundID: r.id, OutRefundNo: r.outRefundNo, TransactionID: r.order.txID,
		OutTradeNo: r.order.req.OutTradeNo, Channel: "ORIGINAL", UserReceivedAccount: "支付用户零钱",
		CreateTime: r.createTime, Status: status, FundsAccount: "AVAILABLE"}
	if status == "SUCCESS" {
		o.SuccessTime = r.successTime
	}
	o.Amount.Total, o.Amount.Refund, o.Amount.PayerTotal, o.Amount.PayerRefund = total, r.amount, total, r.amount
	o.Amount.SettlementRefund, o.Amount.SettlementTotal, o.Amount.Currency = r.amount, total, currencyCNY
	return o
}

// refund accepts a refund of a paid order. WeChat answers PROCESSING; the
// sandbox settles it at once and sends REFUND.SUCCESS to the refund's
// notify_url (else the order's) through Notify.
func (s *Sandbox) refund(body []byte, announce string) (int, []byte, *v3Error) {
	var req struct {
		SubMchID      string `json:"sub_mchid"`
		TransactionID string `json:"transaction_id"`
		OutTradeNo    string `json:"out_trade_no"`
		OutRefundNo   string `json:"out_refund_no"`
		Reason        string `json:"reason"`
		NotifyURL     string `json:"notify_url"`
		Amount        *struct {
			Refund   *int64 `json:"refund"`
			Total    *int64 `json:"total"`
			Currency string `json:"currency"`
		} `json:"amount"`
	}
	if json.Unmarshal(body, &req) != nil {
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的JSON")
	}
	switch {
	case transform.ValidOrderID("out_refund_no", req.OutRefundNo) != nil:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "out_refund_no 参数有误")
	case req.Amount == nil || req.Amount.Refund == nil || req.Amount.Total == nil || *req.Amount.Refund <= 0:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "amount 参数有误")
	case req.Amount.Currency != currencyCNY:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "amount.currency 仅支持CNY")
	case req.NotifyURL != "" && !validNotifyURL(req.NotifyURL):
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "notify_url 参数有误")
	case len(req.Reason) > 240:
		return 0, nil, fail(http.StatusBadRequest, "PARAM_ERROR", "reason 参数有误")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var o *sandboxOrder
	for id, cand := range s.orders {
		if req.OutTradeNo != "" && id == req.OutTradeNo || req.OutTradeNo == "" && req.TransactionID != "" && cand.txID == req.TransactionID {
			o = cand
		}
	}
	partner := req.SubMchID != ""
	switch {
	case partner && (s.cfg.SubMchID == "" || req.SubMchID != s.cfg.SubMchID):
		return 0, nil, fail(http.StatusForbidden, "NO_AUTH", "服务商与子商户无授权关系")
	case o == nil || o.partner != partner:
		return 0, nil, fail(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在")
	case o.state != "SUCCESS" && o.state != "REFUND":
		return 0, nil, fail(http.StatusBadRequest, "INVALID_REQUEST", "订单未支付，不能退款")
	case *req.Amount.Total != *o.req.Amount.Total:
		return 0, nil, fail(http.StatusBadRequest, "INVALID_REQUEST", "订单金额与原订单不一致")
	}
	if r, ok := s.refunds[req.OutRefundNo]; ok {
		if r.order != o || r.amount != *req.Amount.Refund {
			return 0, nil, fail(http.StatusBadRequest, "INVALID_REQUEST", "退款单号重复")
		}
		return http.StatusOK, transform.Marshal(r.object(r.status)), nil
	}
	// NOT_ENOUGH is WeChat's answer when the merchant's balance cannot pay
	// the refund, not when the order cannot.
	if o.refunded+*req.Amount.Refund > *o.req.Amount.Total {
		return 0, nil, fail(http.StatusBadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
	}
	s.seq++
	now := s.Now().In(transform.UTC8).Format(time.RFC3339)
	r := &sandboxRefund{order: o, id: "50300" + strconv.FormatInt(s.Now().Unix(), 10) + strconv.FormatInt(1e6+s.seq, 10),
		outRefundNo: req.OutRefundNo, amount: *req.Amount.Refund, status: "SUCCESS", createTime: now, successTime: now}
	s.keepRefund(r)
	o.refunded += r.amount
	o.state, o.lastRefund = "REFUND", r
	answer := transform.Marshal(r.object("PROCESSING"))
	if s.Notify != nil {
		if out, err := s.refundNotification(r, cmp.Or(req.NotifyURL, o.req.NotifyURL), announce); err == nil {
			s.Notify(o.req.OutTradeNo, out, acknowledged)
		}
	}
	return http.StatusOK, answer, nil
}

// keepRefund remembers a new refund by its out_refund_no, forgetting the
// oldest once MaxSandboxOrders are kept (the API's and the console's alike).
func (s *Sandbox) keepRefund(r *sandboxRefund) {
	s.refunds[r.outRefundNo] = r
	if oldest, evict := s.refundRing.Add(r.outRefundNo); evict {
		delete(s.refunds, oldest)
	}
}

func (s *Sandbox) refundQuery(id string, q map[string][]string) (int, []byte, *v3Error) {
	sub := ""
	if v := q["sub_mchid"]; len(v) == 1 {
		sub = v[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[id]
	switch {
	case sub != "" && (s.cfg.SubMchID == "" || sub != s.cfg.SubMchID):
		return 0, nil, fail(http.StatusForbidden, "NO_AUTH", "服务商与子商户无授权关系")
	case !ok || r.order.partner != (sub != ""):
		return 0, nil, fail(http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	return http.StatusOK, transform.Marshal(r.object(r.status)), nil
}

// certificates answers GET /v3/certificates with the platform certificate,
// encrypted with api_v3_key.
func (s *Sandbox) certificates() (int, []byte, *v3Error) {
	body, err := appendCertificatesAnswer(nil, []*x509.Certificate{s.cert},
		func(*x509.Certificate) []byte { return s.certPEM }, s.apiV3)
	if err != nil {
		return 0, nil, fail(http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
	}
	return http.StatusOK, body, nil
}

// envelope is a notification's JSON.
type envelope struct {
	ID           string    `json:"id"`
	CreateTime   string    `json:"create_time"`
	ResourceType string    `json:"resource_type"`
	EventType    string    `json:"event_type"`
	Summary      string    `json:"summary"`
	Resource     *Resource `json:"resource"`
}

// Notification encrypts resource (a JSON object) and returns the signed
// notification WeChat would POST to notifyURL.
func (s *Sandbox) Notification(notifyURL, announce, eventType, summary, originalType string, resource []byte) (*transform.Outbound, error) {
	res, err := EncryptResource(s.apiV3, transform.Nonce(12), originalType, resource)
	if err != nil {
		return nil, err
	}
	res.OriginalType = originalType
	now := s.Now()
	body := transform.Marshal(envelope{ID: sandboxUUID(), CreateTime: now.In(transform.UTC8).Format(time.RFC3339),
		ResourceType: "encrypt-resource", EventType: eventType, Summary: summary, Resource: res})
	h := s.sign(announce, body)
	return &transform.Outbound{URL: notifyURL, ContentType: "application/json", Header: h, Body: body}, nil
}

// acknowledged is WeChat's reading of an answer: a 200 or 204 is an ACK,
// whatever the body.
func acknowledged(status int, _ []byte) bool {
	return status == http.StatusOK || status == http.StatusNoContent
}

func (s *Sandbox) refundNotification(r *sandboxRefund, notifyURL, announce string) (*transform.Outbound, error) {
	res := map[string]any{
		"out_trade_no": r.order.req.OutTradeNo, "transaction_id": r.order.txID,
		"out_refund_no": r.outRefundNo, "refund_id": r.id, "refund_status": "SUCCESS",
		"success_time": r.successTime, "user_received_account": "支付用户零钱",
		"amount": map[string]int64{"total": *r.order.req.Amount.Total, "refund": r.amount,
			"payer_total": *r.order.req.Amount.Total, "payer_refund": r.amount},
	}
	if r.order.partner {
		res["sp_mchid"], res["sub_mchid"] = r.order.req.SpMchID, r.order.req.SubMchID
	} else {
		res["mchid"] = r.order.req.MchID
	}
	return s.Notification(notifyURL, announce, EventRefundSuccess, "退款成功", "refund", transform.Marshal(res))
}

// tradeState is an order's trade_state, for transform.SandboxOrderIn.
func tradeState(o *sandboxOrder) string { return o.state }

// Complete implements transform.Sandbox: a succeeded order becomes SUCCESS
// and its TRANSACTION.SUCCESS notification is returned. WeChat Pay v3 sends
// no notification for a failed payment: "failed" marks the order PAYERROR
// (a query shows it) and reports that nothing was sent.
func (s *Sandbox) Complete(orderID string, succeeded bool, now time.Time) (*transform.Outbound, func(int, []byte) bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := transform.SandboxSettleable(s.orders, orderID, tradeState, succeeded, "SUCCESS", "NOTPAY", "PAYERROR")
	if err != nil {
		return nil, nil, err
	}
	if !succeeded {
		o.state = "PAYERROR"
		return nil, nil, fmt.Errorf("%w: the order is now PAYERROR, and WeChat Pay v3 sends no notification for a failed payment", transform.ErrNotNotified)
	}
	if o.txID == "" {
		s.seq++
		o.txID = "42000" + now.In(transform.UTC8).Format("20060102150405") + strconv.FormatInt(1e8+s.seq, 10)
		o.successTime = now.In(transform.UTC8).Format(time.RFC3339)
	}
	o.state = "SUCCESS"
	out, err := s.Notification(o.req.NotifyURL, o.announce, EventTransactionSuccess, "支付成功", "transaction",
		transform.Marshal(o.transaction(orderID)))
	if err != nil {
		return nil, nil, err
	}
	return out, acknowledged, nil
}

// sandboxUUID is a random RFC 4122 version 4 id, the form of WeChat's
// notification ids.
func sandboxUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	var out bytes.Buffer
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out.WriteByte('-')
		}
		out.WriteByte(hexd[c>>4])
		out.WriteByte(hexd[c&0xf])
	}
	return out.String()
}

// SetNotify sets Notify (the Caddy module's hook for notifications the
// sandbox sends by itself). f is called with the sandbox locked: it must not
// block, nor call the sandbox.
func (s *Sandbox) SetNotify(f func(orderID string, out *transform.Outbound, acknowledged func(status int, body []byte) bool)) {
	s.Notify = f
}
