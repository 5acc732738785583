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
// digits, '_', '-' and '.', a root that is not self-closing. A declared
// encoding is taken as ParseFlatXML takes it (README XML): utf8, or one
// ASCII is part of in a document all in ASCII, as UTF-8.
type stdFlat struct {
	ok, plain bool
	root      string
	p         Params
}

var (
	asciiXMLName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
	charRef      = regexp.MustCompile(`&#(x[0-9A-Fa-f]+|[0-9]+);`)
	// XMLDecl (XML 1.0 §2.8, §4.3.3), of version 1.0 (as encoding/xml
	// takes it): encoding/xml reads <?xml version="1.0"g?>.
	xmlDecl = regexp.MustCompile(`^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*("1\.0"|'1\.0')` +
		`([ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*("[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?` +
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
	// encoding/xml takes only utf-8 without a CharsetReader: one that reads
	// as UTF-8 (README XML) is given through unchanged, any other refused.
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if !readAsUTF8(label, doc) {
			return nil, errors.New("not read as UTF-8")
		}
		return in, nil
	}
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
			decl := xmlDecl.FindSubmatch(doc[:dec.InputOffset()])
			if tok.Target != "xml" || !first || start != 0 || decl == nil {
				return stdFlat{} // XML 1.0 §2.8: the declaration only first, and well-formed
			}
			// encoding/xml skips encoding= "x" (a space before the quote).
			if enc := bytes.Trim(decl[3], `"'`); len(enc) != 0 && !readAsUTF8(string(enc), doc) {
				r.plain = false
			}
		case xml.Directive:
			r.plain = false
		}
	}
}

// readAsUTF8 tells whether doc, declaring the encoding label, is read as
// UTF-8 (README XML): utf-8, utf8, or one ASCII is part of in a document
// all in ASCII.
func readAsUTF8(label string, doc []byte) bool {
	ascii := !slices.ContainsFunc(doc, func(c byte) bool { return c >= 0x80 })
	for _, name := range []string{"us-ascii", "ascii", "iso-8859-1", "iso_8859-1", "latin1", "latin-1"} {
		if strings.EqualFold(label, name) && ascii {
			return true
		}
	}
	return strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8")
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
	f.Add([]byte(`<?xml version="1.0" encoding="US-ASCII"?><xml><a>&#25903;</a></xml>`))
	f.Add([]byte("<?xml version='1.0' encoding='latin1'?><xml><a>\xe9</a></xml>"))
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
