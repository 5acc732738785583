package integration

import (
	"bytes"
	"cmp"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// v2CDATA writes fields as WeChat does, each value in CDATA, then the
// extra elements as given (raw XML, e.g. empty ones outside the signature).
func v2CDATA(fields map[string]string, extra ...string) []byte {
	var b strings.Builder
	b.WriteString("<xml>")
	for k, v := range fields {
		b.WriteString("<" + k + "><![CDATA[" + strings.ReplaceAll(v, "]]>", "]]]]><![CDATA[>") + "]]></" + k + ">")
	}
	for _, e := range extra {
		b.WriteString(e)
	}
	b.WriteString("</xml>")
	return []byte(b.String())
}

// TestWechatV2PublishedVectorsThroughCaddy: the published vectors of
// docs/providers/wechat_v2.md through a real Caddy, not only in unit tests:
// the sandbox takes WeChat's official signature example (MD5
// 9A0A8659F005D6984697E2CA0A9CF3B7) as signed and refuses it with one digit
// changed; minipay_webhook opens the published req_info under the published
// key; and a key whose MD5 begins with a zero digit (WxJava issue 742: the
// AES key lost its leading 0) opens a req_info the test encrypted itself.
func TestWechatV2PublishedVectorsThroughCaddy(t *testing.T) {
	const (
		vecAppID  = "wxd930ea5d5a258f4f"
		vecMchID  = "10000100"
		vecKey    = "192006250b4c09247ec02edce69f6a2d"
		zeroKey   = "37381208bbce2acddc69e6aa2c6597d8" // MD5 0149ee4840bbaf838affca6d31d25ee1
		vecReq    = "WBzGpzQuNpcFxIlFjUUD9BZv+lpBMzd2SHiKCkwfALWid5G8ZvfOussfMIHLbKJmcnxPKdb1ZJEqTAp8ysQv+xa1fj+Eorgndx3fNxf3KAYa3LPgsjvZgxaeYyrhV05Kbjkj6ywg27cEyTTaPZFYNg=="
		vecSigned = `<xml><appid>wxd930ea5d5a258f4f</appid><mch_id>10000100</mch_id><device_info>1000</device_info><body>test</body><nonce_str>ibuaiVcKdpRxkhJA</nonce_str><sign>%s</sign></xml>`
	)
	merchant := newMerchantBackend(t)
	port := itoa(freePort(t))
	backend := strings.TrimPrefix(merchant.srv.URL, "http://")
	webhook := func(path, key string) string {
		return `
	handle ` + path + ` {
		minipay_webhook wechat_v2 {
			app_id ` + vecAppID + `
			mch_id ` + vecMchID + `
			api_key ` + key + `
		}
		reverse_proxy ` + backend + `
	}`
	}
	tc := startCaddy(t, globalOptions(t.TempDir()+"/caddy.log")+`
:`+port+` {`+webhook("/webhooks/vector", vecKey)+webhook("/webhooks/zero", zeroKey)+`
	handle {
		minipay_sandbox {
			wechat_v2 {
				app_id `+vecAppID+`
				mch_id `+vecMchID+`
				api_key `+vecKey+`
			}
		}
	}
}
`)
	base := "http://localhost:" + port

	for sign, want := range map[string]string{
		"9A0A8659F005D6984697E2CA0A9CF3B7": "<err_code><![CDATA[LACK_PARAMS]]></err_code>", // signed right: only out_trade_no… lack
		"9A0A8659F005D6984697E2CA0A9CF3B6": "<return_msg><![CDATA[签名错误]]></return_msg>",
	} {
		r := do(t, tc, http.MethodPost, base+"/pay/unifiedorder", "text/xml", []byte(strings.Replace(vecSigned, "%s", sign, 1)))
		if r.status != 200 || !strings.Contains(string(r.body), want) {
			t.Errorf("sandbox, official example signed %s: %d %s, want %s", sign, r.status, r.body, want)
		}
	}

	zeroPlain := `<root><out_refund_no><![CDATA[R0]]></out_refund_no><refund_status><![CDATA[REFUNDCLOSE]]></refund_status></root>`
	for _, c := range []struct{ path, reqInfo, id, typ, refundID, status string }{
		{"/webhooks/vector", vecReq, "wechat_v2:R1:refund.succeeded", "refund.succeeded", "R1", "SUCCESS"},
		{"/webhooks/zero", transformtest.WeChatV2ReqInfo(zeroKey, zeroPlain), "wechat_v2:R0:refund.failed", "refund.failed", "R0", "REFUNDCLOSE"},
	} {
		body := v2CDATA(map[string]string{"return_code": "SUCCESS", "appid": vecAppID, "mch_id": vecMchID,
			"nonce_str": "TeqClE3i0mvn3DrK", "req_info": c.reqInfo})
		r := do(t, tc, http.MethodPost, base+c.path, "text/xml", body)
		got := merchant.take()
		if r.status != 200 || string(r.body) != wechatACK || len(got) != 1 {
			t.Errorf("%s: %d %s, %d deliveries", c.path, r.status, r.body, len(got))
			continue
		}
		ev := got[0].event
		want := map[string]any{"id": c.id, "provider": "wechat_v2", "type": c.typ, "order_id": "", "refund_id": c.refundID,
			"data": map[string]any{"out_refund_no": c.refundID, "refund_status": c.status}}
		if !equalJSON(ev, want) || got[0].header.Get("Minipay-Event-Id") != c.id {
			t.Errorf("%s: event %v (Minipay-Event-Id %q), want %v", c.path, ev, got[0].header.Get("Minipay-Event-Id"), want)
		}
	}
}

// equalJSON compares two decoded JSON values.
func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestWechatV2NotificationVariants: minipay_webhook through a real Caddy,
// for a direct merchant in MD5 and HMAC-SHA256 and a service provider, with
// notifications an independent signer (v2DocSign, written from WeChat's
// signature page) makes: coupon fields, Chinese, '&' and '<' in CDATA,
// fields WeChat may add (signed: accepted and in data; unsigned: refused),
// empty elements (outside the signed string: accepted and left out of
// data; counted in it: refused), sign_type present or absent per the
// configured type (the other type refused), result_code FAIL, a UTF-8 byte
// order mark, service provider identifiers, documents laid out as WeChat's pages, its
// Java and PHP SDKs and Python's ElementTree write them (v2Layouts; utf8 and
// us-ascii declarations), and refund notifications in every refund_status.
func TestWechatV2NotificationVariants(t *testing.T) {
	const subAppID, subMchID = "wxd678efh567hg6787", "1900000110"
	merchant := newMerchantBackend(t)
	port := itoa(freePort(t))
	backend := strings.TrimPrefix(merchant.srv.URL, "http://")
	route := func(path, extra string) string {
		return `
	handle ` + path + ` {
		minipay_webhook wechat_v2 {
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key ` + apiKey + extra + `
		}
		reverse_proxy ` + backend + `
	}`
	}
	tc := startCaddy(t, globalOptions(t.TempDir()+"/caddy.log")+`
:`+port+` {`+route("/md5", "")+route("/hmac", "\n\t\t\tsign_type HMAC-SHA256")+
		route("/sp", "\n\t\t\tsub_app_id "+subAppID+"\n\t\t\tsub_mch_id "+subMchID)+`
}
`)
	paid := func(changes map[string]string) map[string]string {
		p := map[string]string{"return_code": "SUCCESS", "appid": appID, "mch_id": mchID, "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c",
			"result_code": "SUCCESS", "openid": "oUpF8uMEb4qRXf22hE3X68TekukE", "is_subscribe": "Y", "trade_type": "JSAPI",
			"bank_type": "CFT", "total_fee": "1001", "fee_type": "CNY", "cash_fee": "1001", "out_trade_no": "1409811653",
			"transaction_id": "1004400740201409030005092168", "time_end": "20140903131540"}
		for k, v := range changes {
			p[k] = v
		}
		return p
	}
	sp := map[string]string{"sub_appid": subAppID, "sub_mch_id": subMchID, "sub_openid": "oSubOpenid0001", "sub_is_subscribe": "N"}
	coupons := map[string]string{"coupon_fee": "300", "coupon_count": "2", "coupon_type_0": "CASH", "coupon_id_0": "10000",
		"coupon_fee_0": "100", "coupon_type_1": "NO_CASH", "coupon_id_1": "10001", "coupon_fee_1": "200", "cash_fee": "701",
		"settlement_total_fee": "901", "cash_fee_type": "CNY"}
	const succeeded = "wechat_v2:1004400740201409030005092168:payment.succeeded"
	tests := []struct {
		name, path, signType string
		fields               map[string]string
		// unsigned are added after signing; extra elements go in as raw XML.
		unsigned map[string]string
		extra    []string
		// signEmpty puts the extra elements' names in the signed string with
		// empty values, which the signature page excludes.
		signEmpty []string
		// prefix goes before the document (a byte order mark, a declaration).
		prefix string
		// write, when set, writes the document in place of v2CDATA.
		write  func(map[string]string) []byte
		status int
		id     string
	}{
		{name: "coupons", path: "/md5", signType: "MD5", fields: paid(coupons), status: 200, id: succeeded},
		{name: "Chinese, & and < in CDATA", path: "/md5", signType: "MD5",
			fields: paid(map[string]string{"attach": "门店 <A&B> 中文 ]]> 测试", "device_info": "013467007045764"}), status: 200, id: succeeded},
		{name: "fields WeChat may add, signed", path: "/hmac", signType: "HMAC-SHA256",
			fields: paid(map[string]string{"version": "1.0", "promotion_detail": `[{"promotion_id":"109519"}]`, "zz_new": "新"}), status: 200, id: succeeded},
		{name: "a field added unsigned", path: "/md5", signType: "MD5", fields: paid(nil),
			unsigned: map[string]string{"zz_new": "1"}, status: 401},
		{name: "a signed field changed", path: "/hmac", signType: "HMAC-SHA256", fields: paid(nil),
			unsigned: map[string]string{"cash_fee": "1"}, status: 401},
		{name: "empty elements outside the signature", path: "/md5", signType: "MD5", fields: paid(nil),
			extra: []string{"<device_info></device_info>", "<attach><![CDATA[]]></attach>", "<coupon_fee/>"}, status: 200, id: succeeded},
		{name: "empty elements counted in the signed string", path: "/md5", signType: "MD5", fields: paid(nil),
			extra: []string{"<attach></attach>"}, signEmpty: []string{"attach"}, status: 401},
		{name: "UTF-8 byte order mark (XML 1.0 §4.3.3)", path: "/hmac", signType: "HMAC-SHA256", fields: paid(nil),
			prefix: "\uFEFF", status: 200, id: succeeded},
		{name: "Python's ElementTree: us-ascii declaration, character references", path: "/md5", signType: "MD5",
			fields: paid(map[string]string{"attach": "门店 <A&B> 中文"}), write: v2ElementTree, status: 200, id: succeeded},
		{name: "Python's ElementTree, HMAC-SHA256", path: "/hmac", signType: "HMAC-SHA256",
			fields: paid(map[string]string{"attach": "门店 <A&B> 中文"}), write: v2ElementTree, status: 200, id: succeeded},
		{name: v2Layouts[0].name, path: "/md5", signType: "MD5", fields: paid(map[string]string{"attach": "门店 <A&B> ]]> 1"}),
			write: v2Layouts[0].write, status: 200, id: succeeded},
		{name: v2Layouts[1].name, path: "/hmac", signType: "HMAC-SHA256", fields: paid(map[string]string{"attach": "门店 <A&B> \"'"}),
			write: v2Layouts[1].write, status: 200, id: succeeded},
		{name: v2Layouts[2].name, path: "/md5", signType: "MD5", fields: paid(map[string]string{"attach": "12.5"}),
			write: v2Layouts[2].write, status: 200, id: succeeded},
		{name: "UTF-8 declared as utf8 (ElementTree)", path: "/md5", signType: "MD5", fields: paid(map[string]string{"attach": "门店"}),
			prefix: "<?xml version='1.0' encoding='utf8'?>\n", status: 200, id: succeeded},
		{name: "us-ascii declared, UTF-8 sent", path: "/md5", signType: "MD5", fields: paid(map[string]string{"attach": "门店"}),
			prefix: "<?xml version='1.0' encoding='us-ascii'?>\n", status: 401},
		{name: "MD5 with sign_type MD5", path: "/md5", signType: "MD5", fields: paid(map[string]string{"sign_type": "MD5"}), status: 200, id: succeeded},
		{name: "HMAC-SHA256 without sign_type", path: "/hmac", signType: "HMAC-SHA256", fields: paid(nil), status: 200, id: succeeded},
		{name: "HMAC-SHA256 with sign_type", path: "/hmac", signType: "HMAC-SHA256",
			fields: paid(map[string]string{"sign_type": "HMAC-SHA256"}), status: 200, id: succeeded},
		{name: "MD5 to an HMAC-SHA256 route", path: "/hmac", signType: "MD5", fields: paid(nil), status: 401},
		{name: "MD5 naming itself to an HMAC-SHA256 route", path: "/hmac", signType: "MD5", fields: paid(map[string]string{"sign_type": "MD5"}), status: 401},
		{name: "HMAC-SHA256 to an MD5 route", path: "/md5", signType: "HMAC-SHA256",
			fields: paid(map[string]string{"sign_type": "HMAC-SHA256"}), status: 401},
		{name: "result_code FAIL", path: "/md5", signType: "MD5",
			fields: paid(map[string]string{"result_code": "FAIL", "err_code": "SYSTEMERROR", "err_code_des": "系统超时"}), status: 200,
			id: "wechat_v2:1004400740201409030005092168:payment.failed"},
		{name: "return_code FAIL", path: "/md5", signType: "MD5", fields: paid(map[string]string{"return_code": "FAIL", "return_msg": "x"}), status: 401},
		{name: "service provider", path: "/sp", signType: "MD5", fields: paid(sp), status: 200, id: succeeded},
		{name: "service provider, coupons", path: "/sp", signType: "MD5", fields: paid(merged(sp, coupons)), status: 200, id: succeeded},
		{name: "service provider without sub_appid", path: "/sp", signType: "MD5",
			fields: paid(map[string]string{"sub_mch_id": subMchID, "sub_openid": "oSubOpenid0001"}), status: 200, id: succeeded},
		{name: "another sub_mch_id", path: "/sp", signType: "MD5", fields: paid(merged(sp, map[string]string{"sub_mch_id": "1900000111"})), status: 401},
		{name: "another sub_appid", path: "/sp", signType: "MD5", fields: paid(merged(sp, map[string]string{"sub_appid": "wx0000000000000000"})), status: 401},
		{name: "no sub_mch_id to a service provider", path: "/sp", signType: "MD5", fields: paid(nil), status: 401},
		{name: "another mch_id", path: "/md5", signType: "MD5", fields: paid(map[string]string{"mch_id": "1900000110"}), status: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sign := v2DocSign(tt.fields, tt.signType)
			if len(tt.signEmpty) > 0 {
				sign = v2SignIncludingEmpty(tt.fields, tt.signEmpty, tt.signType)
			}
			fields := maps.Clone(tt.fields)
			fields["sign"] = sign
			maps.Copy(fields, tt.unsigned)
			doc := v2CDATA(fields, tt.extra...)
			if tt.write != nil {
				doc = tt.write(fields)
			}
			r := do(t, tc, http.MethodPost, "http://localhost:"+port+tt.path, "text/xml", append([]byte(tt.prefix), doc...))
			got := merchant.take()
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				if len(got) != 0 || !strings.Contains(string(r.body), "<return_code><![CDATA[FAIL]]></return_code>") {
					t.Errorf("refused: %s, %d deliveries", r.body, len(got))
				}
				return
			}
			if string(r.body) != wechatACK || len(got) != 1 {
				t.Fatalf("%s, %d deliveries", r.body, len(got))
			}
			ev := got[0].event
			wantData := map[string]any{}
			for k, v := range tt.fields {
				wantData[k] = v
			}
			if ev["id"] != tt.id || ev["order_id"] != "1409811653" || ev["amount"] != "10.01" || ev["currency"] != "CNY" ||
				ev["occurred_at"] != "2014-09-03T13:15:40+08:00" || !equalJSON(ev["data"], wantData) {
				t.Errorf("event %v\nwant id %s and data %v", ev, tt.id, wantData)
			}
		})
	}

	refund := func(status string) string {
		plain := "<root><out_refund_no><![CDATA[1409811653-R1]]></out_refund_no><out_trade_no><![CDATA[1409811653]]></out_trade_no>" +
			"<refund_account><![CDATA[REFUND_SOURCE_RECHARGE_FUNDS]]></refund_account><refund_fee><![CDATA[300]]></refund_fee>" +
			"<refund_id><![CDATA[50000408942018111907145868882]]></refund_id><refund_recv_accout><![CDATA[支付用户零钱 <&>]]></refund_recv_accout>" +
			"<refund_request_source><![CDATA[API]]></refund_request_source><refund_status><![CDATA[" + status + "]]></refund_status>" +
			"<settlement_refund_fee><![CDATA[200]]></settlement_refund_fee><settlement_total_fee><![CDATA[1001]]></settlement_total_fee>" +
			"<total_fee><![CDATA[1001]]></total_fee><transaction_id><![CDATA[1004400740201409030005092168]]></transaction_id>"
		if status == "SUCCESS" {
			plain += "<success_time><![CDATA[2014-09-03 13:20:00]]></success_time>"
		}
		return transformtest.WeChatV2ReqInfo(apiKey, plain+"</root>")
	}
	for _, c := range []struct {
		name, path, status, typ string
		outer                   map[string]string
		want                    int
	}{
		{"SUCCESS", "/md5", "SUCCESS", "refund.succeeded", nil, 200},
		{"CHANGE", "/hmac", "CHANGE", "refund.failed", nil, 200},
		{"REFUNDCLOSE", "/md5", "REFUNDCLOSE", "refund.failed", nil, 200},
		{"undocumented PROCESSING", "/md5", "PROCESSING", "unknown", nil, 200},
		{"service provider", "/sp", "SUCCESS", "refund.succeeded", map[string]string{"sub_appid": subAppID, "sub_mch_id": subMchID}, 200},
		{"service provider, another sub_mch_id", "/sp", "SUCCESS", "", map[string]string{"sub_mch_id": "1900000111"}, 401},
		{"another appid", "/md5", "SUCCESS", "", map[string]string{"appid": "wxd930ea5d5a258f4f"}, 401},
	} {
		t.Run("refund "+c.name, func(t *testing.T) {
			outer := map[string]string{"return_code": "SUCCESS", "appid": appID, "mch_id": mchID, "nonce_str": "TeqClE3i0mvn3DrK", "req_info": refund(c.status)}
			maps.Copy(outer, c.outer)
			r := do(t, tc, http.MethodPost, "http://localhost:"+port+c.path, "text/xml", v2CDATA(outer))
			got := merchant.take()
			if r.status != c.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, c.want)
			}
			if c.want != 200 {
				if len(got) != 0 {
					t.Errorf("refused but forwarded %d", len(got))
				}
				return
			}
			if string(r.body) != wechatACK || len(got) != 1 {
				t.Fatalf("%s, %d deliveries", r.body, len(got))
			}
			ev := got[0].event
			id := "wechat_v2:50000408942018111907145868882:" + c.typ
			data, _ := ev["data"].(map[string]any)
			// refund_id on refund events only (README Webhooks); data names the refund in any case
			wantRefundID := any("1409811653-R1")
			if c.typ == "unknown" {
				wantRefundID = nil
			}
			if ev["id"] != id || ev["type"] != c.typ || ev["order_id"] != "1409811653" || ev["refund_id"] != wantRefundID || data["out_refund_no"] != "1409811653-R1" ||
				ev["provider_order_id"] != "1004400740201409030005092168" || ev["amount"] != "3.00" || ev["currency"] != "CNY" ||
				data["refund_status"] != c.status || data["refund_recv_accout"] != "支付用户零钱 <&>" || data["appid"] != nil {
				t.Errorf("event %v, want id %s", ev, id)
			}
			if occurred := ev["occurred_at"]; (c.status == "SUCCESS") != (occurred == "2014-09-03T13:20:00+08:00") {
				t.Errorf("occurred_at %v for %s", occurred, c.status)
			}
		})
	}
}

