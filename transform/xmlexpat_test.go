package transform

import (
	"slices"
	"testing"
)

// xmlExpatVerdicts are documents with the verdict of Python's expat (2.5.0,
// Python 3.11's xml.parsers.expat, without namespace processing) on each,
// recorded on 7 December 2026: the root and children it reads, or its
// refusal. design says why ParseFlatXML parts from it by design (README
// XML): it refuses one that expat reads, or reads one expat refuses. The
// documents are where ParseFlatXML and encoding/xml part
// (FuzzFlatXMLDifferential's corpus), where a campaign against expat found
// a difference, and the XML 1.0 rules the parser has.
var xmlExpatVerdicts = []struct {
	doc    string
	root   string // the reading, expat's or by design ParseFlatXML's
	p      Params
	expat  string // expat's refusal; "" where it reads root and p
	design string // why ParseFlatXML parts from expat by design (README XML)
}{
	{doc: " <?xml version=\"1.0\"?><xml><a>1</a></xml>", expat: "XML or text declaration not at start of entity: line 1, column 1"},
	{doc: "\r\n<?xml version=\"1.0\"?><xml><a>1</a></xml>", expat: "XML or text declaration not at start of entity: line 2, column 0"},
	{doc: "<!-- c --><?xml version=\"1.0\"?><xml><a>1</a></xml>", expat: "XML or text declaration not at start of entity: line 1, column 10"},
	{doc: "\ufeff <?xml version=\"1.0\"?><xml><a>1</a></xml>", expat: "XML or text declaration not at start of entity: line 1, column 2"},
	{doc: "<?xml version=\"1.0\"?><?xml version=\"1.0\"?><xml><a>1</a></xml>", expat: "XML or text declaration not at start of entity: line 1, column 21"},
	{doc: "\ufeff<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}},
	{doc: "<?xml version = '1.0' encoding = 'utf-8' standalone = 'yes' ?><xml><a>x</a></xml>", root: "xml", p: Params{{"a", "x"}}},
	{doc: "<xml><a>&#x41;&#65;&amp;&lt;&gt;&quot;&apos;</a></xml>", root: "xml", p: Params{{"a", "AA&<>\"'"}}},
	{doc: "<xml><a>&#0065;&#x0000041;</a></xml>", root: "xml", p: Params{{"a", "AA"}}},
	{doc: "<xml><a><![CDATA[<&>]]>&amp;<![CDATA[]]></a></xml>", root: "xml", p: Params{{"a", "<&>&"}}},
	{doc: "<xml>\n\t<a>1</a>\r\n</xml>\r\n<!-- x -->\n", root: "xml", p: Params{{"a", "1"}}},
	{doc: "<xml><a>x\r\ny\rz&#13;</a></xml>", root: "xml", p: Params{{"a", "x\ny\nz\r"}}},
	{doc: "<xml><a></a><b/><c /></xml>", root: "xml", p: Params{{"a", ""}, {"b", ""}, {"c", ""}}},
	{doc: "<xml><a>1</a ></xml >", root: "xml", p: Params{{"a", "1"}}},
	{doc: "<xml><a\t\r\n>1</a\n></xml>", root: "xml", p: Params{{"a", "1"}}},
	{doc: "<xml></xml>", root: "xml"},
	{doc: "<xml><?pi x?><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: "a processing instruction"},
	{doc: "<xml><a>1</a></xml><?pi x?>", root: "xml", p: Params{{"a", "1"}}, design: "a processing instruction"},
	{doc: "<ns:xml xmlns:ns=\"u\"><ns:a>1</ns:a></ns:xml>", root: "ns:xml", p: Params{{"ns:a", "1"}}, design: "a namespace"},
	{doc: "<xml xmlns=\"u\"><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: "an attribute"},
	{doc: "<xml a=\"1\"><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: "an attribute"},
	{doc: "<名><a>1</a></名>", root: "名", p: Params{{"a", "1"}}, design: "a name outside ASCII"},
	{doc: "<xml><a:b>1</a:b></xml>", root: "xml", p: Params{{"a:b", "1"}}, design: "a namespace prefix"},
	{doc: "<?xml version=\"1.1\"?><xml><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: "XML 1.1"},
	{doc: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><xml><a>\xe9</a></xml>", root: "xml", p: Params{{"a", "é"}}, design: "a byte past ASCII under ISO-8859-1"},
	{doc: "<!DOCTYPE xml><xml><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: "a DTD"},
	{doc: "<xml/>", root: "xml", design: "a self-closing root"},
	{doc: "<xml><a>]]></a></xml>", expat: "not well-formed (invalid token): line 1, column 10"},
	{doc: "<xml><!-- a -- b --><a>1</a></xml>", expat: "not well-formed (invalid token): line 1, column 14"},
	{doc: "<xml><a>1</a></xml><xml></xml>", expat: "junk after document element: line 1, column 19"},
	{doc: "<xml><a>1</a></xml>x", expat: "junk after document element: line 1, column 19"},
	{doc: "<xml><a>&#X41;</a></xml>", expat: "not well-formed (invalid token): line 1, column 10"},
	{doc: "<xml><a>&#xD800;</a></xml>", expat: "reference to invalid character number: line 1, column 8"},
	{doc: "<xml><a>&nbsp;</a></xml>", expat: "undefined entity: line 1, column 8"},
	{doc: "<xml><a>1</ a></xml>", expat: "not well-formed (invalid token): line 1, column 11"},
	{doc: "<xml><a>1</a><![CDATA[x]]></xml>", root: "xml", p: Params{{"a", "1"}}, design: "CDATA in the root"},
	{doc: "<xml><a>1</a>&#13;</xml>", root: "xml", p: Params{{"a", "1"}}, design: "a reference in the root"},
	// ElementTree.tostring(e, encoding='utf8', xml_declaration=True) writes
	// this, and Python's expat, which reads an encoding it does not know one
	// byte at a time, cannot read it back; its writer meant UTF-8.
	{doc: "<?xml version='1.0' encoding='utf8'?>\n<xml><a>支付</a></xml>", root: "xml", p: Params{{"a", "支付"}},
		expat: "not well-formed (invalid token): line 2, column 8", design: "utf8 is read as UTF-8"},
}

// TestFlatXMLExpatVerdicts: ParseFlatXML refuses what expat refuses, and
// reads what expat reads the same way, but where it parts by design.
func TestFlatXMLExpatVerdicts(t *testing.T) {
	for _, tt := range xmlExpatVerdicts {
		root, p, err := ParseFlatXML([]byte(tt.doc))
		if reads := (tt.expat == "") == (tt.design == ""); !reads {
			if err == nil {
				t.Errorf("%q: read as %q %q; expat: %q, design: %q", tt.doc, root, p, tt.expat, tt.design)
			}
		} else if err != nil || root != tt.root || !slices.Equal(p, tt.p) {
			t.Errorf("%q: %q %q %v; want %q %q (expat: %q, design: %q)", tt.doc, root, p, err, tt.root, tt.p, tt.expat, tt.design)
		}
	}
}
