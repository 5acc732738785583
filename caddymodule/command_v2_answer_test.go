package caddymodule

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/wechatv2"
)

// v2LargestRefundQuery is the largest refundquery answer
// docs/providers/wechat_v2.md ("Largest documents") says WeChat sends: 20
// refunds of an order that used 28 vouchers, each refund listing its 12
// fields and 3 per voucher, for Caddyfile.example's merchant, signed
// HMAC-SHA256 under its key by WeChat's rule written out here (crypto/hmac
// over the sorted k=v string and &key=). It also returns its field count.
func v2LargestRefundQuery(t *testing.T) (string, int) {
	t.Helper()
	fields := map[string]string{
		"return_code": "SUCCESS", "return_msg": "OK", "result_code": "SUCCESS", "appid": "wx8888888888888888",
		"mch_id": "1900000109", "nonce_str": "TeqClE3i0mvn3DrK", "transaction_id": "4200002026112219202610000021",
		"out_trade_no": "DEMO-1001", "total_fee": "100000", "cash_fee": "72000", "refund_count": "20",
	}
	for n := range 20 {
		s := "_" + strconv.Itoa(n)
		for name, value := range map[string]string{
			"out_refund_no": "DEMO-1001-R" + strconv.Itoa(n+1), "refund_id": "50000179534642630" + strconv.Itoa(10+n),
			"refund_channel": "ORIGINAL", "refund_fee": "5000", "settlement_refund_fee": "5000", "cash_refund_fee": "3600",
			"coupon_refund_fee": "1400", "coupon_refund_count": "28", "refund_status": "SUCCESS",
			"refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS", "refund_recv_accout": "支付用户的零钱",
			"refund_success_time": "2026-11-22 19:30:26",
		} {
			fields[name+s] = value
		}
		for m := range 28 {
			sm := s + "_" + strconv.Itoa(m)
			fields["coupon_type"+sm] = "CASH"
			fields["coupon_refund_id"+sm] = "10000" + strconv.Itoa(100*n+m)
			fields["coupon_refund_fee"+sm] = "50"
		}
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	var signed, doc strings.Builder
	doc.WriteString("<xml>")
	for _, name := range names {
		signed.WriteString(name + "=" + fields[name] + "&")
		doc.WriteString("<" + name + "><![CDATA[" + fields[name] + "]]></" + name + ">")
	}
	mac := hmac.New(sha256.New, []byte("8934e7d15453e97507ef794cf7b0519d"))
	mac.Write([]byte(signed.String() + "key=8934e7d15453e97507ef794cf7b0519d"))
	doc.WriteString("<sign>" + strings.ToUpper(hex.EncodeToString(mac.Sum(nil))) + "</sign></xml>")
	return doc.String(), len(fields) + 1
}

// TestVerifyCommandV2AnswerAsTheRouteReads: verify judges a wechat_v2
// answer as minipay reads it (README caddy minipay verify), past a
// notification's bounds: the largest refundquery answer WeChat sends
// (1,935 fields, over 64 KiB), which the route reads, is valid; so is an
// answer naming another sign_type than the route's, signed with the
// route's, which the route reads by its signature. Both were invalid
// before (notification is malformed; another sign type).
func TestVerifyCommandV2AnswerAsTheRouteReads(t *testing.T) {
	largest, fields := v2LargestRefundQuery(t)
	if fields <= wechatv2.MaxDocumentFields || len(largest) <= maxBody || fields > wechatv2.MaxAnswerFields || len(largest) > transform.MaxAnswer {
		t.Fatalf("%d fields, %d bytes: not past a notification's bounds and within an answer's", fields, len(largest))
	}
	client, err := wechatv2.NewClient(wechatv2.Config{AppID: "wx8888888888888888", MchID: "1900000109",
		APIKey: "8934e7d15453e97507ef794cf7b0519d", SignType: wechatv2.SignHMACSHA256, NotifyURL: "https://m.example/n"})
	if err != nil {
		t.Fatal(err)
	}
	call, err := client.Prepare(context.Background(), transform.OpRefundQuery, []byte(`{"refund_id":"DEMO-1001-R20","order_id":"DEMO-1001"}`))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := call.Decode(200, nil, []byte(largest)); err != nil || !strings.Contains(string(out), `"provider_refund_id":"5000017953464263029"`) {
		t.Fatalf("the route reads %s, %v", out, err)
	}
	// The NOTPAY answer with sign_type MD5 added; its HMAC-SHA256 sign by
	// openssl dgst -sha256 -hmac over the string shown.
	const signTypeSig = "B53AF2B25051203FC4648203DC87C47857220FB510D9764B4BAB669180BD2654"
	signTypeAnswer := v2SPAnswer(t, "<sign_type>MD5</sign_type>", signTypeSig)
	if _, err := client.ReadAnswer(200, []byte(signTypeAnswer)); err != nil {
		t.Fatalf("the route reads the answer naming sign_type MD5: %v", err)
	}
	v2Args := []string{"--provider", "wechat_v2", "--set", "app_id=wx8888888888888888", "--set", "mch_id=1900000109",
		"--set", "api_key=8934e7d15453e97507ef794cf7b0519d", "--set", "sign_type=HMAC-SHA256", "--file", "-"}
	tests := []struct{ name, input, want string }{
		{"largest refundquery answer", largest, ""},
		{"answer naming sign_type MD5", signTypeAnswer, strings.Replace(v2SPOutput(signTypeSig, signTypeSig, "valid"), "&trade_state=", "&sign_type=MD5&trade_state=", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := verify(t, tt.input, v2Args...)
			if code != exitValid || !strings.Contains(out, "\nkind: answer\n") || !strings.HasSuffix(out, "\nverdict: valid\n") || errOut != "" {
				t.Fatalf("exit %d\n%.600s%s", code, out, errOut)
			}
			if tt.want != "" && out != tt.want {
				t.Fatalf("output:\n%s\nwant:\n%s", out, tt.want)
			}
		})
	}
	// A payment notification past its bounds is still the webhook's 413.
	notification := strings.Replace(largest, "<refund_count>", "<time_end>20261122192026</time_end><refund_count>", 1)
	notification = strings.NewReplacer("<refund_count><![CDATA[20]]></refund_count>", "", "out_refund_no", "x_no", "refund_id", "x_id").Replace(notification)
	if code, out, _ := verify(t, notification, v2Args...); code != exitInvalid || !strings.Contains(out, "\nkind: notification\n") ||
		!strings.HasSuffix(out, "verdict: invalid (the input is larger than 64 KiB: the webhook refuses it unread (413))\n") {
		t.Fatalf("a notification past 64 KiB: exit %d\n%.600s", code, out)
	}
}
