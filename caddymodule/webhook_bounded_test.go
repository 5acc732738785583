package caddymodule

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestWebhookHostileBodiesBounded: for every provider, bodies at the 64 KiB
// bound built to cost the most before a signature is checked (thousands of
// elements, fields, parts, header lines, nulls under a long name; floods
// of CDATA, comments, entities, line ends, escapes; long numbers; gzip
// bombs; a Content-Encoding list as long as Caddy's header allows) are
// refused at a cost in memory of a few times their size. Before the
// bounds of FlattenJSON, ContentCodings, ParseForm, ParseFlatXMLBounded and
// the multipart part headers, the Latipay JSON ones cost 230 to 390 MB and
// thirteen others 0.6 to 2 MB each.
func TestWebhookHostileBodiesBounded(t *testing.T) {
	const size = transform.MaxNotification
	fill := func(prefix, unit, suffix string) []byte {
		return []byte(prefix + strings.Repeat(unit, (size-len(prefix)-len(suffix))/len(unit)) + suffix)
	}
	numbered := func(prefix string, unit func(i int) string, suffix string) []byte {
		var b strings.Builder
		b.WriteString(prefix)
		for i := 0; b.Len()+len(suffix)+32 < size; i++ {
			b.WriteString(unit(i))
		}
		return []byte(b.String() + suffix)
	}
	long := strings.Repeat("n", 30000)
	codings := http.Header{"Content-Encoding": {strings.Repeat("a,", 9000)}} // about Caddy's 16 KiB header bound
	ids := "<appid>wx8888888888888888</appid><mch_id>1900000109</mch_id>"
	v3Header := http.Header{"Wechatpay-Serial": {"PUB_KEY_ID_0119000001092026112900000000000001"}, "Wechatpay-Timestamp": {fuzzAt},
		"Wechatpay-Nonce": {"n"}, "Wechatpay-Signature": {strings.Repeat("A", 344)}}
	multipart := http.Header{"Content-Type": {"multipart/form-data; boundary=b"}}
	bodies := map[string][]struct {
		name   string
		header http.Header
		body   []byte
	}{
		"wechat_v2": {
			{"elements", nil, transformtest.FlatElements("xml", ids, "<sign>00</sign>", size)},
			{"CDATA sections", nil, fill("<xml>"+ids+"<a>", "<![CDATA[x]]>", "</a><sign>00</sign></xml>")},
			{"comments", nil, fill("<xml>"+ids+"<a>", "<!---->", "</a><sign>00</sign></xml>")},
			{"character references", nil, fill("<xml>"+ids+"<a>", "&#x10FFFF;", "</a><sign>00</sign></xml>")},
			{"line ends", nil, fill("<xml>"+ids+"<a>", "\r", "</a><sign>00</sign></xml>")},
			{"req_info", nil, []byte("<xml><return_code>SUCCESS</return_code>" + ids + "<req_info>" +
				base64.StdEncoding.EncodeToString(make([]byte, size*3/4-256)) + "</req_info></xml>")},
			{"gzip bomb", http.Header{"Content-Encoding": {"gzip"}}, transformtest.Gzip(make([]byte, 16<<20))},
			{"Content-Encoding", codings, []byte("<xml/>")},
		},
		"latipay": {
			{"fields", nil, numbered("", func(i int) string { return "&f" + strconv.Itoa(i) + "=" }, "")},
			{"nulls under a long name", nil, fill(`{"`+long+`":[`, "null,", "null]}")},
			{"empty arrays under a long name", nil, fill(`{"`+long+`":[`, "[],", "[]]}")},
			{"nulls", nil, fill(`{"a":[`, "null,", "null]}")},
			{"members", nil, numbered("{", func(i int) string { return `"` + strconv.Itoa(i) + `":null,` }, `"z":null}`)},
			{"escapes", nil, fill(`{"amount":"`, `\u00e9`, `"}`)},
			{"a long number", nil, fill(`{"amount":1`, "0", "}")},
			{"Content-Encoding", codings, []byte("a=1")},
		},
		"2c2p": {
			{"fields", nil, numbered("paymentResponse=x", func(i int) string { return "&f" + strconv.Itoa(i) + "=" }, "")},
			{"parts", multipart, fill("", "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n", "--b--\r\n")},
			{"part header lines", multipart, fill("--b\r\nContent-Disposition: form-data; name=\"paymentResponse\"\r\n", "X-A: b\r\n", "\r\nv\r\n--b--\r\n")},
			// "--bx: b" is a header line to mime/multipart, no delimiter.
			{"part header lines named as the boundary", multipart, fill("--b\r\nContent-Disposition: form-data; name=\"paymentResponse\"\r\n", "X-A: b\r\n--bx: b\r\n", "\r\nv\r\n--b--\r\n")},
			{"envelope elements", nil, []byte(base64.StdEncoding.EncodeToString(transformtest.FlatElements("PaymentResponse", "", "", size*3/4)))},
			{"URL-encoded envelope", nil, fill("", "%41", "")},
			{"Content-Encoding", codings, []byte("QUFB")},
		},
		"cbtis": {
			{"members", http.Header{"Signature": {strings.Repeat("0", 64)}}, numbered(`{"data":{`, func(i int) string { return `"` + strconv.Itoa(i) + `":null,` }, `"z":null}}`)},
			{"Content-Encoding", codings, []byte("{}")},
		},
		"wechat_v3": {
			{"members", v3Header, numbered(`{"resource":{`, func(i int) string { return `"` + strconv.Itoa(i) + `":null,` }, `"z":null}}`)},
			{"Content-Encoding", codings, []byte("{}")},
		},
	}
	providers := fuzzProviders(t)
	webhooks := fuzzWebhooks(t, providers)
	for i, p := range providers {
		for _, tt := range bodies[p.name] {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				if len(tt.body) > size {
					t.Fatalf("the body is %d bytes", len(tt.body))
				}
				n := transform.Notification{Header: tt.header, Body: tt.body}
				if n.Header == nil {
					n.Header = http.Header{}
				}
				var ev *transform.Event
				var err error
				alloc := transformtest.Allocated(func() { ev, err = webhooks[i].Explain(n, nil) })
				if ev != nil || err == nil {
					t.Fatalf("accepted: %+v", ev)
				}
				if alloc > 8*size {
					t.Fatalf("%d bytes allocated for a body of %d (%v)", alloc, len(tt.body), err)
				}
			})
		}
	}
	for _, p := range providers {
		if len(bodies[p.name]) == 0 {
			t.Errorf("no hostile body for %s", p.name)
		}
	}
}
