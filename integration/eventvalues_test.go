package integration

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform/cbtis"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// TestWebhookEventCarriesSignedTextExactly: README Webhooks (Event, What the
// merchant can trust): a signed value holding what could break the event or
// the forwarded request (quotes, backslashes, </script>, U+2028 and U+2029,
// and where the document can carry them NUL, CR LF and a header line) reaches
// the merchant as that exact text inside one JSON event, never as a header,
// and the forwarded request has only its three headers; for every provider.
// A signed JSON object giving a name both as a dotted member and as a nested
// one ("amount.total" beside "amount":{"total"}, "a.0" beside "a":[…]) is two
// values for one data entry and is refused (401), nothing forwarded; so is a
// merchant id written as an object or an array.
func TestWebhookEventCarriesSignedTextExactly(t *testing.T) {
	base, merchant := trustRoutes(t)
	const xmlText = "q\"b\\s</script>\u2028\u2029 é中 'x'"
	const jsonText = xmlText + "\u0000\r\nX-Evil: 1\t"
	jsonString := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	xmlEscaped := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;", "'", "&apos;").Replace(xmlText)

	cbtisBody := func(data string) string {
		return `{"notify_type":"payment_success","data":{"uid":` + cbtisUID + `,"order_id":"C-INJ\r\nX-Evil: 1",` + data + `}}`
	}
	cbtisReq := func(body string) *http.Request {
		return notificationRequest(base+"/webhooks/cbtis", "application/json",
			http.Header{"Signature": {cbtis.Signature([]byte(body), cbtisAPIKey)}}, body)
	}
	v3Tx := func(resourceExtra string) string {
		return `{"mchid":"` + mchID + `","appid":"` + appID + `","out_trade_no":"W-INJ","transaction_id":"4200077",` +
			`"trade_state":"SUCCESS","success_time":"2026-11-29T10:00:05+08:00","payer":{"openid":"o"}` + resourceExtra + `}`
	}
	v3Req := func(tx string) *http.Request {
		body := `{"id":"EV-INJ","create_time":"2026-11-29T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS",` +
			`"summary":"s","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` +
			gcmSeal(t, v3APIv3Key, "abcdefghijkl", "transaction", tx) + `","associated_data":"transaction","nonce":"abcdefghijkl"}}`
		return notificationRequest(base+"/webhooks/wechat_v3", "application/json",
			wechatHeaders(t, v3PrivateKey(t, "wechatpay_platform_key.pem"), v3PublicKeyID, time.Now().Unix(), body), body)
	}
	twoc2pPayload := `<PaymentResponse><merchantID>` + twoc2pMerchant + `</merchantID><respCode>00</respCode><status>A</status>` +
		`<uniqueTransactionCode>P-INJ</uniqueTransactionCode><tranRef>7700001</tranRef><amt>000000001234</amt><currencyCode>702</currencyCode>` +
		`<userDefined1>` + xmlEscaped + `</userDefined1></PaymentResponse>`
	payload := base64.StdEncoding.EncodeToString([]byte(twoc2pPayload))
	mac := hmac.New(sha256.New, []byte(twoc2pKey))
	mac.Write([]byte(payload))
	envelope := base64.StdEncoding.EncodeToString([]byte("<PaymentResponse><version>9.9</version><payload>" + payload +
		"</payload><signature>" + strings.ToUpper(hex.EncodeToString(mac.Sum(nil))) + "</signature></PaymentResponse>"))

	forwarded := []struct {
		name, field, want, wantID string
		req                       *http.Request
		ack                       string
	}{
		{"cbtis", "note", jsonText, "cbtis:C-INJ%0D%0AX-Evil: 1:payment.succeeded",
			cbtisReq(cbtisBody(`"merchant_order_id":"CB-INJ","order_amount":"12.30","order_currency":"HKD","note":` + jsonString(jsonText))), "success"},
		{"wechat_v3", "attach", jsonText, "wechat_v3:4200077:payment.succeeded",
			v3Req(v3Tx(`,"amount":{"total":1230,"currency":"CNY"},"attach":` + jsonString(jsonText))), ""},
		{"wechat_v2", "attach", xmlText, "wechat_v2:4200000123202611220000000077:payment.succeeded", notificationRequest(base+"/webhooks/wechat_v2", "text/xml", nil,
			xmlOf(notification(apiKey, wechatv2.SignHMACSHA256, set("attach", xmlText)))), wechatv2.AckBody},
		{"2c2p", "userDefined1", xmlText, "2c2p:7700001:payment.succeeded", notificationRequest(base+"/webhooks/2c2p", "application/x-www-form-urlencoded", nil,
			"paymentResponse="+url.QueryEscape(envelope)), ""},
		// Latipay signs five fields of fixed grammars; free text arrives only unverified.
		{"latipay", "unverified.order_id", jsonText, "latipay:LP-77:payment.succeeded", notificationRequest(base+"/webhooks/latipay", "application/x-www-form-urlencoded", nil,
			latipayForm(latipayAPIKey, func(v url.Values) { v.Set("order_id", jsonText) })), "sent"},
	}
	for _, tt := range forwarded {
		status, answer := send(t, tt.req)
		if status != http.StatusOK || string(answer) != tt.ack {
			t.Errorf("%s: %d %q, want 200 %q", tt.name, status, answer, tt.ack)
			continue
		}
		got := merchant.take()
		if len(got) != 1 {
			t.Errorf("%s: %d deliveries, want 1", tt.name, len(got))
			continue
		}
		data, _ := got[0].event["data"].(map[string]any)
		if data[tt.field] != tt.want {
			t.Errorf("%s: data[%q] = %q, want %q", tt.name, tt.field, data[tt.field], tt.want)
		}
		if id := got[0].header.Get("Minipay-Event-Id"); id != tt.wantID || got[0].event["id"] != tt.wantID {
			t.Errorf("%s: Minipay-Event-Id %q, event id %q, want %q", tt.name, id, got[0].event["id"], tt.wantID)
		}
		for name := range got[0].header {
			if !slices.Contains([]string{"Content-Type", "Content-Length", "Minipay-Event-Id", "Minipay-Provider",
				"Via", "X-Forwarded-For", "X-Forwarded-Proto", "Accept-Encoding"}, name) {
				t.Errorf("%s: the merchant got a header %q: %q", tt.name, name, got[0].header[name])
			}
		}
	}

	refused := []struct {
		name string
		req  *http.Request
	}{
		{"cbtis amount.total beside amount.total nested", cbtisReq(cbtisBody(`"amount":{"total":"1.00"},"amount.total":"999.00"`))},
		{"cbtis a.0 beside a[0]", cbtisReq(cbtisBody(`"a":["x"],"a.0":"y"`))},
		{"cbtis nested first, dotted after, deeper", cbtisReq(cbtisBody(`"p":{"q.r":"1"},"p.q":{"r":"2"}`))},
		{"wechat_v3 amount.total beside amount.total nested", v3Req(v3Tx(`,"amount":{"total":1230,"currency":"CNY"},"amount.total":1`))},
		{"wechat_v3 payer.openid beside payer.openid nested", v3Req(v3Tx(`,"amount":{"total":1230,"currency":"CNY"},"payer.openid":"o2"`))},
		// an id written as an object is present and names no merchant (README What the merchant can trust)
		{"wechat_v3 appid an object holding ours", v3Req(strings.Replace(v3Tx(""), `"appid":"`+appID+`"`, `"appid":{"id":"`+appID+`"}`, 1))},
		{"cbtis uid an array holding ours", cbtisReq(strings.Replace(cbtisBody(`"merchant_order_id":"CB-INJ"`), `"uid":`+cbtisUID, `"uid":[`+cbtisUID+`]`, 1))},
	}
	for _, tt := range refused {
		if status, _ := send(t, tt.req); status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tt.name, status)
		}
		if got := merchant.take(); len(got) != 0 {
			t.Errorf("%s: forwarded %+v", tt.name, got)
		}
	}
}

