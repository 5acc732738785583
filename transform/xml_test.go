package transform

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// The unifiedorder answer example of the WeChat Pay v2 documentation
// (docs/providers/wechat_v2.md "Response"), as WeChat lays it out.
const wechatAnswer = `<xml>
   <return_code><![CDATA[SUCCESS]]></return_code>
   <return_msg><![CDATA[OK]]></return_msg>
   <appid><![CDATA[wx2421b1c4370ec43b]]></appid>
   <mch_id><![CDATA[10000100]]></mch_id>
   <nonce_str><![CDATA[IITRi8Iabbblz1Jc]]></nonce_str>
   <openid><![CDATA[oUpF8uMuAJO_M2pxb1Q9zNjWeS6o]]></openid>
   <sign><![CDATA[7921E432F65EB8ED0CE9755F0E86D72F]]></sign>
   <result_code><![CDATA[SUCCESS]]></result_code>
   <prepay_id><![CDATA[wx201411101639507cbf6ffd8b0779950874]]></prepay_id>
   <trade_type><![CDATA[JSAPI]]></trade_type>
</xml>`

func TestParseFlatXMLAccepts(t *testing.T) {
	tests := []struct {
		name, doc, root string
		want            Params
	}{
		{"wechat answer", wechatAnswer, "xml", Params{
			{"return_code", "SUCCESS"}, {"return_msg", "OK"}, {"appid", "wx2421b1c4370ec43b"},
			{"mch_id", "10000100"}, {"nonce_str", "IITRi8Iabbblz1Jc"}, {"openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
			{"sign", "7921E432F65EB8ED0CE9755F0E86D72F"}, {"result_code", "SUCCESS"},
			{"prepay_id", "wx201411101639507cbf6ffd8b0779950874"}, {"trade_type", "JSAPI"},
		}},
		{"plain text", `<xml><total_fee>1234</total_fee><fee_type>CNY</fee_type></xml>`, "xml",
			Params{{"total_fee", "1234"}, {"fee_type", "CNY"}}},
		{"predefined entities", `<xml><a>a&amp;b&lt;c&gt;d&quot;e&apos;f</a></xml>`, "xml",
			Params{{"a", `a&b<c>d"e'f`}}},
		{"decimal and hex references", `<xml><body>&#20013;&#x6587;&#x4e2D;</body></xml>`, "xml",
			Params{{"body", "中文中"}}},
		{"UTF-8 text", `<xml><body>腾讯充值中心-QQ会员充值</body></xml>`, "xml", Params{{"body", "腾讯充值中心-QQ会员充值"}}},
		{"CDATA keeps markup", `<xml><a><![CDATA[<b>&amp;</b>]]></a></xml>`, "xml", Params{{"a", "<b>&amp;</b>"}}},
		{"text and CDATA mixed", `<xml><a>x<![CDATA[<y>]]>z&amp;<![CDATA[]]></a></xml>`, "xml", Params{{"a", "x<y>z&"}}},
		{"CDATA split around ]]>", `<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a></xml>`, "xml", Params{{"a", "x]]>y"}}},
		{"CDATA ending in ]", `<xml><a><![CDATA[x]]]></a></xml>`, "xml", Params{{"a", "x]"}}},
		{"greater-than in text", `<xml><a>1 > 0</a></xml>`, "xml", Params{{"a", "1 > 0"}}},
		{"self-closing child", `<xml><attach/><a>1</a></xml>`, "xml", Params{{"attach", ""}, {"a", "1"}}},
		{"empty child", `<xml><attach></attach></xml>`, "xml", Params{{"attach", ""}}},
		{"empty CDATA", `<xml><attach><![CDATA[]]></attach></xml>`, "xml", Params{{"attach", ""}}},
		{"empty root", `<xml></xml>`, "xml", Params{}},
		{"whitespace kept in values", "<xml><a> x\ty </a><b>\n</b></xml>", "xml", Params{{"a", " x\ty "}, {"b", "\n"}}},
		{"whitespace between elements", "\r\n\t <xml>\r\n\t<a>1</a>\r\n</xml>\r\n\t ", "xml", Params{{"a", "1"}}},
		{"XML declaration", `<?xml version="1.0" encoding="UTF-8"?><xml><a>1</a></xml>`, "xml", Params{{"a", "1"}}},
		{"UTF-8 byte order mark (XML 1.0 §4.3.3)", "\uFEFF<xml><a>1</a></xml>", "xml", Params{{"a", "1"}}},
		{"byte order mark, declaration", "\uFEFF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<xml><a>中</a></xml>", "xml", Params{{"a", "中"}}},
		{"XML declaration, single quotes, standalone", "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n<xml><a>1</a></xml>", "xml", Params{{"a", "1"}}},
		{"XML declaration, version only", `<?xml version="1.0"?><xml><a>1</a></xml>`, "xml", Params{{"a", "1"}}},
		// Python's ElementTree declares us-ascii by default (xml_declaration=True) and
		// writes what ASCII lacks as character references; lxml says ASCII.
		{"US-ASCII declaration (ElementTree)", "<?xml version='1.0' encoding='us-ascii'?>\n<xml><attach>&#25903;&#20184;&#27979;&#35797;</attach><total_fee>1</total_fee></xml>",
			"xml", Params{{"attach", "支付测试"}, {"total_fee", "1"}}},
		{"ASCII declaration (lxml)", "<?xml version='1.0' encoding='ASCII'?>\n<xml><a>1</a></xml>", "xml", Params{{"a", "1"}}},
		{"ISO-8859-1 declaration (Python's SAX XMLGenerator)", "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<xml><attach>&#25903;&#20184;</attach></xml>",
			"xml", Params{{"attach", "支付"}}},
		// ISO-8859-1's other names, as a writer given them declares them (XMLGenerator(encoding='latin-1'))
		{"ISO-8859-1 named ISO_8859-1", "<?xml version=\"1.0\" encoding=\"ISO_8859-1\"?><xml><a>1</a></xml>", "xml", Params{{"a", "1"}}},
		{"ISO-8859-1 named LATIN1", "<?xml version=\"1.0\" encoding=\"LATIN1\"?><xml><a>1</a></xml>", "xml", Params{{"a", "1"}}},
		{"ISO-8859-1 named latin-1 (XMLGenerator)", "<?xml version=\"1.0\" encoding=\"latin-1\"?><xml><a>1</a></xml>", "xml", Params{{"a", "1"}}},
		{"UTF-8 named utf8 (ElementTree)", "<?xml version='1.0' encoding='utf8'?>\n<xml><attach>支付测试</attach></xml>", "xml", Params{{"attach", "支付测试"}}},
		{"comments everywhere", `<!-- a --><xml><!-- b --><a>1</a><!----><b>x<!-- c -->y</b></xml><!-- d -->`, "xml",
			Params{{"a", "1"}, {"b", "xy"}}},
		{"whitespace around a comment in a value", `<xml><b>x <!-- c --> y</b></xml>`, "xml", Params{{"b", "x  y"}}},
		{"comment with markup", `<xml><!-- <a>1</a> --><b>2</b></xml>`, "xml", Params{{"b", "2"}}},
		{"line ends normalized", "<xml><a>x\r\ny\rz</a><b><![CDATA[p\r\nq]]></b></xml>", "xml", Params{{"a", "x\ny\nz"}, {"b", "p\nq"}}},
		{"escaped carriage return kept", `<xml><a>x&#13;&#10;y</a></xml>`, "xml", Params{{"a", "x\r\ny"}}},
		{"other root", `<root><out_refund_no><![CDATA[R1]]></out_refund_no></root>`, "root", Params{{"out_refund_no", "R1"}}},
		{"duplicates kept in order", `<xml><a>1</a><a>2</a></xml>`, "xml", Params{{"a", "1"}, {"a", "2"}}},
		{"name characters", `<xml><coupon_fee_0>1</coupon_fee_0><a-b.c>2</a-b.c><_x>3</_x></xml>`, "xml",
			Params{{"coupon_fee_0", "1"}, {"a-b.c", "2"}, {"_x", "3"}}},
		{"replacement character is a character", "<xml><a>\uFFFD</a></xml>", "xml", Params{{"a", "\uFFFD"}}},
		{"astral plane", `<xml><a>😀&#x1F600;</a></xml>`, "xml", Params{{"a", "😀😀"}}},
		// XML 1.0 §3.1: STag, ETag and EmptyElemTag allow space before '>' and "/>".
		// Python's ElementTree writes every empty element as "<name />".
		{"space before /> (ElementTree)", `<xml><a>1</a><attach /><b>2</b></xml>`, "xml", Params{{"a", "1"}, {"attach", ""}, {"b", "2"}}},
		{"space before > in tags", "<xml \t><a\r\n>1</a ><b>2</b\n></xml >", "xml", Params{{"a", "1"}, {"b", "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, p, err := ParseFlatXML([]byte(tt.doc))
			if err != nil {
				t.Fatalf("ParseFlatXML(%q) = %v", tt.doc, err)
			}
			if root != tt.root {
				t.Errorf("root = %q, want %q", root, tt.root)
			}
			if !slices.Equal(p, tt.want) {
				t.Errorf("params\n got %q\nwant %q", p, tt.want)
			}
			// An independent XML parser reads the same document the same way.
			if msg := etreeAgrees(tt.doc, root, p); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestParseFlatXMLRefuses(t *testing.T) {
	tests := []struct{ name, doc string }{
		{"empty", ""},
		{"whitespace", " \n "},
		{"not XML", "return_code=SUCCESS"},
		{"JSON", `{"return_code":"SUCCESS"}`},
		{"DOCTYPE", `<!DOCTYPE xml><xml><a>1</a></xml>`},
		{"internal entity", `<!DOCTYPE xml [<!ENTITY e "x">]><xml><a>&e;</a></xml>`},
		{"external entity", `<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><a>&e;</a></xml>`},
		{"billion laughs", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;">]><xml><a>&lol1;</a></xml>`},
		{"ENTITY inside the root", `<xml><!ENTITY e "x"><a>1</a></xml>`},
		{"directive inside a value", `<xml><a>1<!ENTITY e "x"></a></xml>`},
		{"nested element", `<xml><a><b>1</b></a></xml>`},
		{"nested after text", `<xml><a>1<b/></a></xml>`},
		{"attribute on a child", `<xml><a x="1">1</a></xml>`},
		{"attribute on the root", `<xml id="1"><a>1</a></xml>`},
		{"namespace prefix", `<xml><w:a>1</w:a></xml>`},
		{"mismatched close", `<xml><a>1</b></xml>`},
		{"close prefix of name", `<xml><ab>1</a></xml>`},
		{"close longer than name", `<xml><a>1</ab></xml>`},
		{"mismatched root close", `<xml><a>1</a></xmlx>`},
		{"root close prefix", `<xml><a>1</a></xm>`},
		{"unclosed child", `<xml><a>1</xml>`},
		{"unclosed root", `<xml><a>1</a>`},
		{"truncated", `<xml><a>1</a`},
		{"unknown entity", `<xml><a>&nbsp;</a></xml>`},
		{"entity without semicolon", `<xml><a>&amp</a></xml>`},
		{"bare ampersand", `<xml><a>a & b</a></xml>`},
		{"empty entity", `<xml><a>&;</a></xml>`},
		{"empty character reference", `<xml><a>&#;</a></xml>`},
		{"empty hex reference", `<xml><a>&#x;</a></xml>`},
		{"reference to NUL", `<xml><a>&#0;</a></xml>`},
		{"reference to a control character", `<xml><a>&#1;</a></xml>`},
		{"reference to a surrogate", `<xml><a>&#xD800;</a></xml>`},
		{"reference to U+FFFE", `<xml><a>&#xFFFE;</a></xml>`},
		{"reference past Unicode", `<xml><a>&#x110000;</a></xml>`},
		{"signed reference", `<xml><a>&#+65;</a></xml>`},
		{"uppercase X reference", `<xml><a>&#X4E2D;</a></xml>`}, // XML 1.0 §4.1: only "&#x"
		{"trailing text", `<xml><a>1</a></xml>x`},
		{"trailing element", `<xml><a>1</a></xml><xml></xml>`},
		{"trailing processing instruction", `<xml><a>1</a></xml><?pi?>`},
		{"text in the root", `<xml>abc</xml>`},
		{"text before a child", `<xml>a<b>1</b></xml>`},
		{"CDATA in the root", `<xml><![CDATA[x]]></xml>`},
		{"]]> in text", `<xml><a>x]]>y</a></xml>`},
		{"unterminated CDATA", `<xml><a><![CDATA[x</a></xml>`},
		{"unterminated comment", `<xml><!-- x <a>1</a></xml>`},
		{"double hyphen in a comment", `<xml><!-- a -- b --><a>1</a></xml>`},
		{"comment ending in a hyphen", `<xml><!-- a ---><a>1</a></xml>`},
		// XML 1.0 §2.5: a comment is characters too (Python's expat refuses these)
		{"invalid UTF-8 in a comment", "<xml><!-- \xff --><a>1</a></xml>"},
		{"invalid UTF-8 in a comment before the root", "<!--\xc0\xae--><xml><a>1</a></xml>"},
		{"encoded surrogate in a comment in a value", "<xml><a>x<!--\xed\xa0\x80-->y</a></xml>"},
		{"control character in a comment", "<xml><a>1</a><!--\x01--></xml>"},
		{"invalid UTF-8", "<xml><a>\xff</a></xml>"},
		{"invalid UTF-8 in CDATA", "<xml><a><![CDATA[\xc3\x28]]></a></xml>"},
		{"encoded surrogate", "<xml><a>\xed\xa0\x80</a></xml>"},
		{"NUL in text", "<xml><a>x\x00</a></xml>"},
		{"control character in CDATA", "<xml><a><![CDATA[\x1b]]></a></xml>"},
		{"U+FFFF in text", "<xml><a>\uffff</a></xml>"},
		{"processing instruction", `<?php echo 1; ?><xml><a>1</a></xml>`},
		{"unterminated declaration", `<?xml version="1.0"<xml><a>1</a></xml>`},
		{"XML 1.1", `<?xml version="1.1"?><xml><a>1</a></xml>`},
		// XML 1.0 §2.8: the declaration comes first, only a byte order mark
		// before it (expat: "XML or text declaration not at start of entity")
		{"declaration after white space", " <?xml version=\"1.0\"?><xml><a>1</a></xml>"},
		{"declaration after a line end", "\r\n<?xml version=\"1.0\"?><xml><a>1</a></xml>"},
		{"declaration after a comment", `<!-- c --><?xml version="1.0"?><xml><a>1</a></xml>`},
		{"declaration after a byte order mark and white space", "\uFEFF <?xml version=\"1.0\"?><xml><a>1</a></xml>"},
		{"declaration twice", `<?xml version="1.0"?><?xml version="1.0"?><xml><a>1</a></xml>`},
		{"declaration without version", `<?xml encoding="UTF-8"?><xml><a>1</a></xml>`},
		{"declaration with garbage", `<?xml version="1.0" foo?><xml><a>1</a></xml>`},
		{"US-ASCII declaration, a byte past ASCII", "<?xml version='1.0' encoding='us-ascii'?><xml><a>中</a></xml>"},
		{"US-ASCII declaration after a byte order mark", "\uFEFF<?xml version='1.0' encoding='us-ascii'?><xml><a>1</a></xml>"},
		{"ISO-8859-1 declaration, a byte past ASCII", "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><xml><a>é</a></xml>"}, // Ã© in Latin-1
		{"GBK declaration", `<?xml version="1.0" encoding="GBK"?><xml><a>1</a></xml>`},
		// strings.EqualFold folds ſ (U+017F) to s: the name is no XML EncName, and the document not all ASCII
		{"US-ASCII spelt with a long s", "<?xml version='1.0' encoding='uſ-aſcii'?><xml><a>1</a></xml>"},
		{"self-closing root", `<xml/>`},
		{"self-closing root with a nameless close", `<xml/><a>1</a></>`},
		{"nameless element", `<xml><>1</></xml>`},
		{"space after <", `<xml>< a>1</a></xml>`},
		{"space after </", `<xml><a>1</ a></xml>`},
		{"space inside />", `<xml><a/ ></xml>`},
		{"space then attribute", `<xml><a b>1</a></xml>`},
		{"self-closing root with space", `<xml />`},
		{"name starting with a digit", `<xml><0a>1</0a></xml>`},
		{"byte-order mark after white space", " \uFEFF<xml><a>1</a></xml>"},
		{"two byte-order marks", "\uFEFF\uFEFF<xml><a>1</a></xml>"},
		{"byte-order mark in UTF-16", "\xfe\xff\x00<\x00x\x00m\x00l\x00>"},
		{"two roots", `<xml></xml><xml></xml>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, p, err := ParseFlatXML([]byte(tt.doc))
			if !errors.Is(err, ErrXML) {
				t.Fatalf("ParseFlatXML(%q) = %q, %q, %v; want ErrXML", tt.doc, root, p, err)
			}
			if root != "" || p != nil {
				t.Fatalf("a refused document returned data: %q %q", root, p)
			}
		})
	}
}

// etreeAgrees checks a document ParseFlatXML accepted against etree, an
// independent parser built on encoding/xml: same root, same child names in
// order, same text. It returns "" when they agree.
func etreeAgrees(doc, root string, p Params) string {
	d := etree.NewDocument()
	if err := d.ReadFromString(doc); err != nil {
		return "etree refuses a document ParseFlatXML accepts: " + err.Error() + "\n" + strings.ToValidUTF8(doc, "?")
	}
	r := d.Root()
	if r == nil || r.Tag != root || r.Space != "" {
		return "etree sees another root than " + root
	}
	kids := r.ChildElements()
	if len(kids) != len(p) {
		return "etree sees another number of children"
	}
	for i, k := range kids {
		if k.Space != "" || k.Tag != p[i].Name || etreeText(k) != p[i].Value || len(k.ChildElements()) != 0 || len(k.Attr) != 0 {
			return "etree reads child " + k.Tag + " = " + etreeText(k) + ", ParseFlatXML " + p[i].Name + " = " + p[i].Value
		}
	}
	return ""
}

// etreeText is etree's Element.Text (the character data and CDATA after the
// opening tag, comments skipped) without its quadratic concatenation, which
// stalls the fuzzer on values of many sections.
func etreeText(e *etree.Element) string {
	var b strings.Builder
	for _, ch := range e.Child {
		if cd, ok := ch.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		} else if _, ok := ch.(*etree.Comment); !ok {
			break
		}
	}
	return b.String()
}

func TestAppendFlatXML(t *testing.T) {
	p := Params{{"return_code", "SUCCESS"}, {"attach", ""}, {"body", "a]]>b<c>&d"}, {"x", "]]>]]>"}}
	got := string(AppendFlatXML([]byte("prefix"), "xml", p))
	const want = "prefix<xml>" +
		"<return_code><![CDATA[SUCCESS]]></return_code>" +
		"<attach><![CDATA[]]></attach>" +
		"<body><![CDATA[a]]]]><![CDATA[>b<c>&d]]></body>" +
		"<x><![CDATA[]]]]><![CDATA[>]]]]><![CDATA[>]]></x>" +
		"</xml>"
	if got != want {
		t.Fatalf("AppendFlatXML\n got %s\nwant %s", got, want)
	}
	doc := strings.TrimPrefix(got, "prefix")
	root, back, err := ParseFlatXML([]byte(doc))
	if err != nil || root != "xml" || !slices.Equal(back, p) {
		t.Fatalf("round trip: %q %q %v", root, back, err)
	}
	if msg := etreeAgrees(doc, "xml", p); msg != "" {
		t.Fatal(msg)
	}
}

// A carriage return inside CDATA would reach any conformant XML reader as a
// line feed (XML 1.0 §2.11), so it is written as a character reference to
// survive byte for byte.
func TestAppendFlatXMLCarriageReturn(t *testing.T) {
	p := Params{{"attach", "a\r\nb\r"}}
	got := string(AppendFlatXML(nil, "xml", p))
	const want = "<xml><attach><![CDATA[a]]>&#13;<![CDATA[\nb]]>&#13;<![CDATA[]]></attach></xml>"
	if got != want {
		t.Fatalf("AppendFlatXML\n got %q\nwant %q", got, want)
	}
	if _, back, err := ParseFlatXML([]byte(got)); err != nil || !slices.Equal(back, p) {
		t.Fatalf("round trip: %q %v", back, err)
	}
	if msg := etreeAgrees(got, "xml", p); msg != "" {
		t.Fatal(msg)
	}
}

// ValidXMLText reads printable ASCII eight bytes at a time: it must agree
// with XML 1.0's Char production, read rune by rune, on every value, with
// the characters it refuses at each position of a chunk and past it.
func TestValidXMLText(t *testing.T) {
	reference := referenceXMLText
	values := []string{"", "SUCCESS", "wx201411101639507cbf6ffd8b0779950874", "~~~~~~~~\x7f", "中文商品描述 with text", "\t\n\r"}
	for _, bad := range []string{"\x00", "\x01", "\x1f", "\x0b", "\xff", "\xc3\x28", "\xef\xbf\xbe", "\xef\xbf\xbf", "\xed\xa0\x80"} {
		for pos := range 17 { // in the first and second chunk and the tail
			values = append(values, strings.Repeat("a", pos)+bad+strings.Repeat("b", 9))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", " ", "~", "\x7f", "\t", "\n", "\r", "\x00", "\x1f", "é", "中", "\U0001F600", "\xff", "\xef\xbf\xbe", "\xed\xa0\x80"}
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		values = append(values, b.String())
	}
	for _, v := range values {
		if got, want := ValidXMLText(v), reference(v); got != want {
			t.Errorf("ValidXMLText(%q) = %v, want %v", v, got, want)
		}
	}
}

// referenceXMLText is ValidXMLText's definition read rune by rune: UTF-8
// made of XML 1.0 §2.2's Char production.
func referenceXMLText(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if !(r == 0x9 || r == 0xA || r == 0xD || 0x20 <= r && r <= 0xD7FF || 0xE000 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0x10FFFF) {
			return false
		}
	}
	return true
}

// TestValidXMLTextEveryBytePair: the eight-byte check must send a chunk to
// the byte-by-byte read whenever any byte of it is not printable ASCII,
// whatever the other bytes (a borrow from one byte into the next could hide
// a second one): every pair of byte values at every pair of positions of
// eight bytes, placed within one chunk and straddling two, agrees with the
// rune-by-rune reading.
func TestValidXMLTextEveryBytePair(t *testing.T) {
	chunk := []byte("        ")
	for _, lead := range []int{0, 5} {
		prefix := strings.Repeat("~", lead)
		for i := range 8 {
			for j := i + 1; j < 8; j++ {
				for a := range 256 {
					for b := range 256 {
						for k := range chunk {
							chunk[k] = "a ~\x7f0Zz!"[k]
						}
						chunk[i], chunk[j] = byte(a), byte(b)
						v := prefix + string(chunk) + "tail"
						if got, want := ValidXMLText(v), referenceXMLText(v); got != want {
							t.Fatalf("ValidXMLText(%q) = %v, want %v", v, got, want)
						}
					}
				}
			}
		}
	}
}

// FuzzValidXMLText: ValidXMLText agrees with the rune-by-rune reading on
// any value.
func FuzzValidXMLText(f *testing.F) {
	for _, v := range []string{"", "SUCCESS", "~~~~~~~~\x7f", "aaaaaaa\x00bbbbbbbb", "中文 text", "\xef\xbf\xbe12345678", "\t\n\r"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := ValidXMLText(v), referenceXMLText(v); got != want {
			t.Fatalf("ValidXMLText(%q) = %v, want %v", v, got, want)
		}
	})
}
