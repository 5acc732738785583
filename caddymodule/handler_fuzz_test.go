package caddymodule

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap/zapcore"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

// documentedStatus are the merchant API's statuses (README "Errors").
var documentedStatus = map[int]string{
	400: transform.CodeInvalidRequest, 404: transform.CodeUnknownOperation, 405: transform.CodeMethodNotAllowed,
	413: transform.CodeRequestTooLarge, 415: transform.CodeUnsupportedMediaType, 422: transform.CodeProviderRejected,
	502: "", 504: transform.CodeUpstreamTimeout,
}

// FuzzMerchantHandler: the minipay handler answers any merchant request
// (operation, Content-Type, Content-Encoding, body) and any upstream answer
// (status, Content-Encoding, body; signed with the key when it is a flat
// <xml>, so the mappers are reached) with JSON: 200 and a result, or a
// documented status and error code; never a 500.
func FuzzMerchantHandler(f *testing.F) {
	answer := signedPayAnswer()
	f.Add(uint8(0), "application/json", "", []byte(payJSON), 200, false, answer)
	f.Add(uint8(1), "application/json; charset=utf-8", "", []byte(`{"order_id":"O1"}`), 200, false,
		[]byte(`<xml><return_code>SUCCESS</return_code><appid>`+testAppID+`</appid><mch_id>`+testMchID+`</mch_id><result_code>SUCCESS</result_code><trade_state>NOTPAY</trade_state><out_trade_no>O1</out_trade_no></xml>`))
	f.Add(uint8(3), "application/json", "identity", []byte(`{"order_id":"O1","refund_id":"R1","amount":"1.00","currency":"CNY"}`), 200, true, answer)
	f.Add(uint8(6), "application/json", "", []byte(`{}`), 200, false, answer)
	f.Add(uint8(0), "text/plain", "gzip", []byte(payJSON), 500, false, []byte("<html>"))
	f.Add(uint8(0), "application/json", "", []byte(payJSON), 200, false, []byte(`<xml><return_code>FAIL</return_code><return_msg>签名错误</return_msg></xml>`))
	h := newTestHandler(f, io.Discard, zapcore.ErrorLevel)
	ops := []string{"pay", "query", "close", "refund", "refund_query", "login", "nothing"}
	f.Fuzz(func(t *testing.T, op uint8, contentType, contentEncoding string, body []byte, upStatus int, upGzip bool, upBody []byte) {
		if upStatus < 100 || upStatus > 999 || upStatus < 200 && upStatus != 100 {
			return // net/http delivers no other final status
		}
		if root, p, err := transform.ParseFlatXML(upBody); err == nil && root == "xml" && p.Has("return_code") {
			var q transform.Params
			for _, kv := range p {
				if kv.Name != "sign" {
					q = append(q, kv)
				}
			}
			upBody = transform.AppendFlatXML(nil, "xml", append(q, transform.Param{Name: "sign", Value: wxpay.Sign(q, testAPIKey, wxpay.SignMD5)}))
		}
		if upGzip {
			upBody = transformtest.Gzip(upBody)
		}
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			_, _ = io.Copy(io.Discard, r.Body)
			if upGzip {
				w.Header().Set("Content-Encoding", "gzip")
			}
			w.WriteHeader(upStatus)
			_, _ = w.Write(upBody)
			return nil
		})
		r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/"+ops[int(op)%len(ops)], bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Content-Encoding", contentEncoding)
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		if w.Header().Get("Content-Type") != "application/json" || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("HTTP %d %q: %q", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		if w.Code == http.StatusOK {
			return
		}
		code, ok := documentedStatus[w.Code]
		var e struct {
			Error *transform.Error `json:"error"`
		}
		if !ok || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == nil || e.Error.Message == "" ||
			code != "" && e.Error.Code != code || code == "" && e.Error.Code != transform.CodeUpstreamError && e.Error.Code != transform.CodeSignatureInvalid {
			t.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
		if len(e.Error.ProviderCode) > transform.MaxProviderText || len(e.Error.ProviderMessage) > transform.MaxProviderText {
			t.Fatalf("provider text: %s", w.Body)
		}
	})
}
