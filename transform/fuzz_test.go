package transform

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Seeds: the documents WeChat Pay v2 really sends (docs/providers/wechat_v2.md), and the
// edge cases ParseFlatXML has rules for.
var flatXMLSeeds = []string{
	wechatAnswer,
	appendFlatXMLString("xml", Params{{"return_code", "FAIL"}, {"return_msg", "签名错误"}}),
	`<xml><appid><![CDATA[wx2421b1c4370ec43b]]></appid><attach><![CDATA[支付测试]]></attach><bank_type><![CDATA[CFT]]></bank_type><fee_type><![CDATA[CNY]]></fee_type><is_subscribe><![CDATA[Y]]></is_subscribe><mch_id><![CDATA[10000100]]></mch_id><nonce_str><![CDATA[5d2b6c2a8db53831f7eda20af46e531c]]></nonce_str><openid><![CDATA[oUpF8uMEb4qRXf22hE3X68TekukE]]></openid><out_trade_no><![CDATA[1409811653]]></out_trade_no><result_code><![CDATA[SUCCESS]]></result_code><return_code><![CDATA[SUCCESS]]></return_code><sign><![CDATA[B552ED6B279343CB493C5DD0D78AB241]]></sign><time_end><![CDATA[20140903131540]]></time_end><total_fee>1</total_fee><coupon_fee><![CDATA[10]]></coupon_fee><coupon_count><![CDATA[1]]></coupon_count><coupon_type><![CDATA[CASH]]></coupon_type><coupon_id><![CDATA[10000]]></coupon_id><trade_type><![CDATA[JSAPI]]></trade_type><transaction_id><![CDATA[1004400740201409030005092168]]></transaction_id></xml>`,
	`<?xml version="1.0" encoding="UTF-8"?>` + "\r\n<xml>\r\n <a>x&amp;y&#20013;&#x4e2d;</a>\r\n <b/>\r\n <!-- c -->\r\n <c>1<![CDATA[2]]>3</c>\r\n</xml>\r\n",
	`<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_status><![CDATA[SUCCESS]]></refund_status></root>`,
	`<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a><b>p&#13;q</b><c>r` + "\r\n" + `s</c></xml>`,
	`<!DOCTYPE xml [<!ENTITY e "x">]><xml><a>&e;</a></xml>`,
	`<xml><a><b>1</b></a></xml>`,
	`<xml><a x="1">1</a></xml>`,
	`<xml/><a>1</a></>`,
	`<xml><!-- a -- b --><a>1</a></xml>`,
	"<xml><a>\x01</a></xml>",
	`<?xml version="1.1"?><xml></xml>`,
	"<xml \n><a\t>1</a ><b /></xml\r\n>",
	"\uFEFF<?xml version=\"1.0\" encoding=\"utf-8\"?><xml><a>1</a></xml>",
}

// appendFlatXMLString is AppendFlatXML for seeds.
func appendFlatXMLString(root string, p Params) string { return string(AppendFlatXML(nil, root, p)) }

// FuzzParseFlatXML: ParseFlatXML never panics, and whatever it accepts an
// independent XML parser (etree over encoding/xml) reads the same way: same
// root, same children in order, same text. An accepted document also
// survives AppendFlatXML → ParseFlatXML unchanged.
func FuzzParseFlatXML(f *testing.F) {
	for _, s := range flatXMLSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		root, p, err := ParseFlatXML(body)
		if err != nil {
			if root != "" || p != nil {
				t.Fatalf("a refused document returned %q %q", root, p)
			}
			return
		}
		if root == "" {
			t.Fatal("accepted with an empty root name")
		}
		for _, kv := range p {
			if kv.Name == "" || !isXMLString(kv.Value) {
				t.Fatalf("accepted parameter %q", kv)
			}
		}
		if len(body) > maxBody { // bodies are limited to 64 KiB; etree is slow on huge ones
			return
		}
		if msg := etreeAgrees(string(body), root, p); msg != "" {
			t.Fatal(msg)
		}
		root2, p2, err := ParseFlatXML(AppendFlatXML(nil, root, p))
		if err != nil || root2 != root || !slices.Equal(p, p2) {
			t.Fatalf("re-encoded document reads back as %q %q %v, want %q %q", root2, p2, err, root, p)
		}
	})
}

