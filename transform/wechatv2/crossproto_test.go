package wechatv2

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// signedElsewhere checks that no reading of a signed string the merchant's
// key made for another kind of message (every cut of it into sorted k=v
// fields, whatever their values hold) passes, with that signature, as a
// payment or refund notification (Webhook.Verify) or as the answer of any
// operation (each Call.Decode, for the order the reading names or O-1). It
// returns how many readings carried return_code and result_code SUCCESS,
// the ones an answer needs, so that a caller can tell the search saw them.
func signedElsewhere(t *testing.T, cfg Config, signed, sign string) (answerShaped int) {
	t.Helper()
	c, w := newClient(t, cfg), newWebhook(t, cfg)
	calls := map[string]*transform.Call{} // by operation and request: most readings name the same order
	prepare := func(op string, req map[string]string) (*transform.Call, error) {
		raw, _ := json.Marshal(req)
		if call, ok := calls[op+string(raw)]; ok {
			return call, nil
		}
		call, err := c.Prepare(context.Background(), op, raw)
		if err == nil {
			calls[op+string(raw)] = call
		}
		return call, err
	}
	for _, p := range sortedReadings(signed, false) {
		body := transform.AppendFlatXML(nil, "xml", append(p, transform.Param{Name: "sign", Value: sign}))
		if p.Get("return_code") == "SUCCESS" && p.Get("result_code") == "SUCCESS" {
			answerShaped++
		}
		if ev, err := w.Verify(transform.Notification{Body: body}); err == nil {
			t.Errorf("accepted as a notification (%+v): %s", ev, body)
		}
		if p.Get("return_code") != "SUCCESS" { // a 502 before its signature is read (README Merchant API)
			continue
		}
		order := p.Get("out_trade_no")
		if order == "" {
			order = "O-1"
		}
		refund := p.Get("out_refund_no")
		if refund == "" {
			refund = "R-1"
		}
		requests := map[string]map[string]string{
			"pay":          {"order_id": order, "amount": "1.00", "currency": "CNY", "description": "x", "openid": openID},
			"query":        {"order_id": order},
			"close":        {"order_id": order},
			"refund":       {"order_id": order, "refund_id": refund, "amount": "1.00", "currency": "CNY", "total_amount": "1.00"},
			"refund_query": {"order_id": order, "refund_id": refund},
		}
		for op, req := range requests {
			call, err := prepare(op, req)
			if err != nil { // ids no request can carry ("O-1&sign_type=MD5"): asked for O-1 and R-1
				req["order_id"] = "O-1"
				if _, ok := req["refund_id"]; ok {
					req["refund_id"] = "R-1"
				}
				if call, err = prepare(op, req); err != nil {
					t.Fatalf("%s %v: %v", op, req, err)
				}
			}
			if out, err := call.Decode(http.StatusOK, nil, body); err == nil {
				t.Errorf("accepted as the %s answer (%s): %s", op, out, body)
			}
		}
	}
	return answerShaped
}

