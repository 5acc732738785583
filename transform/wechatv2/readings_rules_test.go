package wechatv2

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// TestReadsTwoWaysDocumentedRules: readsTwoWays, the one statement of which
// values of a signed document may hold "&name=", judges each documented
// rule for both kinds, and its verdict is what the webhook (a
// notification; caddy minipay verify on an answer) and ReadAnswer (an
// answer) decide. Notifications: README "What the merchant can trust";
// answers: README Errors, upstream_signature_invalid, and caddy minipay
// verify; an unpaid answer's attach: docs/providers/wechat_v2.md
// (orderquery, fee_type split off attach).
func TestReadsTwoWaysDocumentedRules(t *testing.T) {
	paidFields := []string{"bank_type", "cash_fee", "fee_type", "is_subscribe"} // dropped: mch_id follows attach
	tests := []struct {
		rule                 string
		fields               transform.Params // set on WeChat's own notification and paid answer
		drop                 []string
		notification, answer bool // refused as a notification; as an answer
	}{
		{"WeChat's own fields read one way", nil, nil, false, false},
		{"a value but attach, device_info and promotion_detail holding &name= (named after it)",
			transform.Params{{Name: "out_trade_no", Value: "O1&result_code=SUCCESS"}}, nil, true, true},
		{"a value but attach, device_info and promotion_detail holding &name= (named before it)",
			transform.Params{{Name: "openid", Value: openID + "&appid=wx1"}}, nil, true, true},
		{"a value but attach, device_info and promotion_detail holding &name= (none of WeChat's names)",
			transform.Params{{Name: "nonce_str", Value: "N&zz=1"}}, nil, true, true},
		{"attach may hold pairs (a=1&b=2)", transform.Params{{Name: "attach", Value: "a=1&b=2"}}, nil, false, false},
		{"attach: WeChat's names sorting after bank_type have no other reading",
			transform.Params{{Name: "attach", Value: "uid=5&openid=oX&total_fee=100&sign=x&device_info=iPhone"}}, nil, false, false},
		{"attach: one of WeChat's names sorting before it", transform.Params{{Name: "attach", Value: "x&appid=wx1"}}, nil, false, false},
		{"attach holding &bank_type=, the field that follows it", transform.Params{{Name: "attach", Value: "x&bank_type=CFT"}}, nil, true, true},
		{"attach holding a name sorting up to the field that follows it (mch_id): an unpaid answer of a pay's attach x&cash_fee=1 is valid",
			transform.Params{{Name: "attach", Value: "x&cash_fee=1"}}, paidFields, true, false},
		{"attach x&fee_type=JPY signs as attach x plus fee_type JPY (an unpaid answer states no amount)",
			transform.Params{{Name: "attach", Value: "x&fee_type=JPY"}}, paidFields, true, false},
		{"a field none of WeChat's right after attach", transform.Params{{Name: "attach", Value: "a=1"}, {Name: "b", Value: "2"}}, nil, true, false},
		{"device_info may hold pairs of no WeChat name", transform.Params{{Name: "device_info", Value: "POS-7&lane=3"}}, nil, false, false},
		{"device_info holding one of WeChat's names sorting after it",
			transform.Params{{Name: "device_info", Value: "013467007045764&fee_type=USD"}}, nil, true, true},
		{"device_info holding a name between attach and device_info, attach signed",
			transform.Params{{Name: "attach", Value: "src=mp"}, {Name: "device_info", Value: "iPhone&cash_fee=1"}}, nil, true, false},
		{"device_info holding a name sorting before it, no attach", transform.Params{{Name: "device_info", Value: "iPhone&cash_fee=1"}}, nil, false, false},
		{"a field none of WeChat's right after device_info", transform.Params{{Name: "device_info", Value: "POS"}, {Name: "e", Value: "1"}}, nil, true, false},
		{"promotion_detail: pairs inside one JSON object", transform.Params{{Name: "promotion_detail", Value: `{"n":"A&B=1"}`}}, nil, false, false},
		{"promotion_detail: pairs inside one JSON array", transform.Params{{Name: "promotion_detail", Value: `[{"n":"A&B=1"}]`}}, nil, false, false},
		{"promotion_detail holding one of WeChat's names", transform.Params{{Name: "promotion_detail", Value: `{"n":"A&total_fee=1"}`}}, nil, true, true},
		{"promotion_detail that is no JSON object or array", transform.Params{{Name: "promotion_detail", Value: `"A&B=1"`}}, nil, true, true},
		{"promotion_detail that is no JSON", transform.Params{{Name: "promotion_detail", Value: "A"}}, nil, true, true},
	}
	w, c := newWebhook(t, testConfig("")), newClient(t, testConfig(SignMD5))
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			for _, base := range []struct {
				kind documentKind
				p    transform.Params
				want bool
			}{{notificationKind, notificationParams(), tt.notification}, {answerKind, paidUSDAnswer(), tt.answer}} {
				p := slices.DeleteFunc(base.p, func(kv transform.Param) bool { return slices.Contains(tt.drop, kv.Name) })
				for _, kv := range tt.fields {
					p = set(p, kv.Name, kv.Value)
				}
				if got := readsTwoWays(p, base.kind); got != base.want {
					t.Fatalf("kind %d: readsTwoWays = %v, want %v: %v", base.kind, got, base.want, p)
				}
				body := signedXML(p, vecAPIKey, SignMD5)
				_, err := w.Verify(transform.Notification{Body: body})
				if base.kind == notificationKind {
					if base.want != errors.Is(err, ErrShiftedField) || !base.want && err != nil {
						t.Fatalf("the webhook: %v, refused as reading two ways: %v", err, base.want)
					}
					continue
				}
				if want := map[bool]error{true: ErrShiftedField, false: ErrNotNotice}[base.want]; !errors.Is(err, want) {
					t.Fatalf("the webhook on an answer: %v, want %v", err, want)
				}
				if _, err := c.ReadAnswer(http.StatusOK, body); base.want {
					wantError(t, err, 502, transform.CodeSignatureInvalid)
				} else if err != nil {
					t.Fatalf("ReadAnswer: %v", err)
				}
			}
		})
	}
}
