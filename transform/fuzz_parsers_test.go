package transform

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// dispatchOps are the merchant operations in the order FuzzDispatch's op
// byte picks them (an index past the list is an unknown operation).
var dispatchOps = []string{OpPay, OpQuery, OpClose, OpRefund, OpRefundQuery, OpLogin}

// FuzzDispatch: any merchant body for any operation is a 400 (or a 404 for
// an unknown operation) *Error with a documented code, or reaches its
// builder validated; what is accepted, encoding/json (unknown fields
// disallowed) reads the same way, and the builder never sees a request
// Validate refuses.
func FuzzDispatch(f *testing.F) {
	for i, s := range []string{
		// README "Merchant API" examples.
		`{"order_id":"O1","amount":"12.34","currency":"CNY","description":"Latte","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`,
		`{"order_id":"O1"}`,
		`{"order_id":"O1"}`,
		`{"order_id":"O1","refund_id":"R1","amount":"1.00","currency":"CNY","total_amount":"12.34","reason":"broken"}`,
		`{"refund_id":"R1","order_id":"O1"}`,
		`{"code":"0a3Bc"}`,
		`{"order_id":"O1","amount":"1","currency":"JPY","description":"x","openid":"o","expire_at":"2026-11-29T10:00:00+08:00","client_ip":"::1","country":"CN"}`,
		`{"order_id":"O1","ORDER_ID":"O2"}`,
		`{"order_id":"O1","order_id":"O2"}`,
		`{"order_id":null}`,
		`{"order_id":1}`,
		`{"order_id":"\u004f1\ud83d\ude00"}`,
		`{"order_id":"O1"} {}`,
		`[]`, ``, ` `, `{"refund_id":"R1","amount":"2.00","total_amount":"1.00","currency":"CNY","order_id":"O"}`,
		// A refused body still names its order as encoding/json reads it
		// (orderNamedByEncodingJSON).
		`{"tip":[1,{"a":[true,false,null,-0.5e+3]}],"order_id":"O1"}`, `{"order\u005fid":"O\u0031","amount":7}`,
		`{"order_id":"O1","amount":"1"`, `{"order_id":"O1"]`, `{"order_id":"O1"} x`, "{\"\xff\":1,\"order_id\":\"O1\"}",
		`{"order_id":null,"tip":1}`, `{"order_id":"O1","tip":01}`, `{"tip":"\ud800","order_id":"O1","order_id":"O1"}`,
	} {
		f.Add(uint8(i%7), []byte(s))
	}
	var got any // what the builder received
	ops := Operations{Provider: "test",
		Pay:         func(r *PayRequest) (*Call, error) { got = r; return &Call{}, nil },
		Query:       func(r *OrderRequest) (*Call, error) { got = r; return &Call{}, nil },
		Close:       func(r *OrderRequest) (*Call, error) { got = r; return &Call{}, nil },
		Refund:      func(r *RefundRequest) (*Call, error) { got = r; return &Call{}, nil },
		RefundQuery: func(r *RefundQueryRequest) (*Call, error) { got = r; return &Call{}, nil },
		Login:       func(r *LoginRequest) (*Call, error) { got = r; return &Call{}, nil },
	}
	f.Fuzz(func(t *testing.T, opIndex uint8, body []byte) {
		op := "nothing"
		if int(opIndex) < len(dispatchOps) {
			op = dispatchOps[opIndex]
		}
		got = nil
		scratch := append([]byte(nil), body...)
		call, err := ops.Prepare(context.Background(), op, scratch)
		// minipay reads the body into a buffer the next request reuses
		// (transform.Client.Prepare): nothing decoded, and no error's
		// field or message or named order, may still point into it.
		decoded := fmt.Sprintf("%#v %#v %#v", got, err, call)
		for i := range scratch {
			scratch[i] = 'X'
		}
		if after := fmt.Sprintf("%#v %#v %#v", got, err, call); after != decoded {
			t.Fatalf("%s: overwriting the body changed what was decoded:\n%s\n%s", op, decoded, after)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || got != nil {
				t.Fatalf("%s: error %v (%T), call %v, builder reached: %v", op, err, err, call, got != nil)
			}
			// A refused request's call only names its order for the log
			// line, as encoding/json reads the body; a login names none.
			want := ""
			if op != OpLogin && op != "nothing" {
				want = orderNamedByEncodingJSON(body)
			}
			switch {
			case want == "" && call != nil, want != "" && (call == nil || !reflect.DeepEqual(*call, Call{OrderID: want})):
				t.Fatalf("%s: refused %q with call %+v, want one naming only %q", op, body, call, want)
			}
			switch {
			case op == "nothing" && e.Status == 404 && e.Code == CodeUnknownOperation:
			case op != "nothing" && e.Status == 400 && e.Code == CodeInvalidRequest:
			default:
				t.Fatalf("%s: error %d %s", op, e.Status, e.Code)
			}
			if !json.Valid(e.JSON()) {
				t.Fatalf("error body %q is not JSON", e.JSON())
			}
			return
		}
		if op == "nothing" || got == nil {
			t.Fatalf("%s accepted without reaching a builder", op)
		}
		std := map[string]any{OpPay: new(PayRequest), OpQuery: new(OrderRequest), OpClose: new(OrderRequest),
			OpRefund: new(RefundRequest), OpRefundQuery: new(RefundQueryRequest), OpLogin: new(LoginRequest)}[op]
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(std); err != nil {
			t.Fatalf("%s accepted what encoding/json refuses (%v): %q", op, err, body)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("%s accepted trailing data: %q", op, body)
		}
		// json:"-" members (Money, Expire, Total) are Validate's, not the body's.
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(std)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s read %q as %s, encoding/json as %s", op, body, a, b)
		}
		if err := got.(interface{ Validate() error }).Validate(); err != nil {
			t.Fatalf("%s: the builder got a request Validate refuses: %v", op, err)
		}
		if p, ok := got.(*PayRequest); ok && (p.Money.Minor <= 0 || p.Money.Minor > maxMinor) {
			t.Fatalf("pay money %+v", p.Money)
		}
	})
}