// TestRequestSignaturesNeverReadAsAnswers: the API key signs minipay's
// requests, and verifies WeChat's answers and notifications, all in the
// same sorted k=v form with '&' allowed in values. A pay's attach or body
// (the merchant's text, often its customer's) or a refund's reason holding
// pairs reads, cut at its '&', as fields the attacker chose, and the
// request's own fields after it as the value of a last one of those (zz):
// attach "x&out_trade_no=VICTIM&result_code=SUCCESS&return_code=SUCCESS&
// total_fee=100000&trade_state=SUCCESS&zz=1" made the unifiedorder
// request's signature that of an orderquery answer saying VICTIM was paid
// 1000.00 CNY, which the old code believed: whoever saw the request could
// answer minipay's query with it in WeChat's place. An answer, as a
// notification, may now hold "&name=" only in attach, device_info and
// promotion_detail, under both sign types. The notifications were safe
// already: the fields a notification needs sort after the free text that
// may hold pairs, so the request's fields would run on into one that may
// not.
func TestRequestSignaturesNeverReadAsAnswers(t *testing.T) {
	hostile := []struct {
		name, text   string
		answerShaped bool
	}{
		{"an orderquery answer: VICTIM paid", "x&out_trade_no=VICTIM&result_code=SUCCESS&return_code=SUCCESS&total_fee=100000&trade_state=SUCCESS&zz=1", true},
		{"a paid notification", "x&out_trade_no=VICTIM&result_code=SUCCESS&return_code=SUCCESS&time_end=20261207120000&total_fee=1&transaction_id=42&zz=1", true},
		{"a unifiedorder answer", "x&prepay_id=wxEVIL&result_code=SUCCESS&return_code=SUCCESS&zz=1", true},
		{"a refund answer", "x&out_refund_no=R-1&out_trade_no=VICTIM&refund_id=50&result_code=SUCCESS&return_code=SUCCESS&zz=1", true},
		{"trade_state running on", "x&result_code=SUCCESS&return_code=SUCCESS&trade_state=SUCCESS", true},
		{"the merchant's own parameters", "a=1&b=2", false},
	}
	for _, signType := range []string{SignMD5, SignHMACSHA256} {
		for _, h := range hostile {
			requests := map[string]struct{ op, body string }{
				"pay, attach":      {"pay", `{"order_id":"O-1","amount":"1.00","currency":"CNY","description":"Goods","openid":"` + openID + `","attach":` + jsonText(h.text) + `}`},
				"pay, description": {"pay", `{"order_id":"O-1","amount":"1.00","currency":"CNY","description":` + jsonText(h.text) + `,"openid":"` + openID + `"}`},
				"refund, reason":   {"refund", `{"order_id":"O-1","refund_id":"R-1","amount":"1.00","currency":"CNY","total_amount":"1.00","reason":` + jsonText(h.text) + `}`},
			}
			for where, r := range requests {
				t.Run(signType+"/"+h.name+"/"+where, func(t *testing.T) {
					cfg := testConfig(signType)
					call, err := newClient(t, cfg).Prepare(context.Background(), r.op, []byte(r.body))
					if err != nil {
						t.Fatal(err)
					}
					req := parseXML(t, call.Body)
					if sign := refSign(req, vecAPIKey, signType); req.Get("sign") != sign { // the premise: what it signed
						t.Fatalf("request sign %s, the reference signer's %s", req.Get("sign"), sign)
					}
					shaped := signedElsewhere(t, cfg, signedString(req), req.Get("sign"))
					if h.answerShaped && where != "refund, reason" && shaped == 0 {
						t.Fatalf("no reading carries return_code and result_code SUCCESS: the search saw nothing")
					}
				})
			}
		}
	}
}

// TestPaySignNeverReadsAsAnswerOrNotification: paySign, which the mini
// program (and so the payer) receives, is the key's signature over
// appId, nonceStr, package, signType and timeStamp (docs/providers/wechat_v2.md).
// Its values are the configured appid, minipay's nonce and time and
// WeChat's prepay id: none holds '&', so its signed string has one reading
// where no value holds "&name=", whose camelCase names no document of
// WeChat's has and which carries no return_code; the others (a value run on
// over the fields after it) carry none either. It is accepted as no
// notification and no answer.
func TestPaySignNeverReadsAsAnswerOrNotification(t *testing.T) {
	for _, tt := range []struct {
		signType string
		answer   []byte
	}{{SignMD5, payAnswer(payAnswerMD5Sign)}, {SignHMACSHA256, payAnswer(payAnswerHMACSign)}} {
		t.Run(tt.signType, func(t *testing.T) {
			cfg := testConfig(tt.signType)
			out, err := preparePay(t, newClient(t, cfg)).Decode(http.StatusOK, nil, tt.answer)
			if err != nil {
				t.Fatal(err)
			}
			var pp map[string]string
			if err := json.Unmarshal(out, &pp); err != nil {
				t.Fatal(err)
			}
			signed := transform.Params{
				{Name: "appId", Value: vecAppID}, {Name: "nonceStr", Value: pp["nonceStr"]}, {Name: "package", Value: pp["package"]},
				{Name: "signType", Value: pp["signType"]}, {Name: "timeStamp", Value: pp["timeStamp"]},
			}
			if want := refSign(signed, vecAPIKey, tt.signType); pp["paySign"] != want {
				t.Fatalf("paySign %s, the reference signer's %s", pp["paySign"], want)
			}
			if n := len(pairFreeReadings(signedString(signed))); n != 1 {
				t.Fatalf("paySign's signed string has %d readings without a pair in a value", n)
			}
			if shaped := signedElsewhere(t, cfg, signedString(signed), pp["paySign"]); shaped != 0 {
				t.Fatalf("%d readings carry return_code SUCCESS", shaped)
			}
		})
	}
}

