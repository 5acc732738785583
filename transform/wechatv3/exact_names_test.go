package wechatv3

import (
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestClientReadsAnswersByExactNames: a signed answer is read by its
// members' exact names, as a strict reader (Python's json, JSON.parse)
// reads it: a name differing only in case is not the field, and a name
// given twice is a malformed answer (502 upstream_error), where
// encoding/json took the variant or the last value.
func TestClientReadsAnswersByExactNames(t *testing.T) {
	const payReq = `{"order_id":"ORDER1","amount":"1","currency":"CNY","description":"d","openid":"o"}`
	const queryReq = `{"order_id":"ORDER1"}`
	const refundReq = `{"order_id":"ORDER1","refund_id":"R1","amount":"0.60","currency":"CNY","total_amount":"1.00"}`
	refund := strings.Replace(docRefund, "%s", "SUCCESS", 1)
	cases := []struct {
		name, op, req string
		status        int
		body          string
		want          string // a part of the answer, or the error's status and code
	}{
		{"pay, prepay_id in another case", "pay", payReq, 200, `{"Prepay_Id":"wx1"}`, "502 upstream_error"},
		{"pay, prepay_id in capitals after it", "pay", payReq, 200, `{"prepay_id":"wx1","PREPAY_ID":"wx2"}`, `"package":"prepay_id=wx1"`},
		{"pay, prepay_id twice", "pay", payReq, 200, `{"prepay_id":"wx1","prepay_id":"wx2"}`, "502 upstream_error"},
		{"query, trade_state in capitals after it", "query", queryReq, 200,
			strings.Replace(docPaidTransaction, `"trade_state":"SUCCESS"`, `"trade_state":"SUCCESS","TRADE_STATE":"CLOSED"`, 1), `"status":"succeeded"`},
		{"query, trade_state twice", "query", queryReq, 200,
			strings.Replace(docPaidTransaction, `"trade_state":"SUCCESS"`, `"trade_state":"SUCCESS","trade_state":"CLOSED"`, 1), "502 upstream_error"},
		{"query, amount.total twice", "query", queryReq, 200, strings.Replace(docPaidTransaction, `"total":100,`, `"total":100,"total":1,`, 1), "502 upstream_error"},
		{"query, amount.total in another case", "query", queryReq, 200, strings.Replace(docPaidTransaction, `"total":100,`, `"Total":100,`, 1), `"amount":"","currency":""`},
		{"query, mchid in another case", "query", queryReq, 200, strings.Replace(docPaidTransaction, `"mchid"`, `"MchID"`, 1), "502 upstream_error"},
		{"refund, status in another case", "refund", refundReq, 200, strings.Replace(refund, `"status"`, `"Status"`, 1), "502 upstream_error"},
		{"refund, status twice", "refund", refundReq, 200, strings.Replace(refund, `"status":"SUCCESS"`, `"status":"SUCCESS","status":"CLOSED"`, 1), "502 upstream_error"},
		{"refund, out_refund_no in another case", "refund", refundReq, 200, strings.Replace(refund, `"out_refund_no"`, `"Out_Refund_No"`, 1), "502 upstream_error"},
		// Error bodies: the code is "code", once.
		{"error, code in capitals after it", "query", queryReq, 400, `{"code":"PARAM_ERROR","CODE":"SIGN_ERROR","message":"m"}`, "422 provider_rejected"},
		{"error, code twice", "query", queryReq, 400, `{"code":"PARAM_ERROR","code":"SIGN_ERROR","message":"m"}`, "502 upstream_error"},
		{"202 with Code is no error form", "pay", payReq, 202, `{"Code":"USERPAYING","message":"m"}`, "502 upstream_error"},
		{"202 with code twice is no error form", "pay", payReq, 202, `{"code":"USERPAYING","code":"USERPAYING"}`, "502 upstream_error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			call := prepare(t, pinnedClient(t, nil), tc.op, tc.req)
			out, err := call.Decode(tc.status, platformAnswer(t, examplePublicKeyID, transformtest.Pinned, tc.body), []byte(tc.body))
			if status, code, isErr := strings.Cut(tc.want, " "); isErr && !strings.HasPrefix(tc.want, `"`) {
				transformtest.WantError(t, err, map[string]int{"422": 422, "502": 502}[status], code)
				return
			}
			if err != nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("answer %s, %v; want %s", out, err, tc.want)
			}
		})
	}
}
