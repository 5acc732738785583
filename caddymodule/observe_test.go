package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/cbtis"
	"github.com/minipay/caddy-minipay/transform/latipay"
	"github.com/minipay/caddy-minipay/transform/twoc2p"
	"github.com/minipay/caddy-minipay/transform/wechatv3"
	"github.com/minipay/caddy-minipay/transform/wxlogin"
)

// TestFailedCallLogNamesOrder: the log line of a valid request names its
// order_id (README "Observability") even when the call failed before
// anything went upstream — CBTIS's token endpoint failing at the first
// fetch, or at the fetch that follows the API's 401 for a refused token.
func TestFailedCallLogNamesOrder(t *testing.T) {
	const orderID = "CBTIS-LOG-1"
	body := `{"order_id":"` + orderID + `","amount":"12.30","currency":"HKD","description":"Milk tea","openid":"oqZa55Qo-u0cVViWMAgv_YbyXb4U"}`
	tests := []struct {
		name string
		// goodTokens is how many token fetches succeed before the endpoint fails.
		goodTokens int64
		// apiStatus is what the API answers a call that reached it.
		apiStatus int
		wantCalls int64
	}{
		{"token endpoint fails", 0, http.StatusOK, 0},
		{"token refused, the new fetch fails", 1, http.StatusUnauthorized, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fetches atomic.Int64
			tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if fetches.Add(1) > tt.goodTokens {
					http.Error(w, "down", http.StatusInternalServerError)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"access_token":"tok-observe-test","expires_in":3600}`))
			}))
			defer tokens.Close()
			client, err := cbtis.NewClient(cbtis.Config{UID: "39172931", ClientSecret: "cs_observe_test_secret",
				SubAppID: "wx7bc98d929da735fe", TokenURL: tokens.URL + "/mch-api/v1/auth"})
			if err != nil {
				t.Fatal(err)
			}
			m, err := newMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&log), zapcore.InfoLevel))
			h := &Handler{providerHandler: providerHandler{name: cbtis.Name, logger: logger, metrics: m}, client: client,
				ops: m.operations(cbtis.Name, client, logger)}
			var calls atomic.Int64
			api := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
				calls.Add(1)
				w.WriteHeader(tt.apiStatus)
				return nil
			})
			r := httptest.NewRequest(http.MethodPost, "http://minipay.local/cbtis/pay", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			_ = h.ServeHTTP(w, r, api)
			if w.Code != http.StatusBadGateway || !strings.Contains(w.Body.String(), transform.CodeUpstreamError) {
				t.Fatalf("HTTP %d %s, want 502 upstream_error", w.Code, w.Body)
			}
			if calls.Load() != tt.wantCalls {
				t.Fatalf("the API was called %d times, want %d", calls.Load(), tt.wantCalls)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(log.String())), &line); err != nil {
				t.Fatalf("not one JSON line: %v\n%s", err, log.String())
			}
			if line["order_id"] != orderID || line["outcome"] != transform.CodeUpstreamError || line["operation"] != "pay" {
				t.Errorf("log line %s, want order_id %s, outcome upstream_error, operation pay", log.String(), orderID)
			}
			if strings.Contains(log.String(), "tok-observe-test") || strings.Contains(log.String(), "cs_observe_test_secret") {
				t.Errorf("the log line holds a secret: %s", log.String())
			}
		})
	}
}

// TestRefusedRequestLogNamesOrder: a request refused before anything was
// sent names its order in its WARN line whenever its order_id is valid,
// whatever other field is at fault (README "Observability"); an order_id
// that breaks its own rule, or a body that is no JSON object, names none;
// so does a login, whose request has no order_id (a member so named is
// refused as unknown, and names no order of it).
func TestRefusedRequestLogNamesOrder(t *testing.T) {
	tests := []struct {
		name, op, body string
		wantField      string
		wantOrderID    string // "" when the line must have no order_id
		provider       string // wechat_v2 when empty
	}{
		{"login naming an order", "login", `{"code":"c0de","order_id":"LOG-11"}`, "order_id", "", ""},
		{"login naming an order first", "login", `{"order_id":"LOG-12","code":"c0de"}`, "order_id", "", ""},
		{"invalid amount", "pay", `{"order_id":"LOG-1","amount":"-1","currency":"CNY","description":"d","openid":"o1"}`, "amount", "LOG-1", ""},
		{"expire_at in the past", "pay", `{"order_id":"LOG-2","amount":"1","currency":"CNY","description":"d","openid":"o1","expire_at":"2001-01-01T00:00:00Z"}`, "expire_at", "LOG-2", ""},
		{"unknown field", "pay", `{"order_id":"LOG-3","amount":"1","currency":"CNY","description":"d","openid":"o1","total_fee":1}`, "total_fee", "LOG-3", ""},
		{"refund without refund_id", "refund", `{"order_id":"LOG-4","amount":"1","currency":"CNY"}`, "refund_id", "LOG-4", ""},
		{"order_id breaking its rule", "query", `{"order_id":"LOG 5\n{\"outcome\":\"ok\"}"}`, "order_id", "", ""},
		{"order_id too long", "query", `{"order_id":"` + strings.Repeat("L", 33) + `"}`, "order_id", "", ""},
		{"order_id of another type", "query", `{"order_id":7}`, "order_id", "", ""},
		{"another key's case", "query", `{"ORDER_ID":"LOG-6"}`, "ORDER_ID", "", ""},
		{"order_id twice", "query", `{"order_id":"LOG-8","order_id":"LOG-9"}`, "order_id", "", ""},
		{"order_id after a refused field", "pay", `{"amount":"1.001","order_id":"LOG-10","currency":"CNY","description":"d","openid":"o1"}`, "amount", "LOG-10", ""},
		{"not JSON", "query", `order_id=LOG-7`, "", "", ""},
		{"close with an unknown field", "close", `{"reason":"r","order_id":"LOG-13"}`, "reason", "LOG-13", ""},
		{"refund_query with a refund_id breaking its rule", "refund_query", `{"refund_id":"R 1","order_id":"LOG-14"}`, "refund_id", "LOG-14", ""},
		// As encoding/json's Decoder reads an object member by member.
		{"an object cut short after its members", "query", `{"order_id":"LOG-15"`, "", "LOG-15", ""},
		// An order_id keeping README Merchant API's characters and length
		// that a provider refuses after reading it is named.
		{"2C2P order_id over 20 characters", "pay", `{"order_id":"LOG-2C2P-1234567890123","amount":"1","currency":"SGD","description":"d","openid":"o1"}`,
			"order_id", "LOG-2C2P-1234567890123", twoc2p.Name},
		{"Latipay order_id its older query form refuses", "pay", `{"order_id":"x-wechatpaidMR","amount":"1","currency":"NZD","description":"d","openid":"o1"}`,
			"order_id", "x-wechatpaidMR", latipay.Name},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			h := newTestHandler(t, &log, zapcore.InfoLevel)
			if tt.op == transform.OpLogin {
				client, err := wxlogin.NewClient(wxlogin.Config{AppID: testAppID, AppSecret: "5f5e2c8d4b7a4e0f9c1d3b6a8e2f4c7d"})
				if err != nil {
					t.Fatal(err)
				}
				h = newTestHandlerOf(t, wxlogin.Name, client, &log, zapcore.InfoLevel)
			}
			switch tt.provider {
			case twoc2p.Name:
				client, err := twoc2p.NewClient(twoc2p.Config{MerchantID: "JT01", SecretKey: "7jYcp4FxFdf0", AppID: testAppID})
				if err != nil {
					t.Fatal(err)
				}
				h = newTestHandlerOf(t, twoc2p.Name, client, &log, zapcore.InfoLevel)
			case latipay.Name:
				client, err := latipay.NewClient(latipay.Config{UserID: "U12345678", WalletID: "W00000001",
					APIKey: "lp-sandbox-3f9a1c7e5b2d4086", AppID: testAppID, Currency: "NZD"})
				if err != nil {
					t.Fatal(err)
				}
				h = newTestHandlerOf(t, latipay.Name, client, &log, zapcore.InfoLevel)
			}
			r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/"+tt.op, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			_ = h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
				t.Fatal("a refused request went upstream")
				return nil
			}))
			if w.Code != http.StatusBadRequest {
				t.Fatalf("HTTP %d %s, want 400", w.Code, w.Body)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(log.String())), &line); err != nil {
				t.Fatalf("not one JSON line: %v\n%s", err, log.String())
			}
			if line["level"] != "warn" || line["outcome"] != transform.CodeInvalidRequest || line["operation"] != tt.op {
				t.Errorf("log line %s, want a warn invalid_request line of %s", log.String(), tt.op)
			}
			if field, _ := line["field"].(string); field != tt.wantField {
				t.Errorf("field %q, want %q", field, tt.wantField)
			}
			got, named := line["order_id"]
			switch {
			case tt.wantOrderID == "" && named:
				t.Errorf("order_id %q logged, want none: %s", got, log.String())
			case tt.wantOrderID != "" && got != tt.wantOrderID:
				t.Errorf("order_id %v, want %q: %s", got, tt.wantOrderID, log.String())
			}
		})
	}
}

// TestWebhookLogNamesOrderWhenKnown: a webhook line names the verified
// event's order, and none (not an empty order_id) for an event of a kind
// the plugin does not map (README Observability).
func TestWebhookLogNamesOrderWhenKnown(t *testing.T) {
	for _, tt := range []struct{ id, wantType, wantOrder string }{
		{"ev-1", "payment.succeeded", "O1"},
		{"unknown-1", "unknown", ""},
	} {
		t.Run(tt.id, func(t *testing.T) {
			var log strings.Builder
			h := instance(t, nil, 0)
			h.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&log), zapcore.InfoLevel))
			m := &fakeMerchant{release: make(chan struct{})}
			m.status.Store(200)
			close(m.release)
			if code, _ := notify(t, h, m, tt.id); code != http.StatusOK {
				t.Fatalf("HTTP %d", code)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(log.String())), &line); err != nil {
				t.Fatalf("not one JSON line: %v\n%s", err, log.String())
			}
			orderID, named := line["order_id"]
			if line["event_id"] != tt.id || line["type"] != tt.wantType || line["outcome"] != "acked" ||
				named != (tt.wantOrder != "") || (named && orderID != tt.wantOrder) {
				t.Errorf("log line %s, want event %s, type %s, order_id %q", log.String(), tt.id, tt.wantType, tt.wantOrder)
			}
		})
	}
}

// TestLogLinesFieldsInOrder: the merchant handler's line for an unknown
// operation and the webhook's lines hold README Observability's fields in
// one order, provider and operation first, at their level; the webhook's
// alike whether its logger was built by Provision or not (the tests'
// own handlers).
func TestLogLinesFieldsInOrder(t *testing.T) {
	times := regexp.MustCompile(`"(ts|duration)":[0-9.e+-]+`)
	lineOf := func(log *strings.Builder) string {
		return times.ReplaceAllString(strings.TrimSpace(log.String()), `"$1":0`)
	}
	newLogger := func(log *strings.Builder) *zap.Logger {
		return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(log), zapcore.InfoLevel))
	}
	t.Run("unknown operation", func(t *testing.T) {
		var log strings.Builder
		h := newTestHandler(t, &log, zapcore.InfoLevel)
		r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat/capture", strings.NewReader(payJSON))
		if err := h.ServeHTTP(httptest.NewRecorder(), r, nil); err != nil {
			t.Fatal(err)
		}
		const want = `{"level":"warn","ts":0,"msg":"minipay","provider":"wechat_v2","operation":"unknown","outcome":"unknown_operation",` +
			`"status":404,"duration":0,"message":"\"capture\" is no operation of wechat_v2"}`
		if got := lineOf(&log); got != want {
			t.Fatalf("log line\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("refused request", func(t *testing.T) {
		var log strings.Builder
		h := newTestHandler(t, &log, zapcore.InfoLevel)
		w := payWith(h, nil, `{"total_fee":1,"order_id":"LOG-16","amount":"1","currency":"CNY","description":"d","openid":"o1"}`)
		if w.Code != http.StatusBadRequest {
			t.Fatalf("HTTP %d %s", w.Code, w.Body)
		}
		const want = `{"level":"warn","ts":0,"msg":"minipay","provider":"wechat_v2","operation":"pay","outcome":"invalid_request",` +
			`"status":400,"duration":0,"order_id":"LOG-16","message":"total_fee is not a known field","field":"total_fee"}`
		if got := lineOf(&log); got != want {
			t.Fatalf("log line\n%s\nwant\n%s", got, want)
		}
	})
	for _, provisioned := range []bool{false, true} {
		for _, tt := range []struct{ name, sig, want string }{
			{"acked", "ok", `{"level":"info","ts":0,"msg":"minipay webhook","provider":"fake","operation":"webhook","outcome":"acked",` +
				`"status":200,"duration":0,"order_id":"O1","event_id":"ev-1","type":"payment.succeeded"}`},
			{"unverified", "forged", `{"level":"warn","ts":0,"msg":"minipay webhook","provider":"fake","operation":"webhook","outcome":"unverified",` +
				`"status":401,"duration":0,"reason":"` + transform.ErrRetry.Error() + `"}`},
		} {
			t.Run(tt.name+" provisioned="+strconv.FormatBool(provisioned), func(t *testing.T) {
				var log strings.Builder
				h := instance(t, nil, 0)
				h.logger = newLogger(&log)
				if provisioned {
					h.lines = h.linesLogger()
				}
				r := httptest.NewRequest(http.MethodPost, "/webhooks/fake", strings.NewReader("ev-1"))
				r.Header.Set("X-Sig", tt.sig)
				merchant := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
					w.WriteHeader(http.StatusNoContent)
					return nil
				})
				if err := h.ServeHTTP(httptest.NewRecorder(), r, merchant); err != nil {
					t.Fatal(err)
				}
				if got := lineOf(&log); got != tt.want {
					t.Fatalf("log line\n%s\nwant\n%s", got, tt.want)
				}
			})
		}
	}
}

// verdictClient is a provider whose Decode reads any answer as verdict, as
// WeChat v3 reads an unsigned answer of any status as a forgery.
type verdictClient struct{ verdict error }

func (verdictClient) Supports(op string) bool { return op == transform.OpQuery }

func (c verdictClient) Prepare(context.Context, string, []byte) (*transform.Call, error) {
	return &transform.Call{Method: http.MethodGet, Path: "/query", OrderID: "GONE-1",
		Decode: func(int, http.Header, []byte) ([]byte, error) { return nil, c.verdict }}, nil
}

// TestClientGoneWhateverTheProviderReadsOf499: a merchant that goes away
// while the provider is being asked is client_closed (README
// "Observability": the log line with status 499, the counter), whatever
// the provider's reading of reverse_proxy's own 499 would have been: it is
// no answer of the provider's. WeChat v3, which signs every answer, called
// it upstream_signature_invalid, the outcome an alert on forged answers
// watches.
func TestClientGoneWhateverTheProviderReadsOf499(t *testing.T) {
	for _, verdict := range []*transform.Error{
		transform.Upstream("the provider answered HTTP 499"),
		{Status: http.StatusBadGateway, Code: transform.CodeSignatureInvalid, Message: "the provider's answer carries no signature that verifies"},
		{Status: http.StatusUnprocessableEntity, Code: transform.CodeProviderRejected, Message: "the provider rejected the request", ProviderCode: "X"},
	} {
		t.Run(verdict.Code, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := newMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&log), zapcore.InfoLevel))
			client := verdictClient{verdict}
			h := &Handler{providerHandler: providerHandler{name: "fake", logger: logger, metrics: m}, client: client,
				ops: m.operations("fake", client, logger)}
			ctx, giveUp := context.WithCancel(context.Background())
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://minipay.local/fake/query", strings.NewReader(`{"order_id":"GONE-1"}`))
			r.Header.Set("Content-Type", "application/json")
			// reverse_proxy once the merchant went away: it records 499 and
			// returns no error (caddyhttp/reverseproxy, Caddy #7396).
			proxy := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
				giveUp()
				w.WriteHeader(statusClientClosed)
				return nil
			})
			w := httptest.NewRecorder()
			_ = h.ServeHTTP(w, r, proxy)
			var line map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(log.String())), &line); err != nil {
				t.Fatalf("not one JSON line: %v\n%s", err, log.String())
			}
			if line["outcome"] != outcomeClientClosed || line["status"] != float64(statusClientClosed) || line["level"] != "warn" {
				t.Errorf("log line %s, want outcome client_closed, status 499 at WARN", log.String())
			}
			if w.Code != statusClientClosed {
				t.Errorf("HTTP %d, want 499 for the access log", w.Code)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, mf := range mfs {
				for _, s := range mf.GetMetric() {
					labels := mf.GetName()
					for _, l := range s.GetLabel() {
						labels += " " + l.GetValue()
					}
					got[labels] = s.GetCounter().GetValue() + float64(s.GetHistogram().GetSampleCount())
				}
			}
			for series, want := range map[string]float64{
				"caddy_minipay_requests_total query client_closed fake":        1,
				"caddy_minipay_requests_total query " + verdict.Code + " fake": 0,
				"caddy_minipay_upstream_duration_seconds query fake":           1,
			} {
				if got[series] != want {
					t.Errorf("%s = %v, want %v", series, got[series], want)
				}
			}
		})
	}
}

// TestFailedCallLogNamesRequestID: a wechat_v3 call that failed names
// WeChat's Request-ID of the answer in its WARN line as provider_request_id
// (README "Observability"; docs/providers/wechat_v3.md: "Request-ID, for
// logs", the id WeChat's support asks for), whether the answer was a signed
// refusal or did not verify; a success line names none, nor does a failure
// whose Request-ID is no printable token (it comes from a header). An answer
// that does not verify also names which check failed as reason.
func TestFailedCallLogNamesRequestID(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "examples", "keys", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const publicKeyID = "PUB_KEY_ID_0119000001092026112900000000000001"
	client, err := wechatv3.NewClient(wechatv3.Config{AppID: testAppID, MchID: testMchID, SerialNo: "3775B6A45ACD",
		PrivateKey: read("apiclient_key.pem"), PublicKey: read("wechatpay_pub_key.pem"), PublicKeyID: publicKeyID})
	if err != nil {
		t.Fatal(err)
	}
	platform := examplePlatformKey(t)
	const requestID = "08F0E4E4A30610A60818A8B3A9A60620C4A40428B8A801-0"
	tests := []struct {
		name, op, requestID string
		status              int
		body                string
		signed              bool
		want                int
		wantID              string
		age                 time.Duration // of the answer's Wechatpay-Timestamp
		wantReason          string        // which check failed, when the answer did not verify
	}{
		{"signed refusal", "query", requestID, 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`, true, 422, requestID, 0, ""},
		{"unsigned answer", "query", requestID, 500, `{"code":"SYSTEM_ERROR","message":"系统错误"}`, false, 502, requestID, 0,
			"answer carries no signature (or reports no success)"},
		{"success", "query", requestID, 200, `{"appid":"` + testAppID + `","mchid":"` + testMchID + `","out_trade_no":"V3-LOG-1","transaction_id":"4200001",` +
			`"trade_state":"NOTPAY","trade_state_desc":"订单未支付","amount":{"total":100,"currency":"CNY"}}`, true, 200, "", 0, ""},
		{"Request-ID with a line break", "query", requestID + "\nforged=1", 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`, true, 422, "", 0, ""},
		{"Request-ID too long", "query", strings.Repeat("A", 129), 404, `{"code":"ORDER_NOT_EXIST","message":"订单不存在"}`, true, 422, "", 0, ""},
		// WeChat's close answer is an empty 204: a signed one with a body
		// (another document the key signs) is a 502 naming its Request-ID.
		{"close answered with a body", "close", requestID, 200, `{"appid":"` + testAppID + `","mchid":"` + testMchID + `","out_trade_no":"V3-LOG-1","transaction_id":"4200001",` +
			`"trade_state":"NOTPAY","trade_state_desc":"订单未支付","amount":{"total":100,"currency":"CNY"}}`, true, 502, requestID, 0, ""},
		// An answer signed 301 s ago (or a machine clock that far off) fails
		// like a forged one for the merchant; the log line says why.
		{"answer outside the window", "query", requestID, 200, `{"appid":"` + testAppID + `","mchid":"` + testMchID + `","out_trade_no":"V3-LOG-1","transaction_id":"4200001",` +
			`"trade_state":"NOTPAY","trade_state_desc":"订单未支付","amount":{"total":100,"currency":"CNY"}}`, true, 502, requestID, -301 * time.Second,
			"answer signature does not verify: Wechatpay-Timestamp is outside the 300 s window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log strings.Builder
			h := newTestHandlerOf(t, wechatv3.Name, client, &log, zapcore.InfoLevel)
			api := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
				w.Header()["Request-Id"] = []string{tt.requestID}
				if tt.signed {
					ts, nonce := strconv.FormatInt(time.Now().Add(tt.age).Unix(), 10), "n0nce-request-id"
					sig, err := wechatv3.SignMessage(platform, wechatv3.AppendAnswerMessage(nil, ts, nonce, []byte(tt.body)))
					if err != nil {
						return err
					}
					w.Header().Set(wechatv3.HeaderSerial, publicKeyID)
					w.Header().Set(wechatv3.HeaderTimestamp, ts)
					w.Header().Set(wechatv3.HeaderNonce, nonce)
					w.Header().Set(wechatv3.HeaderSignature, sig)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, err := w.Write([]byte(tt.body))
				return err
			})
			r := httptest.NewRequest(http.MethodPost, "http://minipay.local/wechat_v3/"+tt.op, strings.NewReader(`{"order_id":"V3-LOG-1"}`))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			_ = h.ServeHTTP(w, r, api)
			if w.Code != tt.want {
				t.Fatalf("HTTP %d %s, want %d", w.Code, w.Body, tt.want)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(log.String())), &line); err != nil {
				t.Fatalf("not one JSON line: %v\n%s", err, log.String())
			}
			if got, _ := line["provider_request_id"].(string); got != tt.wantID || line["order_id"] != "V3-LOG-1" || line["operation"] != tt.op {
				t.Errorf("log line %s, want provider_request_id %q", log.String(), tt.wantID)
			}
			if got, _ := line["reason"].(string); got != tt.wantReason {
				t.Errorf("log line %s, want reason %q", log.String(), tt.wantReason)
			}
			if strings.Contains(w.Body.String(), requestID) {
				t.Errorf("the merchant's answer names the Request-ID: %s", w.Body)
			}
		})
	}
}