func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestCloseAnswerIsNoOtherDocument: WeChat signs every v2 document with
// the merchant's key, and its closeorder answer names no order (its page
// lists return_code, return_msg, appid, mch_id, nonce_str, sign,
// result_code, result_msg, err_code, err_code_des). Any other signed
// SUCCESS document of the merchant's, answered in its place by whoever
// captured one, read as a closed order: the published unifiedorder answer,
// a paid order's notification, orderquery, refund and refundquery answers.
// They are now a 502 upstream_error naming the field that gave them away;
// on the old code each was "cancelled".
func TestCloseAnswerIsNoOtherDocument(t *testing.T) {
	c := newClient(t, testConfig(SignMD5))
	call, err := c.Prepare(context.Background(), "close", []byte(`{"order_id":"O1"}`))
	if err != nil {
		t.Fatal(err)
	}
	common := transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "return_msg", Value: "OK"}, {Name: "appid", Value: vecAppID},
		{Name: "mch_id", Value: vecMchID}, {Name: "nonce_str", Value: "7Q8mZ1oQ3xT2"}, {Name: "result_code", Value: "SUCCESS"},
	}
	with := func(extra ...transform.Param) []byte {
		return signedXML(append(slices.Clone(common), extra...), vecAPIKey, SignMD5)
	}
	p := func(name, value string) transform.Param { return transform.Param{Name: name, Value: value} }
	out, err := call.Decode(http.StatusOK, nil, with(p("result_msg", "OK")))
	if err != nil || string(out) != `{"provider":"wechat_v2","order_id":"O1","status":"cancelled"}` {
		t.Fatalf("WeChat's closeorder answer: %s, %v", out, err)
	}
	for name, doc := range map[string][]byte{
		"the published unifiedorder answer": payAnswer(payAnswerMD5Sign),
		"a paid notification":               signedXML(notificationParams(), vecAPIKey, SignMD5),
		"an orderquery answer":              with(p("out_trade_no", "O1"), p("trade_state", "SUCCESS"), p("total_fee", "1234")),
		"a refund answer":                   with(p("out_trade_no", "O1"), p("out_refund_no", "R1"), p("refund_id", "50000123")),
		"a refundquery answer":              with(p("out_trade_no", "O1"), p("refund_count", "1"), p("out_refund_no_0", "R1")),
	} {
		out, err := call.Decode(http.StatusOK, nil, doc)
		if out != nil {
			t.Errorf("%s read as %s", name, out)
		}
		wantError(t, err, 502, transform.CodeUpstreamError)
	}
	// WeChat signs non-empty values only: an empty element of another
	// document's name is outside the signature and says nothing, so
	// WeChat's answer holding one is still its closeorder answer; the same
	// name with a value, signed, is still another document.
	genuine := with(p("result_msg", "OK"))
	for _, name := range otherKindFields {
		for _, empty := range []string{"<" + name + "/>", "<" + name + "></" + name + ">", "<" + name + " />", "<" + name + "><![CDATA[]]></" + name + ">"} {
			doc := bytes.Replace(genuine, []byte("</xml>"), []byte(empty+"</xml>"), 1)
			if out, err := call.Decode(http.StatusOK, nil, doc); err != nil || string(out) != `{"provider":"wechat_v2","order_id":"O1","status":"cancelled"}` {
				t.Errorf("WeChat's closeorder answer with %s: %s, %v", empty, out, err)
			}
		}
		out, err := call.Decode(http.StatusOK, nil, with(p("result_msg", "OK"), p(name, "1")))
		if out != nil {
			t.Errorf("a closeorder answer with %s 1 read as %s", name, out)
		}
		if e := wantError(t, err, 502, transform.CodeUpstreamError); !strings.Contains(e.Message, name) {
			t.Errorf("%s: %s", name, e.Message)
		}
	}
}

// paidQueryCall is a query of order O1 under the MD5 test configuration.
func paidQueryCall(t *testing.T) *transform.Call {
	t.Helper()
	call, err := newClient(t, testConfig(SignMD5)).Prepare(context.Background(), "query", []byte(`{"order_id":"O1"}`))
	if err != nil {
		t.Fatal(err)
	}
	return call
}

