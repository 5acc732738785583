package transform

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// The respCode 32 answer payload of 2C2P (docs/providers/2c2p.md), with its nested
// miniProgramData/wechat element.
const twoc2pAnswer = `<PaymentResponse><timeStamp>221126100000</timeStamp><merchantID>JT01</merchantID><respCode>32</respCode><pan></pan>` +
	`<amt>000000001234</amt><uniqueTransactionCode>ORDER-1</uniqueTransactionCode><tranRef>3200632</tranRef>` +
	`<miniProgramData><wechat>{"timeStamp":"1795346400","package":"prepay_id=wx2026","signType":"HMAC-SHA256"}</wechat></miniProgramData>` +
	`<currencyCode>702</currencyCode></PaymentResponse>`

func TestParseNestedXMLAccepts(t *testing.T) {
	tests := []struct {
		name, doc string
		maxDepth  int
		root      string
		want      Params
	}{
		{"2C2P answer", twoc2pAnswer, 4, "PaymentResponse", Params{
			{"timeStamp", "221126100000"}, {"merchantID", "JT01"}, {"respCode", "32"}, {"pan", ""},
			{"amt", "000000001234"}, {"uniqueTransactionCode", "ORDER-1"}, {"tranRef", "3200632"},
			{"miniProgramData/wechat", `{"timeStamp":"1795346400","package":"prepay_id=wx2026","signType":"HMAC-SHA256"}`},
			{"currencyCode", "702"},
		}},
		{"2C2P request, leaves in document order",
			`<PaymentRequest><a>1</a><miniProgramData><wechat><appID>wx1</appID><openID>o</openID></wechat></miniProgramData><b/></PaymentRequest>`,
			4, "PaymentRequest", Params{{"a", "1"}, {"miniProgramData/wechat/appID", "wx1"}, {"miniProgramData/wechat/openID", "o"}, {"b", ""}}},
		{"flat document", wechatAnswer, 1, "xml", Params{
			{"return_code", "SUCCESS"}, {"return_msg", "OK"}, {"appid", "wx2421b1c4370ec43b"},
			{"mch_id", "10000100"}, {"nonce_str", "IITRi8Iabbblz1Jc"}, {"openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
			{"sign", "7921E432F65EB8ED0CE9755F0E86D72F"}, {"result_code", "SUCCESS"},
			{"prepay_id", "wx201411101639507cbf6ffd8b0779950874"}, {"trade_type", "JSAPI"},
		}},
		{"exactly maxDepth levels", `<r><a><b><c>1</c></b></a></r>`, 3, "r", Params{{"a/b/c", "1"}}},
		{"shallower than maxDepth", `<r><a><b>1</b></a></r>`, 4, "r", Params{{"a/b", "1"}}},
		{"self-closing nested leaf", `<r><a><b/><c>2</c></a></r>`, 2, "r", Params{{"a/b", ""}, {"a/c", "2"}}},
		{"empty element is a leaf", `<r><a></a><b><c></c></b></r>`, 2, "r", Params{{"a", ""}, {"b/c", ""}}},
		{"whitespace-only element is a leaf", "<r><a> \n</a></r>", 2, "r", Params{{"a", " \n"}}},
		{"whitespace and comments between elements", "<r>\r\n <a>\n\t<!-- x --><b>1</b>\n <!-- y -->\n <c><![CDATA[<2>]]></c>\n</a>\n</r>", 2, "r",
			Params{{"a/b", "1"}, {"a/c", "<2>"}}},
		{"comment before the first child", `<r><a><!-- c --><b>1</b></a></r>`, 2, "r", Params{{"a/b", "1"}}},
		{"text, references and comments in a nested leaf", `<r><a><b>x&amp;<!-- c -->y&#x4e2d;</b></a></r>`, 2, "r", Params{{"a/b", "x&y中"}}},
		{"siblings of a nested element", `<r><a><b>1</b></a><a><b>2</b></a><c>3</c></r>`, 2, "r",
			Params{{"a/b", "1"}, {"a/b", "2"}, {"c", "3"}}},
		{"same name at two levels", `<r><a><a>1</a></a></r>`, 2, "r", Params{{"a/a", "1"}}},
		{"element holding only an empty nested element", `<r><a><b><c/></b></a></r>`, 3, "r", Params{{"a/b/c", ""}}},
		{"deep", "<r>" + strings.Repeat("<e>", 12) + "x" + strings.Repeat("</e>", 12) + "</r>", 12, "r",
			Params{{strings.TrimSuffix(strings.Repeat("e/", 12), "/"), "x"}}},
		{"declaration and trailing comment", `<?xml version="1.0" encoding="UTF-8"?><r><a><b>1</b></a></r><!-- end -->`, 2, "r", Params{{"a/b", "1"}}},
		{"empty root", `<r></r>`, 3, "r", Params{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, p, err := ParseNestedXML([]byte(tt.doc), tt.maxDepth)
			if err != nil {
				t.Fatalf("ParseNestedXML(%q, %d) = %v", tt.doc, tt.maxDepth, err)
			}
			if root != tt.root {
				t.Errorf("root = %q, want %q", root, tt.root)
			}
			if !slices.Equal(p, tt.want) {
				t.Errorf("params\n got %q\nwant %q", p, tt.want)
			}
			if msg := etreeAgreesNested(tt.doc, root, p, tt.maxDepth); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestParseNestedXMLRefuses(t *testing.T) {
	tests := []struct {
		name, doc string
		maxDepth  int
	}{
		{"deeper than maxDepth", `<r><a><b><c>1</c></b></a></r>`, 2},
		{"nested at maxDepth 1", `<r><a><b>1</b></a></r>`, 1},
		{"nested at maxDepth 0", `<r><a>1</a></r>`, 0},
		{"a deep self-closing element", `<r><a><b><c/></b></a></r>`, 2},
		{"text before a child", `<r><a>x<b>1</b></a></r>`, 3},
		{"text after a child", `<r><a><b>1</b>x</a></r>`, 3},
		{"text between children", `<r><a><b>1</b>x<c>2</c></a></r>`, 3},
		{"CDATA before a child", `<r><a><![CDATA[x]]><b>1</b></a></r>`, 3},
		{"CDATA after a child", `<r><a><b>1</b><![CDATA[x]]></a></r>`, 3},
		{"whitespace CDATA beside a child", `<r><a><b>1</b><![CDATA[ ]]></a></r>`, 3},
		{"reference beside a child", `<r><a><b>1</b>&#32;</a></r>`, 3},
		{"self-closing child after text", `<r><a>x<b/></a></r>`, 3},
		{"text in the root", `<r>x<a>1</a></r>`, 3},
		{"attribute on a nested element", `<r><a><b x="1">1</b></a></r>`, 3},
		{"attribute on a container", `<r><a x="1"><b>1</b></a></r>`, 3},
		{"namespace prefix", `<r><a><w:b>1</w:b></a></r>`, 3},
		{"mismatched nested close", `<r><a><b>1</b></c></r>`, 3},
		{"nested close of the root's name", `<r><a><b>1</b></r></r>`, 3},
		{"unclosed container", `<r><a><b>1</b></r>`, 3},
		{"unclosed container at the end", `<r><a><b>1</b>`, 3},
		{"processing instruction in a container", `<r><a><?pi?><b>1</b></a></r>`, 3},
		{"directive in a container", `<r><a><!ENTITY e "x"><b>1</b></a></r>`, 3},
		{"DOCTYPE", `<!DOCTYPE r [<!ENTITY e "x">]><r><a><b>&e;</b></a></r>`, 3},
		{"unknown entity in a nested leaf", `<r><a><b>&nbsp;</b></a></r>`, 3},
		{"bad comment in a container", `<r><a><!-- a -- b --><b>1</b></a></r>`, 3},
		{"self-closing root", `<r/>`, 3},
		{"trailing element", `<r><a><b>1</b></a></r><r></r>`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, p, err := ParseNestedXML([]byte(tt.doc), tt.maxDepth)
			if !errors.Is(err, ErrXML) || root != "" || p != nil {
				t.Fatalf("ParseNestedXML(%q, %d) = %q, %q, %v; want ErrXML", tt.doc, tt.maxDepth, root, p, err)
			}
		})
	}
}

// ParseFlatXML is ParseNestedXML with maxDepth 1: every document either
// refuses is refused by both, every document both accept reads the same.
func TestParseFlatXMLIsNestedDepthOne(t *testing.T) {
	docs := append(slices.Clone(flatXMLSeeds), twoc2pAnswer, `<r><a><b>1</b></a></r>`, `<xml><a>1<b/></a></xml>`)
	for _, doc := range docs {
		r1, p1, err1 := ParseFlatXML([]byte(doc))
		r2, p2, err2 := ParseNestedXML([]byte(doc), 1)
		if r1 != r2 || !slices.Equal(p1, p2) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("%q: flat %q %q %v, nested %q %q %v", doc, r1, p1, err1, r2, p2, err2)
		}
		if err1 != nil {
			continue
		}
		for depth := 2; depth < 5; depth++ { // a flat document reads the same at any depth
			r3, p3, err3 := ParseNestedXML([]byte(doc), depth)
			if err3 != nil || r3 != r1 || !slices.Equal(p3, p1) {
				t.Fatalf("%q at depth %d: %q %q %v", doc, depth, r3, p3, err3)
			}
		}
	}
}

func TestParseNestedXMLAllocations(t *testing.T) {
	body := []byte(twoc2pAnswer)
	// one copy of the body, the Params, one path
	if n := testing.AllocsPerRun(100, func() { _, _, _ = ParseNestedXML(body, 4) }); n != 3 {
		t.Fatalf("%v allocations, want 3", n)
	}
}

// etreeAgreesNested checks a document ParseNestedXML accepted against etree:
// same root, the same leaves (path below the root, etree's text) in
// document order, no attributes or prefixes, no leaf deeper than maxDepth,
// and nothing but whitespace and comments beside child elements. It
// returns "" when they agree.
func etreeAgreesNested(doc, root string, p Params, maxDepth int) string {
	d := etree.NewDocument()
	if err := d.ReadFromString(doc); err != nil {
		return "etree refuses a document ParseNestedXML accepts: " + err.Error() + "\n" + strings.ToValidUTF8(doc, "?")
	}
	r := d.Root()
	if r == nil || r.Tag != root || r.Space != "" || len(r.Attr) != 0 {
		return "etree sees another root than " + root
	}
	n := 0
	var walk func(prefix string, el *etree.Element, depth int) string
	walk = func(prefix string, el *etree.Element, depth int) string {
		for _, tok := range el.Child {
			switch tok := tok.(type) {
			case *etree.CharData:
				if tok.IsCData() || strings.Trim(tok.Data, " \t\r\n") != "" {
					return "etree sees text " + strconv.Quote(tok.Data) + " beside the elements of " + prefix
				}
			case *etree.Comment:
			case *etree.Element:
				if tok.Space != "" || len(tok.Attr) != 0 {
					return "etree sees a prefix or attributes on " + tok.Tag
				}
				if depth > maxDepth {
					return "etree sees " + prefix + tok.Tag + " deeper than " + strconv.Itoa(maxDepth)
				}
				if len(tok.ChildElements()) > 0 {
					if msg := walk(prefix+tok.Tag+"/", tok, depth+1); msg != "" {
						return msg
					}
					continue
				}
				if n >= len(p) {
					return "etree sees more leaves than ParseNestedXML"
				}
				if name, text := prefix+tok.Tag, etreeText(tok); name != p[n].Name || text != p[n].Value {
					return "etree reads leaf " + name + " = " + strconv.Quote(text) + ", ParseNestedXML " + p[n].Name + " = " + strconv.Quote(p[n].Value)
				}
				n++
			default:
				return "etree sees a processing instruction or directive in " + prefix
			}
		}
		return ""
	}
	if msg := walk("", r, 1); msg != "" {
		return msg
	}
	if n != len(p) {
		return "etree sees fewer leaves than ParseNestedXML"
	}
	return ""
}

// TestParseFlatXMLBounded: up to maxElements children are ParseFlatXML's
// reading (self-closing ones count, comments do not); one more is refused.
func TestParseFlatXMLBounded(t *testing.T) {
	doc := func(n int) []byte {
		var b strings.Builder
		b.WriteString("<xml><!-- a comment -->")
		for i := range n {
			if i%2 == 0 {
				fmt.Fprintf(&b, "<e%d><![CDATA[v]]></e%d>", i, i)
			} else {
				fmt.Fprintf(&b, "<e%d/>", i)
			}
		}
		b.WriteString("</xml>")
		return []byte(b.String())
	}
	for _, n := range []int{0, 1, 15, 16} {
		root, p, err := ParseFlatXMLBounded(doc(n), 16)
		wantRoot, want, werr := ParseFlatXML(doc(n))
		if err != nil || werr != nil || root != wantRoot || !slices.Equal(p, want) || len(p) != n {
			t.Errorf("%d elements: %q %v %v, ParseFlatXML %v", n, root, p, err, werr)
		}
	}
	for _, n := range []int{17, 4000} {
		if _, p, err := ParseFlatXMLBounded(doc(n), 16); err != ErrXML || p != nil {
			t.Errorf("%d elements: %v %v, want refused", n, p, err)
		}
	}
}