// TestWebhookSendersOfEveryProtocol: README Webhooks, for senders speaking
// HTTP/2 without TLS (h2c, prior knowledge) and HTTP/1.0: every provider's
// valid notification gets its ACK and reaches the merchant once, with the
// event's own Minipay-* headers (a sender's minipay-event-id, which HTTP/2
// writes in lower case, is dropped as in HTTP/1.1); one changed by a byte
// gets the failure form with 401 and reaches nobody.
func TestWebhookSendersOfEveryProtocol(t *testing.T) {
	base, merchant := trustRoutes(t, "protocols h1 h2 h2c")
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	h2cClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &h2c}}
	t.Cleanup(h2cClient.CloseIdleConnections)
	http10 := func(req *http.Request, body string) (int, string) {
		t.Helper()
		conn, err := net.Dial("tcp", req.URL.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var head strings.Builder
		head.WriteString("POST " + req.URL.RequestURI() + " HTTP/1.0\r\nHost: " + req.URL.Host + "\r\n")
		for k, vs := range req.Header {
			for _, v := range vs {
				head.WriteString(k + ": " + v + "\r\n")
			}
		}
		head.WriteString("Minipay-Event-Id: spoofed\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
		if _, err := io.WriteString(conn, head.String()); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		answer, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(answer)
	}
	forged := func(body string) string { // one byte changed, past what the signature covers first
		i := strings.LastIndexAny(body, "0123456789")
		return body[:i] + string("1032547698"[body[i]-'0']) + body[i+1:]
	}
	for _, n := range trustNotifications(t) {
		delivered := func(how string) {
			t.Helper()
			got := merchant.take()
			if len(got) != 1 {
				t.Fatalf("%s %s: %d deliveries, want 1", n.provider, how, len(got))
			}
			if id := got[0].header.Get("Minipay-Event-Id"); id != got[0].event["id"] || !strings.HasPrefix(id, n.provider+":") ||
				len(got[0].header.Values("Minipay-Event-Id")) != 1 || got[0].header.Get("Minipay-Provider") != n.provider {
				t.Fatalf("%s %s: headers %v", n.provider, how, got[0].header)
			}
		}
		req := notificationRequest(base+n.path, n.contentType, n.header, n.body)
		req.Header["minipay-event-id"] = []string{"spoofed"}
		res, err := h2cClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.ProtoMajor != 2 || res.StatusCode != 200 || string(answer) != n.ack {
			t.Fatalf("%s h2c: HTTP/%d %d %q", n.provider, res.ProtoMajor, res.StatusCode, answer)
		}
		delivered("h2c")

		// trustNotifications signs wechat_v3's now: sign it anew for the next send
		n = trustNotifications(t)[slices.IndexFunc(trustNotifications(t), func(m trustNotification) bool { return m.provider == n.provider })]
		req = notificationRequest(base+n.path, n.contentType, n.header, n.body)
		if status, answer := http10(req, n.body); status != 200 || answer != n.ack {
			t.Fatalf("%s HTTP/1.0: %d %q", n.provider, status, answer)
		}
		delivered("HTTP/1.0")

		bad := forged(n.body)
		req = notificationRequest(base+n.path, n.contentType, n.header, bad)
		if status, answer := http10(req, bad); status != 401 || answer == n.ack {
			t.Errorf("%s HTTP/1.0 forged: %d %q", n.provider, status, answer)
		}
		req = notificationRequest(base+n.path, n.contentType, n.header, bad)
		if res, err := h2cClient.Do(req); err != nil || res.StatusCode != 401 {
			t.Errorf("%s h2c forged: %v %v", n.provider, res, err)
		} else {
			res.Body.Close()
		}
		if got := merchant.take(); len(got) != 0 {
			t.Errorf("%s: forged notifications forwarded: %+v", n.provider, got)
		}
	}
}

// TestWebhookSignedNumbersAsWritten: README Webhooks (Event): a JSON number
// in a signed notification reaches data as its literal text, never through a
// float (1e400, 30 digits, -0 and 1E2 kept as sent), and the event has an
// amount only when the provider's amount field is one in the currency's
// form; otherwise amount and currency are left out, not guessed.
func TestWebhookSignedNumbersAsWritten(t *testing.T) {
	base, merchant := trustRoutes(t)
	tests := []struct{ cbtisAmount, v3Total, wantCBTIS, wantV3 string }{
		{"12.30", "1230", "12.30", "12.30"},
		{"12.3", "5", "12.30", "0.05"},
		{"1E2", "1e3", "", ""},
		{"-0", "-0", "", ""},
		{"1e400", "1e400", "", ""},
		{"123456789012345678901234567890", "123456789012345678901234567890", "", ""},
		{"-12.30", "-1230", "", ""},
		{"12.300", "12.30", "12.30", ""}, // CBTIS signs the whole body: an exact decimal is read, written with HKD's decimals
		{"12.301", "1230.0", "", ""},
	}
	for i, tt := range tests {
		ref := "N" + strconv.Itoa(i)
		cbtisBody := `{"notify_type":"payment_success","data":{"uid":` + cbtisUID + `,"order_id":"C-` + ref + `","merchant_order_id":"CB-` + ref +
			`","order_amount":` + tt.cbtisAmount + `,"order_currency":"HKD"}}`
		tx := `{"mchid":"` + mchID + `","appid":"` + appID + `","out_trade_no":"W-` + ref + `","transaction_id":"42` + ref + `","trade_state":"SUCCESS",` +
			`"success_time":"2026-11-29T10:00:05+08:00","amount":{"total":` + tt.v3Total + `,"currency":"CNY"},"payer":{"openid":"o"}}`
		v3Body := `{"id":"EV-` + ref + `","create_time":"2026-11-29T10:00:06+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS",` +
			`"summary":"s","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"` +
			gcmSeal(t, v3APIv3Key, "abcdefghijkl", "transaction", tx) + `","associated_data":"transaction","nonce":"abcdefghijkl"}}`
		for _, c := range []struct {
			req                        *http.Request
			field, literal, want, curr string
		}{
			{notificationRequest(base+"/webhooks/cbtis", "application/json", http.Header{"Signature": {cbtis.Signature([]byte(cbtisBody), cbtisAPIKey)}}, cbtisBody),
				"order_amount", tt.cbtisAmount, tt.wantCBTIS, "HKD"},
			{notificationRequest(base+"/webhooks/wechat_v3", "application/json",
				wechatHeaders(t, v3PrivateKey(t, "wechatpay_platform_key.pem"), v3PublicKeyID, time.Now().Unix(), v3Body), v3Body),
				"amount.total", tt.v3Total, tt.wantV3, "CNY"},
		} {
			if status, answer := send(t, c.req); status != http.StatusOK {
				t.Errorf("%s %s: %d %q", c.field, c.literal, status, answer)
				continue
			}
			got := merchant.take()
			if len(got) != 1 {
				t.Errorf("%s %s: %d deliveries", c.field, c.literal, len(got))
				continue
			}
			ev := got[0].event
			data, _ := ev["data"].(map[string]any)
			if data[c.field] != c.literal {
				t.Errorf("%s %s: data holds %q", c.field, c.literal, data[c.field])
			}
			amount, hasAmount := ev["amount"]
			currency, hasCurrency := ev["currency"]
			if c.want == "" && (hasAmount || hasCurrency) || c.want != "" && (amount != c.want || currency != c.curr) {
				t.Errorf("%s %s: amount %v %v, currency %v %v; want %q %s", c.field, c.literal, amount, hasAmount, currency, hasCurrency, c.want, c.curr)
			}
		}
	}
}
