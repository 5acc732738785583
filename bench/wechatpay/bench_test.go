package wechatpay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/credentials"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/signers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/validators"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"

	"github.com/minipay/caddy-minipay/transform/wechatv3"
)

// The order both sides pay in the benchmarks.
const (
	benchOrderID   = "1217752501201407033233368018"
	benchPrepayID  = "wx26112221580621e9b071c00d9e093b0000"
	benchNotifyURL = "https://merchant.example/webhooks/wechat_v3"
	// benchPayJSON is the merchant's request to a minipay wechat_v3 route.
	benchPayJSON = `{"order_id":"` + benchOrderID + `","amount":"12.34","currency":"CNY","description":"Latte","openid":"` + openID + `","client_ip":"203.0.113.7","notify_url":"` + benchNotifyURL + `"}`
)

// sdkPrepayRequest is the same order as the SDK's request.
func sdkPrepayRequest() jsapi.PrepayRequest {
	return jsapi.PrepayRequest{
		Appid:       core.String(appID),
		Mchid:       core.String(mchID),
		Description: core.String("Latte"),
		OutTradeNo:  core.String(benchOrderID),
		NotifyUrl:   core.String(benchNotifyURL),
		Amount:      &jsapi.Amount{Total: core.Int64(1234), Currency: core.String("CNY")},
		Payer:       &jsapi.Payer{Openid: core.String(openID)},
		SceneInfo:   &jsapi.SceneInfo{PayerClientIp: core.String("203.0.113.7")},
	}
}

// signedAnswer is WeChat's answer to the pay request, signed now with the
// platform key in public-key mode, as the sandbox signs it.
type signedAnswer struct {
	header http.Header
	body   []byte
}