// merged is a and b in one map, b's values winning.
func merged(a, b map[string]string) map[string]string {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}

// v2SignIncludingEmpty is the signature of a signer that wrongly writes
// the empty fields into the string ("attach=&"), which WeChat's page
// excludes: a notification so signed must not verify.
func v2SignIncludingEmpty(fields map[string]string, empty []string, signType string) string {
	all := maps.Clone(fields)
	for _, k := range empty {
		all[k] = ""
	}
	var s strings.Builder
	for _, k := range slices.Sorted(maps.Keys(all)) {
		s.WriteString(k + "=" + all[k] + "&")
	}
	return v2Digest(s.String()+"key="+apiKey, apiKey, signType)
}

// TestWechatV2ServiceProviderEndToEnd: service-provider mode through a real
// Caddy, minipay and minipay_webhook in front of the sandbox, with
// sub_app_id (HMAC-SHA256) and without it (MD5): the pay object's paySign
// signs the sub_app_id (the app_id without one), recomputed here from
// WeChat's paySign rule; the payment notification names the sub-merchant
// and the payer (sub_openid, or openid without sub_app_id); query, refund, the refund notification,
// refund_query and close answer as for a direct merchant.
func TestWechatV2ServiceProviderEndToEnd(t *testing.T) {
	const subAppID, subMchID, openid = "wxd678efh567hg6787", "1900000110", "oSubOpenid0001"
	merchant := newMerchantBackend(t)
	port := itoa(freePort(t))
	modes := []struct{ name, signType, subApp, payAppID string }{
		{"with sub_app_id", "HMAC-SHA256", "\n\t\tsub_app_id " + subAppID, subAppID},
		{"without sub_app_id", "MD5", "", appID},
	}
	var config strings.Builder
	config.WriteString(globalOptions(t.TempDir()+"/caddy.log") + "\n:" + port + " {\n")
	sandboxes := make([]string, len(modes))
	for i, m := range modes {
		sandboxes[i] = itoa(freePort(t))
		creds := "\t\tapp_id " + appID + "\n\t\tmch_id " + mchID + "\n\t\tapi_key " + apiKey + "\n\t\tsub_mch_id " + subMchID + m.subApp + "\n\t\tsign_type " + m.signType
		config.WriteString(`
	handle /m` + itoa(i) + `/* {
		minipay wechat_v2 {
` + creds + `
		notify_url http://localhost:` + port + `/webhooks/m` + itoa(i) + `
		client_ip 127.0.0.1
		}
		reverse_proxy localhost:` + sandboxes[i] + `
	}
	handle /webhooks/m` + itoa(i) + ` {
		minipay_webhook wechat_v2 {
` + creds + `
		}
		reverse_proxy ` + strings.TrimPrefix(merchant.srv.URL, "http://") + `
	}
`)
	}
	config.WriteString("}\n")
	for i, m := range modes {
		config.WriteString(":" + sandboxes[i] + ` {
	minipay_sandbox {
		wechat_v2 {
			app_id ` + appID + `
			mch_id ` + mchID + `
			api_key ` + apiKey + `
			sub_mch_id ` + subMchID + strings.ReplaceAll(m.subApp, "\t\t", "\t\t\t") + `
		}
	}
}
`)
	}
	tc := startCaddy(t, config.String())

	for i, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			base := "http://localhost:" + port + "/m" + itoa(i) + "/"
			sandbox := "http://localhost:" + sandboxes[i] + "/sandbox/complete"
			orderID := "SP-" + itoa(i)
			pay := postJSON(t, tc, base+"pay", `{"order_id":"`+orderID+`","amount":"12.34","currency":"CNY","description":"拿铁 <&>","openid":"`+openid+`"}`).json(t)
			signed := "appId=" + m.payAppID + "&nonceStr=" + str(pay["nonceStr"]) + "&package=" + str(pay["package"]) +
				"&signType=" + m.signType + "&timeStamp=" + str(pay["timeStamp"]) + "&key=" + apiKey
			if pay["signType"] != m.signType || pay["paySign"] != v2Digest(signed, apiKey, m.signType) {
				t.Fatalf("pay %v: paySign is not WeChat's over %q", pay, signed)
			}
			if c := postJSON(t, tc, sandbox, `{"provider":"wechat_v2","order_id":"`+orderID+`","result":"succeeded"}`).json(t); c["acknowledged"] != true {
				t.Fatalf("complete: %v", c)
			}
			got := merchant.take()
			if len(got) != 1 {
				t.Fatalf("%d payment events", len(got))
			}
			// The payer is a sub_openid under sub_app_id, an openid under the
			// service provider's app_id without one.
			ev, data := got[0].event, got[0].event["data"].(map[string]any)
			payer := map[bool]string{true: "sub_openid", false: "openid"}[m.subApp != ""]
			if ev["type"] != "payment.succeeded" || ev["order_id"] != orderID || ev["amount"] != "12.34" || data["sub_mch_id"] != subMchID ||
				data[payer] != openid || data["mch_id"] != mchID || data["appid"] != appID || (m.subApp != "") != (data["sub_appid"] == subAppID) {
				t.Errorf("payment event %v", ev)
			}
			transactionID := str(ev["provider_order_id"])
			q := postJSON(t, tc, base+"query", `{"order_id":"`+orderID+`"}`).json(t)
			if q["status"] != "succeeded" || q["provider_order_id"] != transactionID || q["amount"] != "12.34" {
				t.Errorf("query %v", q)
			}
			rf := postJSON(t, tc, base+"refund", `{"order_id":"`+orderID+`","refund_id":"`+orderID+`-R1","amount":"2.00","currency":"CNY","total_amount":"12.34"}`).json(t)
			if rf["status"] != "pending" || rf["amount"] != "2.00" || str(rf["provider_refund_id"]) == "" {
				t.Fatalf("refund %v", rf)
			}
			if c := postJSON(t, tc, sandbox, `{"provider":"wechat_v2","order_id":"`+orderID+`","result":"refunded"}`).json(t); c["acknowledged"] != true {
				t.Fatalf("complete refunded: %v", c)
			}
			got = merchant.take()
			if len(got) != 1 || got[0].event["type"] != "refund.succeeded" || got[0].event["refund_id"] != orderID+"-R1" ||
				got[0].event["id"] != "wechat_v2:"+str(rf["provider_refund_id"])+":refund.succeeded" || got[0].event["amount"] != "2.00" {
				t.Fatalf("refund events %v", got)
			}
			rq := postJSON(t, tc, base+"refund_query", `{"refund_id":"`+orderID+`-R1","order_id":"`+orderID+`"}`).json(t)
			if rq["status"] != "succeeded" || rq["provider_refund_id"] != rf["provider_refund_id"] || rq["provider_status"] != "SUCCESS" {
				t.Errorf("refund_query %v", rq)
			}
			if r := postJSON(t, tc, base+"close", `{"order_id":"`+orderID+`"}`); r.status != 422 || r.errorOf(t)["provider_code"] != "ORDERPAID" {
				t.Errorf("close: %d %s", r.status, r.body)
			}
		})
	}
}