// Seeds for ParseNestedXML: 2C2P's nested documents and the edge cases of
// nesting, besides every flat seed.
var nestedXMLSeeds = []string{
	twoc2pAnswer,
	`<PaymentRequest><a>1</a><miniProgramData><wechat><appID>wx1</appID><openID>o</openID></wechat></miniProgramData><b/></PaymentRequest>`,
	"<r>\r\n <a>\n\t<!-- x --><b>1</b>\n <c><![CDATA[<2>]]></c>\n</a>\n</r>",
	`<r><a><b><c><d><e>x</e></d></c></b></a></r>`,
	`<r><a></a><b><c/></b><b><c>&amp;&#13;</c></b></r>`,
	`<r><a>x<b>1</b></a></r>`,
	`<r><a><b>1</b> x</a></r>`,
	`<r><a><b>1</b><![CDATA[ ]]></a></r>`,
	`<r><a><b>1</b></r></a>`,
	`<r><a x="1"><b>1</b></a></r>`,
}

// FuzzParseNestedXML: ParseNestedXML never panics; whatever it accepts at
// a depth etree reads the same way: same root, same leaves (paths and
// text) in order, nothing beside child elements but whitespace and
// comments, no leaf deeper than the depth. A document ParseFlatXML reads
// reads the same at any depth, and one ParseNestedXML refuses, ParseFlatXML
// refuses too.
func FuzzParseNestedXML(f *testing.F) {
	for _, s := range flatXMLSeeds {
		f.Add([]byte(s), uint8(1))
	}
	for i, s := range nestedXMLSeeds {
		f.Add([]byte(s), uint8(i%6))
	}
	f.Fuzz(func(t *testing.T, body []byte, depth uint8) {
		maxDepth := int(depth % 8)
		root, p, err := ParseNestedXML(body, maxDepth)
		froot, fp, ferr := ParseFlatXML(body)
		if err != nil {
			if root != "" || p != nil {
				t.Fatalf("a refused document returned %q %q", root, p)
			}
			if ferr == nil && maxDepth >= 1 {
				t.Fatalf("refused at depth %d a flat document ParseFlatXML reads", maxDepth)
			}
			return
		}
		if ferr == nil && (root != froot || !slices.Equal(p, fp)) {
			t.Fatalf("depth %d reads %q %q, ParseFlatXML %q %q", maxDepth, root, p, froot, fp)
		}
		if root == "" {
			t.Fatal("accepted with an empty root name")
		}
		for _, kv := range p {
			if kv.Name == "" || strings.Count(kv.Name, "/") >= max(maxDepth, 1) || !isXMLString(kv.Value) {
				t.Fatalf("accepted parameter %q at depth %d", kv, maxDepth)
			}
		}
		if len(body) > maxBody {
			return
		}
		if msg := etreeAgreesNested(string(body), root, p, maxDepth); msg != "" {
			t.Fatal(msg)
		}
	})
}

// maxBody is the handlers' body limit (README "Merchant API", "Webhooks").
const maxBody = 64 << 10

var fuzzNames = []string{"appid", "mch_id", "nonce_str", "sign", "body", "attach", "total_fee", "a", "x-y.z", "_1"}

// FuzzAppendParseRoundTrip: for any values made of XML characters,
// AppendFlatXML then ParseFlatXML gives back the same parameters, and etree
// reads the written document the same way.
func FuzzAppendParseRoundTrip(f *testing.F) {
	f.Add(uint8(0), uint8(1), uint8(2), "wx2421b1c4370ec43b", "10000100", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
	f.Add(uint8(4), uint8(5), uint8(4), "腾讯充值中心-QQ会员充值", "a]]>b", "]]>]]]>>")
	f.Add(uint8(5), uint8(6), uint8(7), "<a>&amp;</a>", "\r\n\r", "")
	f.Add(uint8(8), uint8(9), uint8(3), " \t\n ", "&#13;<![CDATA[", "😀\uFFFD")
	f.Fuzz(func(t *testing.T, n1, n2, n3 uint8, v1, v2, v3 string) {
		if len(v1)+len(v2)+len(v3) > maxBody {
			t.Skip("longer than a body")
		}
		for _, v := range []string{v1, v2, v3} {
			if !isXMLString(v) {
				t.Skip("not made of XML characters")
			}
		}
		p := Params{
			{fuzzNames[int(n1)%len(fuzzNames)], v1},
			{fuzzNames[int(n2)%len(fuzzNames)], v2},
			{fuzzNames[int(n3)%len(fuzzNames)], v3},
		}
		doc := AppendFlatXML(nil, "xml", p)
		root, back, err := ParseFlatXML(doc)
		if err != nil || root != "xml" || !slices.Equal(back, p) {
			t.Fatalf("%q reads back as %q %q %v, want %q", doc, root, back, err, p)
		}
		if msg := etreeAgrees(string(doc), "xml", p); msg != "" {
			t.Fatal(msg)
		}
	})
}

// isXMLString is XML 1.0's Char production (§2.2), written out here apart
// from the parser's own check.
func isXMLString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case 0x20 <= r && r <= 0xD7FF:
		case 0xE000 <= r && r <= 0xFFFD:
		case 0x10000 <= r && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}