// paidUSDAnswer is WeChat's orderquery answer for O1 paid 10.00 USD, unsigned.
func paidUSDAnswer() transform.Params {
	return transform.Params{
		{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID},
		{Name: "nonce_str", Value: "7Q8mZ1oQ3xT2"}, {Name: "result_code", Value: "SUCCESS"},
		{Name: "bank_type", Value: "CMC"}, {Name: "cash_fee", Value: "1000"}, {Name: "fee_type", Value: "USD"},
		{Name: "is_subscribe", Value: "N"}, {Name: "openid", Value: openID}, {Name: "out_trade_no", Value: "O1"},
		{Name: "time_end", Value: "20261207120000"}, {Name: "total_fee", Value: "1000"}, {Name: "trade_state", Value: "SUCCESS"},
		{Name: "trade_type", Value: "JSAPI"}, {Name: "transaction_id", Value: "4200000001"},
	}
}

// TestAnswerAttachRunOn: a paid orderquery answer read with its attach run
// on over bank_type, cash_fee and fee_type signs as WeChat's own, and read
// a USD payment as CNY (fee_type gone, CNY by default); it is refused, as
// the notifications refuse it. Such an attach holds "&bank_type=", the
// field after attach in every paid answer, which a pay refuses in attach.
func TestAnswerAttachRunOn(t *testing.T) {
	call := paidQueryCall(t)
	genuine := set(paidUSDAnswer(), "attach", "uid=5")
	out, err := call.Decode(http.StatusOK, nil, signedXML(genuine, vecAPIKey, SignMD5))
	if err != nil || !strings.Contains(string(out), `"amount":"10.00","currency":"USD"`) {
		t.Fatalf("WeChat's answer: %s, %v", out, err)
	}
	runOn := slices.DeleteFunc(slices.Clone(genuine), func(p transform.Param) bool {
		return p.Name == "bank_type" || p.Name == "cash_fee" || p.Name == "fee_type"
	})
	runOn = set(runOn, "attach", "uid=5&bank_type=CMC&cash_fee=1000&fee_type=USD")
	if signedString(runOn) != signedString(genuine) { // the premise: both sign alike
		t.Fatalf("%s\n%s", signedString(runOn), signedString(genuine))
	}
	body := transform.AppendFlatXML(nil, "xml", append(runOn, transform.Param{Name: "sign", Value: refSign(genuine, vecAPIKey, SignMD5)}))
	out, err = call.Decode(http.StatusOK, nil, body)
	if wantError(t, err, 502, transform.CodeSignatureInvalid); out != nil {
		t.Fatalf("read as %s", out)
	}
}

// TestAnswerDeviceInfoRunOn: a paid orderquery answer read with a
// device_info that runs on over the fields after it (fee_type gone, CNY by
// default) signs as WeChat's own and read a USD payment as CNY: the
// device_info of an order made elsewhere (minipay sends none), or one split
// off an attach of minipay's own order holding the merchant's parameter
// "&device_info=" (a pay takes it: such a name sorts after bank_type). It is
// refused, as the notifications refuse a device_info holding one of
// WeChat's names sorting after it; a pair of another name has no such
// reading and is accepted.
func TestAnswerDeviceInfoRunOn(t *testing.T) {
	call, paid := paidQueryCall(t), paidUSDAnswer()
	without := func(p transform.Params, names ...string) transform.Params {
		return slices.DeleteFunc(slices.Clone(p), func(kv transform.Param) bool { return slices.Contains(names, kv.Name) })
	}
	terminal := set(paid, "device_info", "013467007045764")
	ofAttach := set(paid, "attach", "uid=5&device_info=iPhone")
	tests := []struct {
		name            string
		genuine, forged transform.Params
	}{
		{"device_info over fee_type", terminal,
			set(without(terminal, "fee_type"), "device_info", "013467007045764&fee_type=USD")},
		{"device_info over fee_type, is_subscribe and mch_id", terminal,
			set(without(terminal, "fee_type", "is_subscribe", "mch_id"), "device_info",
				"013467007045764&fee_type=USD&is_subscribe=N&mch_id="+vecMchID)},
		{"device_info split off attach, over bank_type to fee_type", ofAttach,
			set(set(without(ofAttach, "bank_type", "cash_fee", "fee_type"), "attach", "uid=5"), "device_info",
				"iPhone&bank_type=CMC&cash_fee=1000&fee_type=USD")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := call.Decode(http.StatusOK, nil, signedXML(tt.genuine, vecAPIKey, SignMD5))
			if err != nil || !strings.Contains(string(out), `"amount":"10.00","currency":"USD"`) {
				t.Fatalf("WeChat's answer: %s, %v", out, err)
			}
			if signedString(tt.forged) != signedString(tt.genuine) { // the premise: both sign alike
				t.Fatalf("%s\n%s", signedString(tt.forged), signedString(tt.genuine))
			}
			body := transform.AppendFlatXML(nil, "xml", append(tt.forged, transform.Param{Name: "sign", Value: refSign(tt.genuine, vecAPIKey, SignMD5)}))
			out, err = call.Decode(http.StatusOK, nil, body)
			if wantError(t, err, 502, transform.CodeSignatureInvalid); out != nil {
				t.Fatalf("read as %s", out)
			}
		})
	}
	t.Run("a pair of no WeChat field's name is accepted", func(t *testing.T) {
		genuine := set(paid, "device_info", "POS-7&lane=3")
		out, err := call.Decode(http.StatusOK, nil, signedXML(genuine, vecAPIKey, SignMD5))
		if err != nil || !strings.Contains(string(out), `"amount":"10.00","currency":"USD"`) {
			t.Fatalf("%s, %v", out, err)
		}
	})
}