// TestWechatV2AnswerVariants: orderquery answers of an independent WeChat
// (v2DocSign, v2CDATA; the answer named by the order id) through a real
// Caddy, for a direct merchant in MD5 and HMAC-SHA256 and a service
// provider: sign_type present or absent (WeChat signs an answer with the
// request's type), fields WeChat may add (signed: read; unsigned: refused),
// empty elements (outside the signed string: read; counted in it: refused),
// the other sign type, a result_code FAIL with no err_code or unsigned, a
// return_code FAIL that carries a sign, a UTF-8 byte order mark, an answer
// as Python's ElementTree writes it (v2ElementTree); a request
// naming a sign_type is a 400 (the route's sign_type is the one used).
func TestWechatV2AnswerVariants(t *testing.T) {
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := v2RequestFields(body)
		signType := cmp.Or(req["sign_type"], "MD5")
		if err != nil || v2DocSign(req, signType) != req["sign"] {
			http.Error(w, "unsigned request", http.StatusBadRequest)
			return
		}
		a := map[string]string{"return_code": "SUCCESS", "return_msg": "OK", "appid": req["appid"], "mch_id": req["mch_id"],
			"nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS", "result_code": "SUCCESS", "out_trade_no": req["out_trade_no"],
			"trade_state": "SUCCESS", "trade_state_desc": "支付成功", "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "trade_type": "JSAPI",
			"bank_type": "CMC", "total_fee": "1001", "fee_type": "CNY", "cash_fee": "1001",
			"transaction_id": "1008450740201411110005820873", "time_end": "20141111170043"}
		if req["sub_mch_id"] != "" {
			a["sub_appid"], a["sub_mch_id"], a["sub_openid"] = req["sub_appid"], req["sub_mch_id"], "oSubOpenid0001"
		}
		var prefix string
		var extra []string
		unsigned := map[string]string{} // added after signing
		sign := func() string { return v2DocSign(a, signType) }
		switch req["out_trade_no"] {
		case "sign_type":
			a["sign_type"] = signType
		case "etree":
			a["attach"] = "门店 <A&B>"
		case "bom": // XML 1.0 §4.3.3: a UTF-8 document may begin with one
			prefix = "\uFEFF"
		case "added":
			a["settlement_total_fee"], a["promotion_detail"], a["zz_new"] = "901", `{"a":[1]}`, "新 <&>"
		case "added-unsigned":
			unsigned["zz_new"] = "1"
		case "empty":
			extra = []string{"<device_info></device_info>", "<attach><![CDATA[]]></attach>", "<coupon_fee/>"}
		case "empty-signed":
			extra = []string{"<attach></attach>"}
			sign = func() string { return v2SignIncludingEmpty(a, []string{"attach"}, signType) }
		case "other-type":
			other := map[string]string{"MD5": "HMAC-SHA256", "HMAC-SHA256": "MD5"}[signType]
			sign = func() string { return v2DocSign(a, other) }
		case "fail-no-err_code":
			a = map[string]string{"return_code": "SUCCESS", "appid": req["appid"], "mch_id": req["mch_id"], "sub_mch_id": req["sub_mch_id"],
				"nonce_str": "n", "result_code": "FAIL"}
		case "fail-unsigned":
			a["result_code"], a["err_code"], a["err_code_des"] = "FAIL", "ORDERNOTEXIST", "订单不存在"
			sign = func() string { return "" }
		case "return-fail-signed":
			a = map[string]string{"return_code": "FAIL", "return_msg": "参数格式校验错误"}
		}
		a["sign"] = sign()
		maps.Copy(a, unsigned)
		if req["out_trade_no"] == "etree" { // as Python's ElementTree writes it: a us-ascii declaration, references
			_, _ = w.Write(v2ElementTree(a))
			return
		}
		_, _ = w.Write(append([]byte(prefix), v2CDATA(a, extra...)...))
	}))
	t.Cleanup(fake.Close)
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(t.TempDir()+"/caddy.log")+`
:`+port+` {`+v2MerchantRoutes(strings.TrimPrefix(fake.URL, "http://"))+`
}
`)
	for _, mode := range []string{"/md5", "/hmac", "/sp"} {
		// The sign type is the route's: a request cannot choose one.
		r := postJSON(t, tc, "http://localhost:"+port+mode+"/query", `{"order_id":"plain","sign_type":"MD5"}`)
		if e := r.errorOf(t); r.status != 400 || e["code"] != "invalid_request" || e["field"] != "sign_type" {
			t.Errorf("%s query naming sign_type: %d %s", mode, r.status, r.body)
		}
		for _, c := range []struct {
			order       string
			status      int
			code, pcode string
		}{
			{"plain", 200, "", ""}, {"sign_type", 200, "", ""}, {"bom", 200, "", ""}, {"added", 200, "", ""}, {"empty", 200, "", ""}, {"etree", 200, "", ""},
			{"added-unsigned", 502, "upstream_signature_invalid", ""}, {"empty-signed", 502, "upstream_signature_invalid", ""},
			{"other-type", 502, "upstream_signature_invalid", ""}, {"fail-unsigned", 502, "upstream_signature_invalid", ""},
			{"fail-no-err_code", 422, "provider_rejected", ""}, {"return-fail-signed", 502, "upstream_error", "FAIL"},
		} {
			r := postJSON(t, tc, "http://localhost:"+port+mode+"/query", `{"order_id":"`+c.order+`"}`)
			if r.status != c.status {
				t.Errorf("%s %s: %d %s, want %d", mode, c.order, r.status, r.body, c.status)
				continue
			}
			if c.status != 200 {
				if e := r.errorOf(t); e["code"] != c.code || str(e["provider_code"]) != c.pcode {
					t.Errorf("%s %s: %s, want %s %q", mode, c.order, r.body, c.code, c.pcode)
				}
				continue
			}
			want := `{"provider":"wechat_v2","order_id":"` + c.order + `","provider_order_id":"1008450740201411110005820873","status":"succeeded",` +
				`"amount":"10.01","currency":"CNY","paid_at":"2014-11-11T17:00:43+08:00","provider_status":"SUCCESS"}` + "\n"
			if string(r.body) != want {
				t.Errorf("%s %s: %s\nwant %s", mode, c.order, r.body, want)
			}
		}
	}
}