// orderNamedByEncodingJSON is the order a refused merchant body names, read
// by encoding/json's Decoder member by member (what minipay read a second
// time before Prepare named it): the "order_id" member, that exact key once,
// when it is a string keeping the order id rule; "" otherwise.
func orderNamedByEncodingJSON(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	id, named := "", false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return ""
		}
		if key == "order_id" {
			if named || json.Unmarshal(value, &id) != nil {
				return ""
			}
			named = true
		}
	}
	if !named || ValidOrderID("order_id", id) != nil {
		return ""
	}
	return id
}

// flattenRef is FlattenJSON's rule written over encoding/json's generic
// value: dotted names, array indexes, numbers as written, null left out.
func flattenRef(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flattenRef(prefix+k+".", e, out)
		}
		return
	case []any:
		for i, e := range x {
			flattenRef(prefix+strconv.Itoa(i)+".", e, out)
		}
		return
	case nil:
		return
	case string:
		out[strings.TrimSuffix(prefix, ".")] = x
	case json.Number:
		out[strings.TrimSuffix(prefix, ".")] = x.String()
	case bool:
		out[strings.TrimSuffix(prefix, ".")] = strconv.FormatBool(x)
	}
}

// jsonDepth is how many objects and arrays nest in v.
func jsonDepth(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, jsonDepth(e))
		}
	case []any:
		for _, e := range x {
			d = max(d, jsonDepth(e))
		}
	default:
		return 0
	}
	return d + 1
}

// FuzzFlattenJSON: FlattenJSON never panics, stays within its bounds, and
// whatever it accepts encoding/json reads as one object with the same
// leaves (FlattenJSON being stricter: repeated names, too deep, too many).
func FuzzFlattenJSON(f *testing.F) {
	for _, s := range []string{
		// wechat_v3's decrypted transaction (docs/providers/wechat_v3.md).
		`{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000202611291234567890","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"","success_time":"2026-11-29T10:00:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`,
		// CBTIS's refund notification (docs/providers/cbtis.md).
		`{"notify_type":"refund_success","data":{"uid":39172931,"refund_id":"C34368224017070000","merchant_refund_id":"P2164521756312637123","order_amount":"105.00"}}`,
		`{"a":[1,null,{"b":true}],"c":-0.5e+3,"d":null}`,
		`{"a":{"b":1},"a.b":2}`, `{"a":1,"a":2}`, `{"a":[[[[[1]]]]]}`, `{} x`, `{"a":1}{}`, `[]`, `"x"`, `{"\u0061":"\ud800"}`,
	} {
		f.Add([]byte(s), uint8(4), uint8(64))
	}
	f.Fuzz(func(t *testing.T, doc []byte, depth, members uint8) {
		maxDepth, maxMembers := int(depth%8)+1, int(members)
		out, err := FlattenJSON(doc, maxDepth, maxMembers)
		if err != nil {
			if err != ErrNestedJSON || out != nil {
				t.Fatalf("error %v with %v", err, out)
			}
			return
		}
		if len(out) > maxMembers {
			t.Fatalf("%d members, at most %d", len(out), maxMembers)
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("accepted what encoding/json refuses (%v): %q", err, doc)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("accepted trailing data: %q", doc)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("accepted a %T: %q", v, doc)
		}
		want := map[string]string{}
		flattenRef("", obj, want)
		if len(want) != len(out) {
			t.Fatalf("%q: %v, encoding/json %v", doc, out, want)
		}
		for k, w := range want {
			if out[k] != w {
				t.Fatalf("%q: [%s] = %q, encoding/json %q", doc, k, out[k], w)
			}
		}
		if d := jsonDepth(obj); d > maxDepth {
			t.Fatalf("%q is %d deep, at most %d", doc, d, maxDepth)
		}
	})
}

