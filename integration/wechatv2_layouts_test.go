package integration

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// v2Layout is a WeChat Pay v2 document as one writer lays it out: the same
// fields, so the same signature, in other bytes, sent with its
// Content-Type ("" sends none), gzip-compressed with Content-Encoding gzip
// when gzip is set.
type v2Layout struct {
	name        string
	write       func(map[string]string) []byte
	contentType string
	gzip        bool
}

// v2Layouts are the layouts of WeChat's pages and of the SDKs merchants and
// test servers write with (docs/providers/wechat_v2.md Sources).
var v2Layouts = []v2Layout{
	{"WeChat's pages: one element a line, indented, numbers as text, the rest CDATA", func(f map[string]string) []byte {
		return v2Elements(f, "<xml>\n", "   ", "\n", "</xml>", phpValue)
	}, "text/plain", false},
	{"WXPay Java SDK (mapToXml): a standalone declaration, one element a line, text escaped", func(f map[string]string) []byte {
		return v2Elements(f, `<?xml version="1.0" encoding="UTF-8" standalone="no"?>`+"\n<xml>\n", "", "\n", "</xml>\n", escapedValue)
	}, "application/xml; charset=UTF-8", false},
	{"PHP SDK (ToXml): numbers as text, the rest CDATA, nothing between", func(f map[string]string) []byte {
		return v2Elements(f, "<xml>", "", "", "</xml>", phpValue)
	}, "", false},
	{"Python's ElementTree: a us-ascii declaration, character references", v2ElementTree, "text/xml", false},
	{"gzip-compressed, CR LF and tabs, every value CDATA", func(f map[string]string) []byte {
		return v2Elements(f, "<xml>\r\n", "\t", "\r\n", "</xml>\r\n", cdata)
	}, "text/xml; charset=utf-8", true},
}

// v2Elements writes fields in name order, each element between indent and
// sep, its value as value writes it.
func v2Elements(fields map[string]string, head, indent, sep, tail string, value func(string) string) []byte {
	var b strings.Builder
	b.WriteString(head)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		b.WriteString(indent + "<" + k + ">" + value(fields[k]) + "</" + k + ">" + sep)
	}
	b.WriteString(tail)
	return []byte(b.String())
}

// phpValue writes a value as WeChat's PHP SDK does: a number as text, the
// rest in CDATA.
func phpValue(v string) string {
	if _, err := strconv.ParseFloat(v, 64); err == nil && strings.Trim(v, "0123456789.") == "" {
		return v
	}
	return cdata(v)
}

// cdata writes v in CDATA, a "]]>" in it split across two sections.
func cdata(v string) string {
	return "<![CDATA[" + strings.ReplaceAll(v, "]]>", "]]]]><![CDATA[>") + "]]>"
}

// escapedValue writes v as escaped text, as DOM serializers do.
func escapedValue(v string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(v)) // a strings.Builder takes every write
	return b.String()
}

// v2ElementTree writes fields as Python's ElementTree does with
// ET.tostring(root, xml_declaration=True): a declaration of its default
// encoding, us-ascii, then the text escaped, every character past ASCII a
// decimal character reference.
func v2ElementTree(fields map[string]string) []byte {
	return v2Elements(fields, "<?xml version='1.0' encoding='us-ascii'?>\n<xml>", "", "", "</xml>", func(v string) string {
		var b strings.Builder
		for _, r := range escapedValue(v) {
			if r > 0x7f {
				b.WriteString("&#" + strconv.Itoa(int(r)) + ";")
			} else {
				b.WriteRune(r)
			}
		}
		return b.String()
	})
}

// TestWechatV2AnswerLayouts: the independent WeChat's answers
// (independentWeChatV2), rewritten in each of v2Layouts with the same
// signature, read the same through a real Caddy for every operation, a
// business refusal and a communication failure, in MD5 and HMAC-SHA256.
func TestWechatV2AnswerLayouts(t *testing.T) {
	inner := independentWeChatV2(t)
	var layout atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := http.Post(inner.URL+r.URL.Path, "text/xml", r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		fields, err := v2RequestFields(answer)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		l := v2Layouts[layout.Load()]
		body := l.write(fields)
		if l.gzip {
			var z bytes.Buffer
			gz := gzip.NewWriter(&z)
			_, _ = gz.Write(body)
			_ = gz.Close()
			body = z.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		if l.contentType != "" {
			w.Header().Set("Content-Type", l.contentType)
		} else {
			w.Header()["Content-Type"] = nil // no sniffing either
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(fake.Close)
	port := itoa(freePort(t))
	tc := startCaddy(t, globalOptions(t.TempDir()+"/caddy.log")+`
:`+port+` {`+v2MerchantRoutes(strings.TrimPrefix(fake.URL, "http://"))+`
}
`)
	paid := `"provider_order_id":"1008450740201411110005820873","amount":"10.01","currency":"CNY","paid_at":"2014-11-11T17:00:43+08:00"`
	cases := []struct{ op, body, want string }{
		{"pay", `{"order_id":"P-1","amount":"10.01","currency":"CNY","description":"拿铁","openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}`,
			`"package":"prepay_id=wx201411101639507cbf6ffd8b0779950874"`},
		{"query", `{"order_id":"QSUCCESS-1"}`, `{"provider":"wechat_v2","order_id":"QSUCCESS-1","status":"succeeded",` + paid + `,"provider_status":"SUCCESS"}`},
		{"query", `{"order_id":"QNOTPAY-1"}`, `{"provider":"wechat_v2","order_id":"QNOTPAY-1","status":"pending","provider_order_id":"","amount":"","currency":"","provider_status":"NOTPAY"}`},
		{"close", `{"order_id":"C-1"}`, `{"provider":"wechat_v2","order_id":"C-1","status":"cancelled"}`},
		{"refund", `{"order_id":"O1","refund_id":"O1-R1","amount":"1.00","currency":"CNY","total_amount":"10.01"}`,
			`{"provider":"wechat_v2","order_id":"O1","refund_id":"O1-R1","provider_refund_id":"2008450740201411110000174436","status":"pending","amount":"1.00","currency":"CNY"}`},
		{"refund_query", `{"refund_id":"O1-R0","order_id":"O1"}`,
			`{"provider":"wechat_v2","order_id":"O1","refund_id":"O1-R0","provider_refund_id":"2000","status":"succeeded","amount":"1.00","currency":"CNY","provider_status":"SUCCESS"}`},
		{"pay", `{"order_id":"E_ORDERPAID-1","amount":"10.01","currency":"CNY","description":"拿铁","openid":"o"}`,
			`{"error":{"code":"provider_rejected","message":"the provider rejected the request","provider_code":"ORDERPAID","provider_message":"说明 ORDERPAID <&> ]]>"}}`},
		{"query", `{"order_id":"F0-1"}`, `"code":"upstream_error"`},
	}
	for i, l := range v2Layouts {
		layout.Store(int32(i))
		for _, mode := range []string{"/md5", "/hmac"} {
			for _, c := range cases {
				r := postJSON(t, tc, "http://localhost:"+port+mode+"/"+c.op, c.body)
				if !strings.HasPrefix(c.want, "{") {
					if !strings.Contains(string(r.body), c.want) {
						t.Errorf("%s %s %s: %d %s, want %s", l.name, mode, c.body, r.status, r.body, c.want)
					}
					continue
				}
				var got, want any
				if json.Unmarshal(r.body, &got) != nil || json.Unmarshal([]byte(c.want), &want) != nil || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s %s %s: %d %s\nwant %s", l.name, mode, c.body, r.status, r.body, c.want)
				}
			}
		}
	}
}