// TestAnswerPromotionDetailRunOn: WeChat's paid orderquery answer of an
// order whose attach holds "&out_trade_no=VICTIM&promotion_detail={}" (a
// pay takes it) also reads as an answer about VICTIM, paid, its
// promotion_detail running on over bank_type to the real out_trade_no
// (fee_type gone: CNY). Whoever saw that answer could give it for a query
// of VICTIM. It is refused, as the notifications refuse a promotion_detail
// that is no JSON value; WeChat's own promotion_detail is accepted.
func TestAnswerPromotionDetailRunOn(t *testing.T) {
	pay, err := newClient(t, testConfig(SignMD5)).Prepare(context.Background(), "pay",
		[]byte(`{"order_id":"ATT1","amount":"10.00","currency":"USD","description":"d","openid":"`+openID+
			`","attach":"x&out_trade_no=VICTIM&promotion_detail={}"}`))
	if err != nil || pay == nil {
		t.Fatalf("the pay is refused (%v): this reading needs no other guard", err)
	}
	victim, err := newClient(t, testConfig(SignMD5)).Prepare(context.Background(), "query", []byte(`{"order_id":"VICTIM"}`))
	if err != nil {
		t.Fatal(err)
	}
	genuine := set(set(paidUSDAnswer(), "out_trade_no", "ATT1"), "attach", "x&out_trade_no=VICTIM&promotion_detail={}")
	between := []string{"bank_type", "cash_fee", "fee_type", "is_subscribe", "mch_id", "nonce_str", "openid", "out_trade_no"}
	runOn := "{}"
	for _, f := range between {
		runOn += "&" + f + "=" + genuine.Get(f)
	}
	forged := slices.DeleteFunc(slices.Clone(genuine), func(p transform.Param) bool { return slices.Contains(between, p.Name) })
	forged = set(set(set(forged, "attach", "x"), "out_trade_no", "VICTIM"), "promotion_detail", runOn)
	if signedString(forged) != signedString(genuine) { // the premise: both sign alike
		t.Fatalf("%s\n%s", signedString(forged), signedString(genuine))
	}
	body := transform.AppendFlatXML(nil, "xml", append(forged, transform.Param{Name: "sign", Value: refSign(genuine, vecAPIKey, SignMD5)}))
	out, err := victim.Decode(http.StatusOK, nil, body)
	if wantError(t, err, 502, transform.CodeSignatureInvalid); out != nil {
		t.Fatalf("read as %s", out)
	}
	// WeChat's promotion_detail (单品优惠, JSON) in a paid answer.
	withPromotion := set(set(paidUSDAnswer(), "out_trade_no", "VICTIM"), "promotion_detail",
		`{"promotion_detail":[{"promotion_id":"109519","name":"单品惠-6","scope":"SINGLE","type":"DISCOUNT","amount":5}]}`)
	out, err = victim.Decode(http.StatusOK, nil, signedXML(withPromotion, vecAPIKey, SignMD5))
	if err != nil || !strings.Contains(string(out), `"status":"succeeded","amount":"10.00","currency":"USD"`) {
		t.Fatalf("WeChat's answer with promotion_detail: %s, %v", out, err)
	}
}