// FuzzJSONScalar: for any one valid JSON value, JSONScalar is
// encoding/json's string, a number's exact text, "" for null, and refuses
// objects, arrays and booleans.
func FuzzJSONScalar(f *testing.F) {
	for _, s := range []string{`"120.00"`, `120.00`, `-1e3`, `null`, `true`, `{}`, `[1]`, `"\u4e2d\"\\"`, "\"\xff\"", `"\ud800"`, `""`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		raw = bytes.TrimSpace(raw) // a decoder hands a value over without its spaces
		if !json.Valid(raw) {
			return // outside JSONScalar's contract
		}
		got, ok := JSONScalar(raw)
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		var want string
		wantOK := true
		switch x := v.(type) {
		case string:
			want = x
		case json.Number:
			want = string(raw)
		case nil:
		default:
			wantOK = false
		}
		if ok != wantOK || got != want {
			t.Fatalf("JSONScalar(%q) = %q %v, want %q %v", raw, got, ok, want, wantOK)
		}
		var jt JSONText
		if err := json.Unmarshal(raw, &jt); (err == nil) != wantOK || string(jt) != want {
			t.Fatalf("JSONText of %q = %q %v", raw, jt, err)
		}
	})
}

// gzipBytes compresses b (seeds, round trips).
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// FuzzGunzip: Gunzip never returns more than max bytes, agrees with
// compress/gzip on what it returns, and gives back any document it was
// handed compressed (the round trip).
func FuzzGunzip(f *testing.F) {
	f.Add(gzipBytes([]byte(wechatAnswer)), uint16(1024), []byte(twoc2pAnswer))
	f.Add(gzipBytes(bytes.Repeat([]byte("a"), 5000)), uint16(100), []byte{})
	f.Add(append(gzipBytes([]byte("a")), gzipBytes([]byte("b"))...), uint16(10), []byte("c"))
	f.Add([]byte{0x1f, 0x8b}, uint16(0), []byte("x"))
	f.Fuzz(func(t *testing.T, body []byte, max uint16, plain []byte) {
		out, err := Gunzip(body, int(max))
		if err == nil {
			if len(out) > int(max) {
				t.Fatalf("%d bytes past the bound %d", len(out), max)
			}
			// compress/gzip's reading, bounded too (a few bytes may inflate
			// to gigabytes): exactly out, then the end.
			zr, zerr := gzip.NewReader(bytes.NewReader(body))
			if zerr != nil {
				t.Fatal(zerr)
			}
			want, zerr := io.ReadAll(io.LimitReader(zr, int64(len(out))+1))
			if zerr != nil || !bytes.Equal(out, want) {
				t.Fatalf("Gunzip %q, compress/gzip %q %v", out, want, zerr)
			}
		} else if err == ErrInflateTooLarge {
			zr, _ := gzip.NewReader(bytes.NewReader(body))
			if n, _ := io.Copy(io.Discard, io.LimitReader(zr, int64(max)+1)); n <= int64(max) {
				t.Fatalf("too large at %d bytes, bound %d", n, max)
			}
		}
		back, err := Gunzip(gzipBytes(plain), int(max))
		switch {
		case len(plain) > int(max):
			if err != ErrInflateTooLarge {
				t.Fatalf("%d bytes past %d: %v", len(plain), max, err)
			}
		case err != nil || !bytes.Equal(back, plain):
			t.Fatalf("round trip %q -> %q %v", plain, back, err)
		}
	})
}

