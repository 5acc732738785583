package wechatpay

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/consts"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
)

// validating runs the SDK's response validator on every answer that passes
// through it, refusals included (the SDK validates only the 2xx answers it
// decodes; WeChat signs its error answers too), and records the failures.
type validating struct {
	next      http.RoundTripper
	validator *validators.WechatPayResponseValidator
	mu        sync.Mutex
	answers   int
	failures  []string
}

func (v *validating) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := v.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	verr := v.validator.Validate(r.Context(), res) // restores the body it reads
	v.mu.Lock()
	defer v.mu.Unlock()
	v.answers++
	if verr != nil {
		v.failures = append(v.failures, fmt.Sprintf("%s %s → %d: %v", r.Method, r.URL.Path, res.StatusCode, verr))
	}
	return res, nil
}

// wantAPIError checks that err is WeChat's refusal status/code.
func wantAPIError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.Code != code || apiErr.Message == "" {
		t.Errorf("%s: %v, want %d %s with a message", what, err, status, code)
	}
}

// TestSDKRefusalsFromSandbox: what WeChat Pay refuses, the sandbox refuses
// with WeChat's status and code, each refusal signed so that the SDK's own
// response validator accepts it: an unknown order or refund, a used
// out_trade_no with another amount, a refund before payment, above what
// remains or with another total, closing a paid order; and requests whose
// Authorization is missing, malformed, by another key, serial or merchant,
// stale, or over another body (401 SIGN_ERROR). Query by transaction_id
// (QueryOrderById) finds a paid order.
func TestSDKRefusalsFromSandbox(t *testing.T) {
	k := loadKeys(t)
	env := startSandbox(t)
	ctx := context.Background()
	verifier := verifiers.NewSHA256WithRSACombinedVerifier(
		core.NewCertificateMapWithList([]*x509.Certificate{k.platformCert}), publicKeyID, *k.platformPublic)
	judge := &validating{next: http.DefaultTransport, validator: validators.NewWechatPayResponseValidator(verifier)}
	sandbox, err := url.Parse(env.sandbox)
	if err != nil {
		t.Fatal(err)
	}
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: toSandbox{sandbox: sandbox, next: judge}}
	client, err := core.NewClient(ctx, option.WithWechatPayPublicKeyAuthCipher(mchID, merchantSerial, k.merchant, publicKeyID, k.platformPublic),
		option.WithHTTPClient(httpClient))
	if err != nil {
		t.Fatal(err)
	}
	pay := jsapi.JsapiApiService{Client: client}
	refunds := refunddomestic.RefundsApiService{Client: client}
	h, err := notify.NewRSANotifyHandler(apiV3Key, verifier)
	if err != nil {
		t.Fatal(err)
	}
	notifier := newNotifyServer(t, h)
	prepay := func(orderID string, total int64) error {
		_, _, err := pay.Prepay(ctx, jsapi.PrepayRequest{
			Appid: core.String(appID), Mchid: core.String(mchID), Description: core.String("Latte"),
			OutTradeNo: core.String(orderID), NotifyUrl: core.String(notifier.srv.URL),
			Amount: &jsapi.Amount{Total: core.Int64(total), Currency: core.String("CNY")}, Payer: &jsapi.Payer{Openid: core.String(openID)},
		})
		return err
	}
	refund := func(orderID, refundID string, amount, total int64) error {
		_, _, err := refunds.Create(ctx, refunddomestic.CreateRequest{OutTradeNo: core.String(orderID), OutRefundNo: core.String(refundID),
			Amount: &refunddomestic.AmountReq{Refund: core.Int64(amount), Total: core.Int64(total), Currency: core.String("CNY")}})
		return err
	}

	orderID := newOrderID("RJ")
	if err := prepay(orderID, 100); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, "prepay of a used out_trade_no with another amount", prepay(orderID, 101), 403, "OUT_TRADE_NO_USED")
	wantAPIError(t, "refund before payment", refund(orderID, orderID+"R0", 1, 100), 400, "INVALID_REQUEST")
	_, _, err = pay.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{TransactionId: core.String("4200000000202611220000000000"), Mchid: core.String(mchID)})
	wantAPIError(t, "QueryOrderById of an unknown transaction", err, 404, "ORDER_NOT_EXIST")

	env.complete(t, orderID, "succeeded")
	if n := notifier.next(t); n.err != nil {
		t.Fatalf("payment notification: %v", n.err)
	}
	tx, _, err := pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(orderID), Mchid: core.String(mchID)})
	if err != nil || *tx.TradeState != "SUCCESS" {
		t.Fatalf("query after payment: %v %v", tx, err)
	}
	byID, _, err := pay.QueryOrderById(ctx, jsapi.QueryOrderByIdRequest{TransactionId: tx.TransactionId, Mchid: core.String(mchID)})
	if err != nil || *byID.OutTradeNo != orderID || *byID.TransactionId != *tx.TransactionId || *byID.TradeState != "SUCCESS" || *byID.Amount.Total != 100 {
		t.Fatalf("QueryOrderById after payment: %v %v", byID, err)
	}
	_, err = pay.CloseOrder(ctx, jsapi.CloseOrderRequest{OutTradeNo: core.String(orderID), Mchid: core.String(mchID)})
	wantAPIError(t, "close of a paid order", err, 403, "ORDERPAID")
	wantAPIError(t, "prepay of a paid order", prepay(orderID, 100), 403, "ORDERPAID")
	wantAPIError(t, "refund with another total", refund(orderID, orderID+"R1", 1, 99), 400, "INVALID_REQUEST")
	if err := refund(orderID, orderID+"R1", 60, 100); err != nil {
		t.Fatalf("refund: %v", err)
	}
	wantAPIError(t, "refund above what remains", refund(orderID, orderID+"R2", 41, 100), 400, "INVALID_REQUEST")
	wantAPIError(t, "refund id again with another amount", refund(orderID, orderID+"R1", 61, 100), 400, "INVALID_REQUEST")
	_, _, err = refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String(orderID + "R9")})
	wantAPIError(t, "query of an unknown refund", err, 404, "RESOURCE_NOT_EXISTS")
	_, _, err = pay.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(orderID + "X"), Mchid: core.String(mchID)})
	wantAPIError(t, "query of an unknown order", err, 404, "ORDER_NOT_EXIST")

	// Merchants the sandbox does not know by their Authorization.
	for name, signer := range map[string]*signers.SHA256WithRSASigner{
		"another key":     {MchID: mchID, CertificateSerialNo: merchantSerial, PrivateKey: platformKey(t)},
		"another serial":  {MchID: mchID, CertificateSerialNo: platformSerial, PrivateKey: k.merchant},
		"another mchid":   {MchID: "1900000109", CertificateSerialNo: merchantSerial, PrivateKey: k.merchant},
		"no serial match": {MchID: mchID, CertificateSerialNo: strings.Repeat("0", 40), PrivateKey: k.merchant},
	} {
		other, err := core.NewClient(ctx, option.WithWechatPayPublicKeyAuthCipher(signer.MchID, signer.CertificateSerialNo, signer.PrivateKey,
			publicKeyID, k.platformPublic), option.WithHTTPClient(httpClient))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = (&jsapi.JsapiApiService{Client: other}).QueryOrderByOutTradeNo(ctx,
			jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: core.String(orderID), Mchid: core.String(mchID)})
		wantAPIError(t, "Authorization by "+name, err, 401, "SIGN_ERROR")
	}

	// Authorization headers no SDK would send.
	sign := func(method, uri string, ts int64, body string) string {
		s := &signers.SHA256WithRSASigner{MchID: mchID, CertificateSerialNo: merchantSerial, PrivateKey: k.merchant}
		r, err := s.Sign(ctx, fmt.Sprintf(consts.SignatureMessageFormat, method, uri, ts, "n0nce", body))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf(consts.HeaderAuthorizationFormat, "WECHATPAY2-SHA256-RSA2048", mchID, "n0nce", ts, merchantSerial, r.Signature)
	}
	queryURI := "/v3/pay/transactions/out-trade-no/" + orderID + "?mchid=" + mchID
	closeURI := "/v3/pay/transactions/out-trade-no/" + orderID + "/close"
	now := time.Now().Unix()
	for _, tc := range []struct{ name, method, uri, authorization, body string }{
		{"missing", http.MethodGet, queryURI, "", ""},
		{"another scheme", http.MethodGet, queryURI, strings.Replace(sign("GET", queryURI, now, ""), "WECHATPAY2-SHA256-RSA2048", "Bearer", 1), ""},
		{"no signature", http.MethodGet, queryURI, fmt.Sprintf(`WECHATPAY2-SHA256-RSA2048 mchid="%s",nonce_str="n",timestamp="%d",serial_no="%s"`, mchID, now, merchantSerial), ""},
		{"signed for another path", http.MethodGet, queryURI, sign("GET", "/v3/pay/transactions/out-trade-no/"+orderID+"?mchid=1", now, ""), ""},
		{"signed 10 minutes ago", http.MethodGet, queryURI, sign("GET", queryURI, now-600, ""), ""},
		{"signed over another body", http.MethodPost, closeURI, sign("POST", closeURI, now, `{"mchid":"1"}`), `{"mchid":"` + mchID + `"}`},
	} {
		req, err := http.NewRequest(tc.method, consts.WechatPayAPIServer+tc.uri, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "refusal-test")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		if tc.authorization != "" {
			req.Header.Set("Authorization", tc.authorization)
		}
		res, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 401 || !bytes.Contains(body, []byte(`"code":"SIGN_ERROR"`)) {
			t.Errorf("Authorization %s: %d %s, want 401 SIGN_ERROR", tc.name, res.StatusCode, body)
		}
	}

	judge.mu.Lock()
	defer judge.mu.Unlock()
	if judge.answers < 20 {
		t.Errorf("the SDK's validator saw %d answers", judge.answers)
	}
	for _, f := range judge.failures {
		t.Errorf("the SDK's validator refuses the sandbox's answer: %s", f)
	}
}
