package wechatv3

import (
	"crypto/x509"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/minipay/caddy-minipay/transform"
)

// v3Error is WeChat's error body.
type v3Error struct {
	status  int
	Code    string         `json:"code"`
	Detail  *v3ErrorDetail `json:"detail,omitempty"`
	Message string         `json:"message"`
}

// v3ErrorDetail says where a PARAM_ERROR's value was and what it was.
type v3ErrorDetail struct {
	Location string `json:"location"`
	Value    string `json:"value"`
}

func fail(status int, code, message string) *v3Error {
	return &v3Error{status: status, Code: code, Message: message}
}

// maxRequest bounds what the sandbox reads of a request, as the other
// providers' sandboxes do.
const maxRequest = 64 << 10

// ServeHTTP implements transform.Sandbox.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	announce := s.serial
	if s.cfg.PublicKeyID != "" && r.Header.Get(HeaderSerial) == s.cfg.PublicKeyID {
		announce = s.cfg.PublicKeyID
	}
	// Bounded here too: the sandbox may serve without Caddy's adapter.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil || len(body) > maxRequest {
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

// sign returns the four Wechatpay-* headers over body, and
// Wechatpay-Signature-Type as WeChat sends it.
func (s *Sandbox) sign(announce string, body []byte) http.Header {
	ts := strconv.FormatInt(s.Now().Unix(), 10)
	nonce := transform.Nonce(32)
	sig, err := SignMessage(s.platform, AppendAnswerMessage(nil, ts, nonce, body))
	if err != nil {
		sig = ""
	}
	return http.Header{HeaderSerial: {announce}, HeaderTimestamp: {ts}, HeaderNonce: {nonce}, HeaderSignature: {sig},
		HeaderSignatureType: {AuthScheme}}
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