// FuzzParseMoney: ParseMoney refuses with a 400 naming one of its two
// fields, and what it accepts is positive, bounded, and prints back to an
// amount that reads the same.
func FuzzParseMoney(f *testing.F) {
	for _, s := range [][2]string{{"12.34", "CNY"}, {"1", "JPY"}, {"0.001", "KWD"}, {"999999999.99", "USD"}, {"1e3", "CNY"},
		{"-1", "CNY"}, {"01", "CNY"}, {"1.", "CNY"}, {".1", "CNY"}, {"1.0", "cny"}, {"0.00", "CNY"}, {"１", "CNY"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, amount, code string) {
		m, err := ParseMoney(amount, code, "amount", "currency")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Code != CodeInvalidRequest || e.Field != "amount" && e.Field != "currency" {
				t.Fatalf("error %#v", err)
			}
			return
		}
		if m.Minor <= 0 || m.Minor > maxMinor || m.Currency != code {
			t.Fatalf("%q %q read as %+v", amount, code, m)
		}
		back, err := ParseMoney(m.String(), code, "amount", "currency")
		if err != nil || back != m {
			t.Fatalf("%+v prints as %q, which reads %+v %v", m, m.String(), back, err)
		}
		if n, err := strconv.ParseFloat(amount, 64); err != nil || n <= 0 {
			t.Fatalf("accepted %q, not a positive number", amount)
		}
	})
}

// TestFlattenJSON pins FlattenJSON's rules on hand-written documents, the
// refusals its fuzz target found included (a name repeated with a nested
// or null value; garbage after the object).
func TestFlattenJSON(t *testing.T) {
	tests := []struct {
		doc  string
		want map[string]string // nil: refused
	}{
		{`{"amount":{"total":100,"currency":"CNY"},"promotion_detail":[{"amount":1}],"x":null,"ok":true}`,
			map[string]string{"amount.total": "100", "amount.currency": "CNY", "promotion_detail.0.amount": "1", "ok": "true"}},
		{` {"a":"1.50"} `, map[string]string{"a": "1.50"}},
		{`{"a":1,"a":2}`, nil},
		{`{"a":{"b":1},"a":2}`, nil},
		{`{"a":{"b":1},"a":{"c":2}}`, nil},
		{`{"a":1,"a":null}`, nil},
		{`{"":{"":0},"":0}`, nil},
		{`{"a":{"b":1},"a.b":2}`, nil},
		{`{"a":1} x`, nil},
		{`{"a":1}{}`, nil},
		{`{"a":[[[1]]]}`, nil}, // four levels, at most three
		{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k0":9}`, nil},
		// not UTF-8: encoding/json would read U+FFFD, which nobody signed
		{"{\"out_trade_no\":\"O\xff1\"}", nil},
		{"{\"a\xff\":1}", nil},
		{`{"a":"\u00e9\u4e2d"}`, map[string]string{"a": "é中"}},
		// an escape of half a surrogate pair: encoding/json reads U+FFFD too
		{`{"a":"O\ud8001"}`, nil},
		{`{"a":"\udc00"}`, nil},
		{`{"a":"\ud800\u0041"}`, nil},
		{`{"a":"\ud800"}`, nil},
		{`{"a\udfff":1}`, nil},
		{`{"a":"\ud83d\ude00 \\ud800"}`, map[string]string{"a": "😀 \\ud800"}},
		// Every value counts against the bound, not only leaves: nulls,
		// empty objects and arrays were read without end.
		{`{"a":[` + strings.Repeat("null,", 16) + `null]}`, nil},
		{`{"a":[` + strings.Repeat("[],", 16) + `[]]}`, nil},
		{`{"a":{` + strings.Repeat(`"b":{},`, 15) + `"c":null}}`, nil},
		{`{"a":[null,{},[]],"b":null}`, map[string]string{}},
		// A flattened name longer than MaxFlatName bytes.
		{`{"` + strings.Repeat("n", MaxFlatName+1) + `":1}`, nil},
		{`{"` + strings.Repeat("n", MaxFlatName-1) + `":{"b":1}}`, nil},
		{`{"` + strings.Repeat("n", MaxFlatName-1) + `":{"b":null}}`, nil},
		{`{"` + strings.Repeat("n", MaxFlatName-2) + `":[1]}`, map[string]string{strings.Repeat("n", MaxFlatName-2) + ".0": "1"}},
	}
	for _, tt := range tests {
		got, err := FlattenJSON([]byte(tt.doc), 3, 16)
		if tt.want == nil {
			if err != ErrNestedJSON || got != nil {
				t.Errorf("%s: %v %v, want refused", tt.doc, got, err)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("%s: %v %v, want %v", tt.doc, got, err, tt.want)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s: [%s] = %q, want %q", tt.doc, k, got[k], v)
			}
		}
	}
}