func newSignedAnswer(tb testing.TB) signedAnswer {
	tb.Helper()
	platform := platformKey(tb)
	body := []byte(`{"prepay_id":"` + benchPrepayID + `"}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := "c5ac7061fccab6bf3e254dcf98995b8c"
	sig, err := utils.SignSHA256WithRSA(ts+"\n"+nonce+"\n"+string(body)+"\n", platform)
	if err != nil {
		tb.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Request-Id", "08F78BB5AF0610D302839A0B0A1A8B1D2F0C0000")
	h.Set("Wechatpay-Nonce", nonce)
	h.Set("Wechatpay-Serial", publicKeyID)
	h.Set("Wechatpay-Signature", sig)
	h.Set("Wechatpay-Timestamp", ts)
	return signedAnswer{header: h, body: body}
}

func (a signedAnswer) response() *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body))}
}

// roundTrip is one pay round trip: sign the request, verify the answer,
// sign paySign.
type roundTrip func() error

// minipayRoundTrip is caddy-minipay's side: transform/wechatv3 decodes the
// merchant's JSON, builds and signs the jsapi request, verifies the signed
// answer (public-key mode), signs paySign and writes the wx.requestPayment
// JSON.
func minipayRoundTrip(tb testing.TB, ans signedAnswer) roundTrip {
	key, err := readKey("apiclient_key.pem")
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := readKey("wechatpay_pub_key.pem")
	if err != nil {
		tb.Fatal(err)
	}
	c, err := wechatv3.NewClient(wechatv3.Config{AppID: appID, MchID: mchID, SerialNo: merchantSerial, PrivateKey: key,
		PublicKey: pub, PublicKeyID: publicKeyID})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, body := context.Background(), []byte(benchPayJSON)
	return func() error {
		call, err := c.Prepare(ctx, "pay", body)
		if err != nil {
			return err
		}
		_, err = call.Decode(http.StatusOK, ans.header, ans.body)
		return err
	}
}

// sdkSteps is the same work with wechatpay-go v0.2.21, its own parts called
// directly — the least a merchant's code can do with the SDK: encode the
// request body as core.Client does, sign it (WechatPayCredentials with its
// SHA256WithRSASigner), validate the answer (WechatPayResponseValidator
// with the public-key verifier), decode it, build and sign paySign as
// PrepayWithRequestPayment does.
func sdkSteps(tb testing.TB, k keys, ans signedAnswer) roundTrip {
	ctx := context.Background()
	signer := &signers.SHA256WithRSASigner{MchID: mchID, CertificateSerialNo: merchantSerial, PrivateKey: k.merchant}
	cred := credentials.WechatPayCredentials{Signer: signer}
	validator := validators.NewWechatPayResponseValidator(verifiers.NewSHA256WithRSAPubkeyVerifier(publicKeyID, *k.platformPublic))
	req := sdkPrepayRequest()
	return func() error {
		var body bytes.Buffer
		if err := json.NewEncoder(&body).Encode(req); err != nil {
			return err
		}
		if _, err := cred.GenerateAuthorizationHeader(ctx, http.MethodPost, "/v3/pay/transactions/jsapi", body.String()); err != nil {
			return err
		}
		res := ans.response()
		if err := validator.Validate(ctx, res); err != nil {
			return err
		}
		var prepay jsapi.PrepayResponse
		if err := core.UnMarshalResponse(res, &prepay); err != nil {
			return err
		}
		nonce, err := utils.GenerateNonce()
		if err != nil {
			return err
		}
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		_, err = signer.Sign(ctx, fmt.Sprintf("%s\n%s\n%s\n%s\n", appID, ts, nonce, "prepay_id="+*prepay.PrepayId))
		return err
	}
}

// sdkClient is the SDK as merchants call it:
// jsapi.JsapiApiService.PrepayWithRequestPayment, over an in-memory
// transport that returns the signed answer (no network).
func sdkClient(tb testing.TB, k keys, ans signedAnswer) roundTrip {
	ctx := context.Background()
	client, err := core.NewClient(ctx,
		option.WithWechatPayPublicKeyAuthCipher(mchID, merchantSerial, k.merchant, publicKeyID, k.platformPublic),
		option.WithHTTPClient(&http.Client{Transport: cannedAnswer(ans)}))
	if err != nil {
		tb.Fatal(err)
	}
	svc, req := jsapi.JsapiApiService{Client: client}, sdkPrepayRequest()
	return func() error {
		_, _, err := svc.PrepayWithRequestPayment(ctx, req)
		return err
	}
}

// cannedAnswer answers every request with the signed answer, in memory.
type cannedAnswer signedAnswer

func (c cannedAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	res := signedAnswer(c).response()
	res.Request = r
	return res, nil
}

// BenchmarkVersusSDK runs the pay round trip on both sides.
func BenchmarkVersusSDK(b *testing.B) {
	k := loadKeys(b)
	for _, side := range []struct {
		name string
		make func(signedAnswer) roundTrip
	}{
		{"minipay", func(a signedAnswer) roundTrip { return minipayRoundTrip(b, a) }},
		{"sdk-steps", func(a signedAnswer) roundTrip { return sdkSteps(b, k, a) }},
		{"sdk-client", func(a signedAnswer) roundTrip { return sdkClient(b, k, a) }},
	} {
		b.Run(side.name, func(b *testing.B) {
			run := side.make(newSignedAnswer(b))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVersusSDKRatio alternates the two sides in one loop, so that
// load from other processes falls on both alike, and reports caddy-minipay's
// cost as a fraction of the SDK's (sdk-steps): wall time, the process's CPU
// time (getrusage: time actually on a CPU, garbage collection included,
// waiting for a CPU excluded — the steadier figure on a busy machine), and
// allocations.
func BenchmarkVersusSDKRatio(b *testing.B) {
	k := loadKeys(b)
	ans := newSignedAnswer(b)
	ours, theirs := minipayRoundTrip(b, ans), sdkSteps(b, k, ans)
	var wall, cpu [2]time.Duration // [0] caddy-minipay, [1] the SDK
	sides := [2]roundTrip{ours, theirs}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Each side goes first every other time, so neither always runs
		// on a cache the other warmed or after a preemption the other ate.
		for j := range 2 {
			side := (i + j) % 2
			w0, c0 := time.Now(), cpuTime(b)
			if err := sides[side](); err != nil {
				b.Fatal(err)
			}
			wall[side] += time.Since(w0)
			cpu[side] += cpuTime(b) - c0
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(wall[0])/float64(wall[1]), "time-ratio")
	b.ReportMetric(float64(cpu[0])/float64(cpu[1]), "cpu-ratio")
	b.ReportMetric(allocs(b, ours)/allocs(b, theirs), "allocs-ratio")
}

func allocs(tb testing.TB, run roundTrip) float64 {
	var err error
	n := testing.AllocsPerRun(10, func() {
		if e := run(); e != nil {
			err = e
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestAllocsVersusSDK keeps the allocation target in CI (allocation counts,
// unlike times, do not depend on the machine's load): caddy-minipay's pay
// round trip allocates at most half of what the SDK's does for the same
// work.
func TestAllocsVersusSDK(t *testing.T) {
	k := loadKeys(t)
	ans := newSignedAnswer(t)
	ours, theirs := allocs(t, minipayRoundTrip(t, ans)), allocs(t, sdkSteps(t, k, ans))
	t.Logf("allocs/op: caddy-minipay %.0f, wechatpay-go %.0f (ratio %.2f)", ours, theirs, ours/theirs)
	if ours > theirs/2 {
		t.Fatalf("caddy-minipay allocates %.0f per pay round trip, more than half of wechatpay-go's %.0f", ours, theirs)
	}
}