// TestAnswerReadingsOneWay: of all the readings of WeChat's orderquery
// answers (every cut of its signed string into sorted fields where only
// attach, device_info and promotion_detail hold "&name="), each decoded as
// the answer to a query of the order it names, none is accepted but as
// WeChat's own reading reads: the attach values a pay takes (the
// merchant's parameters, named like WeChat's fields or not) and an order's
// own device_info move no field of WeChat's answer into another order's or
// another currency. The answers are a paid one and unpaid ones (NOTPAY,
// CLOSED, PAYERROR) carrying total_fee with and without fee_type, where an
// attach "x&fee_type=JPY" reads as a fee_type of WeChat's: an unpaid order's
// query states no amount, whatever the reading (README, the status object).
func TestAnswerReadingsOneWay(t *testing.T) {
	c := newClient(t, testConfig(SignMD5))
	attaches := []string{
		"a=1&b=2",
		"uid=5&device_info=iPhone",
		"src=mp&cash_fee=1&device_info=iPhone",
		"x&out_trade_no=VICTIM&promotion_detail={}",
		"x&device_info=D&out_trade_no=VICTIM&promotion_detail=[1]",
		"x&fee_type=CNY&promotion_detail={}",
		"x&total_fee=1&trade_state=NOTPAY&zz=1",
		"x&fee_type=JPY",
		"x&cash_fee=1000&fee_type=JPY&is_subscribe=N",
	}
	answers := map[string]transform.Params{"SUCCESS in USD": paidUSDAnswer()}
	for _, state := range []string{"NOTPAY", "CLOSED", "PAYERROR"} {
		// as the orderquery page says an unpaid answer is, with the total_fee a real one carries
		unpaid := transform.Params{
			{Name: "return_code", Value: "SUCCESS"}, {Name: "appid", Value: vecAppID}, {Name: "mch_id", Value: vecMchID},
			{Name: "nonce_str", Value: "7Q8mZ1oQ3xT2"}, {Name: "result_code", Value: "SUCCESS"}, {Name: "out_trade_no", Value: "O1"},
			{Name: "trade_state", Value: state}, {Name: "trade_state_desc", Value: "说明"}, {Name: "total_fee", Value: "1000"},
		}
		answers[state+" with total_fee"] = unpaid
		answers[state+" with total_fee and fee_type USD"] = set(unpaid, "fee_type", "USD")
	}
	for name, answer := range answers {
		otherReadings, feeTypeSplit := 0, false
		for _, attach := range attaches {
			for _, deviceInfo := range []string{"", "013467007045764"} {
				genuine := set(set(answer, "out_trade_no", "ATT1"), "attach", attach)
				if deviceInfo != "" {
					genuine = set(genuine, "device_info", deviceInfo)
				}
				if _, err := c.Prepare(context.Background(), "pay", []byte(`{"order_id":"ATT1","amount":"10.00","currency":"USD","description":"d","openid":"`+
					openID+`","attach":"`+attach+`"}`)); err != nil {
					t.Fatalf("attach %q: the pay is refused: %v", attach, err)
				}
				want, err := queryOf(t, c, "ATT1").Decode(http.StatusOK, nil, signedXML(genuine, vecAPIKey, SignMD5))
				if err != nil {
					t.Fatalf("%s, attach %q: WeChat's answer: %v", name, attach, err)
				}
				sign := refSign(genuine, vecAPIKey, SignMD5)
				readings := pairFreeReadings(signedString(genuine))
				if len(readings) < 1 {
					t.Fatalf("%s, attach %q: no reading", name, attach)
				}
				otherReadings += len(readings) - 1
				for _, p := range readings {
					feeTypeSplit = feeTypeSplit || p.Get("attach") == "x" && p.Get("fee_type") == "JPY"
					order := p.Get("out_trade_no")
					if transform.ValidOrderID("order_id", order) != nil {
						order = "ATT1"
					}
					body := transform.AppendFlatXML(nil, "xml", append(p, transform.Param{Name: "sign", Value: sign}))
					if out, err := queryOf(t, c, order).Decode(http.StatusOK, nil, body); err == nil && string(out) != string(want) {
						t.Errorf("%s, attach %q, device_info %q: a reading is accepted as %s (WeChat's: %s): %s", name, attach, deviceInfo, out, want, body)
					}
				}
			}
		}
		// the search saw readings other than WeChat's, and for an unpaid
		// answer without fee_type the one taking JPY from the attach
		if otherReadings == 0 || answer.Get("trade_state") != "SUCCESS" && !answer.Has("fee_type") && !feeTypeSplit {
			t.Errorf("%s: %d other readings, attach's fee_type split off: %v", name, otherReadings, feeTypeSplit)
		}
	}
}

// queryOf is c's query call of order.
func queryOf(t *testing.T, c *Client, order string) *transform.Call {
	t.Helper()
	call, err := c.Prepare(context.Background(), "query", []byte(`{"order_id":"`+order+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	return call
}
