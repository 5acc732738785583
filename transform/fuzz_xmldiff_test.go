package transform

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// stdFlat is a document as encoding/xml (Strict) reads it: ok when it is
// one well-formed flat document, and plain when it holds nothing
// ParseFlatXML refuses by design (README XML): no DTD or other directive,
// no processing instruction but a declaration first, of version 1.0 and
// UTF-8, no attribute or namespace prefix, element names of ASCII letters,
// digits, '_', '-' and '.', a root that is not self-closing.
type stdFlat struct {
	ok, plain bool
	root      string
	p         Params
}

var (
	asciiXMLName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	charRef      = regexp.MustCompile(`&#(x[0-9A-Fa-f]+|[0-9]+);`)
	// XMLDecl (XML 1.0 §2.8, §4.3.3), of version 1.0 and UTF-8 (as
	// encoding/xml takes it): encoding/xml reads <?xml version="1.0"g?>.
	xmlDecl = regexp.MustCompile(`^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*("1\.0"|'1\.0')` +
		`([ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*("(?i:utf-8)"|'(?i:utf-8)'))?` +
		`([ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*("(yes|no)"|'(yes|no)'))?[ \t\r\n]*\?>$`)
)

// readStdFlat reads doc with encoding/xml's tokens. encoding/xml takes more
// than XML 1.0 does (a second root or text after the root, a declaration
// after white space, a comment that is not characters); those are not ok
// here, and the text outside the root and the comments are checked as XML
// characters by isXMLString.
func readStdFlat(doc []byte) stdFlat {
	r := stdFlat{plain: true}
	// encoding/xml reads a character reference to no XML character (&#xD800;)
	// as U+FFFD, and a byte order mark as text (XML 1.0 §4.3.3: it is none).
	for _, m := range charRef.FindAllSubmatch(doc, -1) {
		n, err := strconv.ParseUint(strings.TrimPrefix(string(m[1]), "x"), map[bool]int{true: 16, false: 10}[m[1][0] == 'x'], 32)
		if err != nil || !utf8.ValidRune(rune(n)) || !isXMLString(string(rune(n))) {
			return stdFlat{}
		}
	}
	doc = bytes.TrimPrefix(doc, []byte("\uFEFF"))
	dec := xml.NewDecoder(bytes.NewReader(doc))
	depth, ended := 0, false
	var text strings.Builder
	for first := true; ; first = false {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			r.ok = ended
			return r
		}
		if err != nil {
			return stdFlat{}
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if ended || depth >= 2 {
				return stdFlat{}
			}
			if len(tok.Attr) != 0 || tok.Name.Space != "" || !asciiXMLName.MatchString(tok.Name.Local) {
				r.plain = false
			}
			if depth == 0 {
				r.root = tok.Name.Local
				if bytes.HasSuffix(doc[:dec.InputOffset()], []byte("/>")) {
					r.plain = false
				}
			}
			text.Reset()
			depth++
		case xml.EndElement:
			if depth--; depth == 1 {
				r.p = append(r.p, Param{Name: tok.Name.Local, Value: text.String()})
			}
			ended = depth == 0
		case xml.CharData:
			switch {
			case depth == 2:
				text.Write(tok)
			case strings.Trim(string(doc[start:dec.InputOffset()]), " \t\r\n") != "":
				return stdFlat{} // text in the root or outside it (&#13; too: ParseFlatXML's design)
			}
		case xml.Comment:
			if !isXMLString(string(tok)) {
				return stdFlat{}
			}
		case xml.ProcInst:
			if tok.Target != "xml" || !first || start != 0 || !xmlDecl.Match(doc[:dec.InputOffset()]) {
				return stdFlat{} // XML 1.0 §2.8: the declaration only first, and well-formed
			}
		case xml.Directive:
			r.plain = false
		}
	}
}

// FuzzFlatXMLDifferential holds ParseFlatXML to encoding/xml both ways: a
// document it accepts, encoding/xml reads as one flat document with the
// same root and the same children and text in order; and a flat document
// encoding/xml reads, holding nothing ParseFlatXML refuses by design
// (stdFlat's plain), ParseFlatXML accepts with the same reading.
// (Python's expat, a stricter reader, agreed on a corpus of this target's
// inputs: see TestFlatXMLExpatVerdicts.)
func FuzzFlatXMLDifferential(f *testing.F) {
	for _, s := range flatXMLSeeds {
		f.Add([]byte(s))
	}
	for _, s := range xmlExpatVerdicts {
		f.Add([]byte(s.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		root, p, err := ParseFlatXML(doc)
		std := readStdFlat(doc)
		if err == nil && (!std.ok || std.root != root || !slices.Equal(std.p, p)) {
			t.Fatalf("%q: read as %q %q, encoding/xml %+v", doc, root, p, std)
		}
		if err != nil && std.ok && std.plain {
			t.Fatalf("%q: refused (%v), encoding/xml reads %q %q", doc, err, std.root, std.p)
		}
		if err != nil && !errors.Is(err, ErrXML) {
			t.Fatalf("%q: %v, want ErrXML", doc, err)
		}
	})
}
