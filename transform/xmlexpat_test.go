package transform

import (
	"slices"
	"testing"
)

// xmlExpatVerdicts are documents with the reading of Python's expat (2.5.0,
// Python 3.11's xml.parsers.expat, without namespace processing) on each,
// recorded on 7 December 2026: the root and children it reads, or no root
// where it refuses the document (its message in why). design says why
// ParseFlatXML refuses one that expat reads (README XML). The documents are
// where ParseFlatXML and encoding/xml part (FuzzFlatXMLDifferential's
// corpus) and the XML 1.0 rules the parser has.
var xmlExpatVerdicts = []struct {
	doc    string
	root   string
	p      Params
	why    string // expat's refusal, or the design's
	design bool   // expat reads it; ParseFlatXML refuses it by design
}{
	{doc: " <?xml version=\"1.0\"?><xml><a>1</a></xml>", why: "XML or text declaration not at start of entity: line 1, column 1"},
	{doc: "\r\n<?xml version=\"1.0\"?><xml><a>1</a></xml>", why: "XML or text declaration not at start of entity: line 2, column 0"},
	{doc: "<!-- c --><?xml version=\"1.0\"?><xml><a>1</a></xml>", why: "XML or text declaration not at start of entity: line 1, column 10"},
	{doc: "\ufeff <?xml version=\"1.0\"?><xml><a>1</a></xml>", why: "XML or text declaration not at start of entity: line 1, column 2"},
	{doc: "<?xml version=\"1.0\"?><?xml version=\"1.0\"?><xml><a>1</a></xml>", why: "XML or text declaration not at start of entity: line 1, column 21"},
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
	{doc: "<xml><?pi x?><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: true, why: "a processing instruction"},
	{doc: "<xml><a>1</a></xml><?pi x?>", root: "xml", p: Params{{"a", "1"}}, design: true, why: "a processing instruction"},
	{doc: "<ns:xml xmlns:ns=\"u\"><ns:a>1</ns:a></ns:xml>", root: "ns:xml", p: Params{{"ns:a", "1"}}, design: true, why: "a namespace"},
	{doc: "<xml xmlns=\"u\"><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: true, why: "an attribute"},
	{doc: "<xml a=\"1\"><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: true, why: "an attribute"},
	{doc: "<名><a>1</a></名>", root: "名", p: Params{{"a", "1"}}, design: true, why: "a name outside ASCII"},
	{doc: "<xml><a:b>1</a:b></xml>", root: "xml", p: Params{{"a:b", "1"}}, design: true, why: "a namespace prefix"},
	{doc: "<?xml version=\"1.1\"?><xml><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: true, why: "XML 1.1"},
	{doc: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><xml><a>\xe9</a></xml>", root: "xml", p: Params{{"a", "é"}}, design: true, why: "a byte past ASCII under ISO-8859-1"},
	{doc: "<!DOCTYPE xml><xml><a>1</a></xml>", root: "xml", p: Params{{"a", "1"}}, design: true, why: "a DTD"},
	{doc: "<xml/>", root: "xml", design: true, why: "a self-closing root"},
	{doc: "<xml><a>]]></a></xml>", why: "not well-formed (invalid token): line 1, column 10"},
	{doc: "<xml><!-- a -- b --><a>1</a></xml>", why: "not well-formed (invalid token): line 1, column 14"},
	{doc: "<xml><a>1</a></xml><xml></xml>", why: "junk after document element: line 1, column 19"},
	{doc: "<xml><a>1</a></xml>x", why: "junk after document element: line 1, column 19"},
	{doc: "<xml><a>&#X41;</a></xml>", why: "not well-formed (invalid token): line 1, column 10"},
	{doc: "<xml><a>&#xD800;</a></xml>", why: "reference to invalid character number: line 1, column 8"},
	{doc: "<xml><a>&nbsp;</a></xml>", why: "undefined entity: line 1, column 8"},
	{doc: "<xml><a>1</ a></xml>", why: "not well-formed (invalid token): line 1, column 11"},
}

// TestFlatXMLExpatVerdicts: ParseFlatXML refuses what expat refuses, and
// reads what expat reads the same way, but what it refuses by design.
func TestFlatXMLExpatVerdicts(t *testing.T) {
	for _, tt := range xmlExpatVerdicts {
		root, p, err := ParseFlatXML([]byte(tt.doc))
		switch {
		case tt.root == "" || tt.design:
			if err == nil {
				t.Errorf("%q: read as %q %q; expat: %s", tt.doc, root, p, tt.why)
			}
		case err != nil || root != tt.root || !slices.Equal(p, tt.p):
			t.Errorf("%q: %q %q %v; expat reads %q %q", tt.doc, root, p, err, tt.root, tt.p)
		}
	}
}
