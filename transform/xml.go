package transform

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrXML is returned for every document the XML helpers refuse.
var ErrXML = errors.New("malformed or unsupported XML")

// ParseFlatXML reads a flat document — one root element whose children each
// hold text or CDATA, as WeChat Pay v2 and its notifications use — into
// Params in document order. It refuses DTDs and entity declarations (no
// expansion ever happens), unknown entities, attributes on children and
// nested elements. Values share memory with one copy of the body, so parsing
// costs a handful of allocations. The root's name is returned.
//
// It is ParseNestedXML with no level below the root's children.
func ParseFlatXML(body []byte) (root string, params Params, err error) {
	return parseXML(body, 1, 0)
}

// ParseFlatXMLBounded is ParseFlatXML for a document read before its
// signature is checked (a notification, a request to the sandbox): one of
// more than maxElements children is refused (ErrXML) once it has read that
// many, so that a body of thousands of one-byte elements costs no more than
// a provider's largest document (a 64 KiB one of 4000 elements cost 1.2 ms
// and 1.1 MB before its signature was found not to verify).
func ParseFlatXMLBounded(body []byte, maxElements int) (root string, params Params, err error) {
	return parseXML(body, 1, maxElements)
}

// ParseNestedXML reads a document under ParseFlatXML's rules, except that an
// element may hold child elements instead of text, up to maxDepth levels
// below the root (the root's children are level 1). Its leaves become
// Params in document order, each named by its path below the root joined
// with "/" ("miniProgramData/wechat/appID"); an element with children
// contributes its leaves only, and an empty or self-closing element is a
// leaf with an empty value. Mixed content — text or CDATA beside child
// elements, other than whitespace between them — is refused. Values share
// memory with one copy of the body; a nested leaf's path costs one
// allocation.
func ParseNestedXML(body []byte, maxDepth int) (root string, params Params, err error) {
	return parseXML(body, maxDepth, 0)
}

// parseXML is ParseNestedXML, refusing a document of more than maxLeaves
// leaves when maxLeaves is positive.
func parseXML(body []byte, maxDepth, maxLeaves int) (root string, params Params, err error) {
	s := string(body)
	i := skipProlog(s)
	if i < 0 {
		return "", nil, ErrXML
	}
	root, i, empty, ok := openTag(s, i)
	if !ok || empty { // "<xml/>": refused, never a v2 document
		return "", nil, ErrXML
	}
	// Every element but a self-closing one has two '<' (its start and end
	// tags), and a CDATA section one more and two '[': two byte counts,
	// which are vectorized (counting "</" costs twenty times as much), size
	// the slice at about its final length (self-closing leaves, which are
	// rare, and '[' in values grow it). The cap keeps a hostile body of
	// tags from buying a large allocation.
	elements := (strings.Count(s, "<") - strings.Count(s, "[")/2) / 2
	params = make(Params, 0, min(max(elements, 0), 64))
	if maxLeaves <= 0 {
		maxLeaves = len(s) // no bound: a leaf takes more than one byte
	}
	var stack [8]string
	open := append(stack[:0], root) // the elements open at i, the root first
	for {
		i = skipSpaceAndComments(s, i)
		if i < 0 || i >= len(s) || s[i] != '<' {
			return "", nil, ErrXML
		}
		if strings.HasPrefix(s[i:], "</") {
			end, ok := closeTag(s, i, open[len(open)-1])
			if !ok {
				return "", nil, ErrXML
			}
			if open, i = open[:len(open)-1], end; len(open) > 0 {
				continue
			}
			if skipSpaceAndComments(s, i) != len(s) {
				return "", nil, ErrXML
			}
			return root, params, nil
		}
		name, j, empty, ok := openTag(s, i)
		if !ok || len(open) > maxDepth || len(params) == maxLeaves { // an element len(open) levels below the root
			return "", nil, ErrXML
		}
		if empty { // self-closing leaf: <name/>
			if len(open) > 1 {
				name = leafPath(open, name)
			}
			params = append(params, Param{Name: name})
			i = j
			continue
		}
		if k := elementContent(s, j); k > 0 {
			open = append(open, name)
			i = k
			continue
		}
		value, k, ok := readText(s, j, name)
		if !ok {
			return "", nil, ErrXML
		}
		if len(open) > 1 {
			name = leafPath(open, name)
		}
		params = append(params, Param{Name: name, Value: value})
		i = k
	}
}

// elementContent tells whether the content starting at s[j] holds elements:
// past whitespace and comments, a start tag. It returns that tag's index,
// or 0 for text, CDATA, an end tag or anything malformed (readText then
// reads or refuses it, an element after text included).
func elementContent(s string, j int) int {
	if j >= len(s) {
		return 0
	}
	switch c := s[j]; {
	case c == '<':
		if j+1 < len(s) && s[j+1] == '!' && !strings.HasPrefix(s[j:], "<!--") { // CDATA, a directive
			return 0
		}
	case c != ' ' && c != '\t' && c != '\n' && c != '\r': // text, the common case
		return 0
	}
	k := skipSpaceAndComments(s, j)
	if k < 0 || k+1 >= len(s) || s[k] != '<' || !isNameByte(s[k+1], true) {
		return 0
	}
	return k
}

// leafPath names a leaf deeper than the root's children by its path below
// the root (open[0]), in one allocation.
func leafPath(open []string, name string) string {
	n := len(name)
	for _, o := range open[1:] {
		n += len(o) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, o := range open[1:] {
		b.WriteString(o)
		b.WriteByte('/')
	}
	b.WriteString(name)
	return b.String()
}

// skipProlog skips a UTF-8 byte order mark (which XML 1.0 §4.3.3 lets a
// UTF-8 document begin with: .NET's XmlWriter writes one by default), an
// optional <?xml ...?> declaration right after it (XML 1.0 §2.8: first in
// the document; after white space or a comment, Python's expat refuses it),
// whitespace and comments; a DOCTYPE or any other directive is refused
// (-1).
func skipProlog(s string) int {
	i := len(s) - len(strings.TrimPrefix(s, "\uFEFF"))
	if strings.HasPrefix(s[i:], "<?xml") {
		end := strings.Index(s[i:], "?>")
		if end < 0 || !validXMLDecl(s[i+5:i+end], s) {
			return -1
		}
		i += end + 2
	}
	return skipSpaceAndComments(s, i)
}

// validXMLDecl checks what follows "<?xml" in a declaration (XML 1.0 §2.8)
// of the document doc: version "1.0", then optionally encoding (one that
// reads as UTF-8: the body is read as UTF-8, never transcoded, see
// readsAsUTF8) and standalone, in that order.
func validXMLDecl(d, doc string) bool {
	names := [...]string{"version", "encoding", "standalone"}
	next := 0
	for {
		t := strings.TrimLeft(d, " \t\r\n")
		if t == "" {
			return next > 0
		}
		if len(t) == len(d) { // pseudo-attributes are separated by whitespace
			return false
		}
		eq := strings.IndexByte(t, '=')
		if eq < 0 {
			return false
		}
		name := strings.TrimRight(t[:eq], " \t\r\n")
		k := next
		for k < len(names) && names[k] != name {
			k++
		}
		if k == len(names) || next == 0 && k != 0 {
			return false
		}
		next = k + 1
		t = strings.TrimLeft(t[eq+1:], " \t\r\n")
		if t == "" || t[0] != '"' && t[0] != '\'' {
			return false
		}
		end := strings.IndexByte(t[1:], t[0])
		if end < 0 {
			return false
		}
		switch v := t[1 : 1+end]; name {
		case "version":
			if v != "1.0" {
				return false
			}
		case "encoding":
			if !readsAsUTF8(v, doc) {
				return false
			}
		case "standalone":
			if v != "yes" && v != "no" {
				return false
			}
		}
		d = t[2+end:]
	}
}

// readsAsUTF8 tells whether doc, declaring the encoding enc (a name XML
// 1.0 §4.3.3 compares without case), reads as the same characters when read
// as UTF-8: UTF-8 under either of its names (Python's ElementTree writes
// encoding='utf8' when given that name), or an encoding ASCII is part of
// when every byte of doc is ASCII, other characters being written as
// character references: US-ASCII (ElementTree's declaration by default,
// encoding='us-ascii'; lxml's 'ASCII') and ISO-8859-1 (Python's SAX
// XMLGenerator's default). A byte past ASCII under those, or any other
// encoding, would need transcoding: refused.
func readsAsUTF8(enc, doc string) bool {
	if strings.EqualFold(enc, "utf-8") || strings.EqualFold(enc, "utf8") {
		return true
	}
	if !slices.ContainsFunc(asciiEncodings[:], func(name string) bool { return strings.EqualFold(enc, name) }) {
		return false
	}
	for i := 0; i < len(doc); i++ {
		if doc[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiEncodings name the encodings in which an ASCII document reads as in
// UTF-8 that writers declare (readsAsUTF8).
var asciiEncodings = [...]string{"us-ascii", "ascii", "iso-8859-1", "iso_8859-1", "latin1", "latin-1"}

func skipSpaceAndComments(s string, i int) int {
	for i < len(s) {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "<!--"):
			if i = commentEnd(s, i); i < 0 {
				return -1
			}
		default:
			return i
		}
	}
	return i
}

// commentEnd returns the index after the comment starting at s[i:] ("<!--"),
// or -1: "--" may only appear in "-->", and the comment is XML characters
// (XML 1.0 §2.5), as a value is: bytes that are not UTF-8 make the document
// one a strict reader refuses, though nothing of the comment is read.
func commentEnd(s string, i int) int {
	k := strings.Index(s[i+4:], "--")
	if k < 0 || i+4+k+2 >= len(s) || s[i+4+k+2] != '>' || !ValidXMLText(s[i+4:i+4+k]) {
		return -1
	}
	return i + 4 + k + 3
}

// openTag reads "<name>" at i and returns the name and the index after '>'.
// For "<name/>" it reports empty and returns the index after "/>". Space
// may precede '>' or "/>" (XML 1.0 §3.1: Python's ElementTree writes an
// empty element as "<name />").
func openTag(s string, i int) (name string, next int, empty, ok bool) {
	if i < 0 || i >= len(s) || s[i] != '<' {
		return "", 0, false, false
	}
	j := i + 1
	for j < len(s) && isNameByte(s[j], j == i+1) {
		j++
	}
	if j == i+1 {
		return "", 0, false, false
	}
	name = s[i+1 : j]
	j = skipSpace(s, j)
	switch {
	case j >= len(s):
	case s[j] == '>':
		return name, j + 1, false, true
	case s[j] == '/' && j+1 < len(s) && s[j+1] == '>':
		return name, j + 2, true, true
	}
	return "", 0, false, false // attributes, directives, processing instructions
}

// closeTag reads the end tag "</name>" (space allowed before '>') at i and
// returns the index after it.
func closeTag(s string, i int, name string) (int, bool) {
	end := i + 2 + len(name)
	if !strings.HasPrefix(s[i+2:], name) {
		return 0, false
	}
	if end = skipSpace(s, end); end >= len(s) || s[end] != '>' {
		return 0, false
	}
	return end + 1, true
}

// skipSpace returns the index of the first byte from i that is not XML
// white space.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func isNameByte(c byte, first bool) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' ||
		!first && ('0' <= c && c <= '9' || c == '-' || c == '.')
}

// readText reads character data and CDATA sections up to </name>. Line
// ends are normalized as XML 1.0 §2.11 requires ("\r\n" and a lone "\r" read
// as "\n"; "&#13;" stays "\r"), and the value must consist of XML characters.
func readText(s string, i int, name string) (string, int, bool) {
	var b []byte // only used when the value is not one contiguous slice
	parts := 0
	single := ""
	add := func(v string) {
		parts++
		if parts == 1 {
			single = v
			return
		}
		if parts == 2 {
			b = append(b, single...)
		}
		b = append(b, v...)
	}
	for i < len(s) {
		switch {
		case strings.HasPrefix(s[i:], "<![CDATA["):
			end := strings.Index(s[i+9:], "]]>")
			if end < 0 {
				return "", 0, false
			}
			add(normalizeNewlines(s[i+9 : i+9+end]))
			i += 9 + end + 3
		case strings.HasPrefix(s[i:], "</"):
			end, ok := closeTag(s, i, name)
			if !ok {
				return "", 0, false
			}
			var v string
			switch parts {
			case 0:
			case 1:
				v = single
			default:
				v = string(b)
			}
			if !ValidXMLText(v) {
				return "", 0, false
			}
			return v, end, true
		case strings.HasPrefix(s[i:], "<!--"):
			if i = commentEnd(s, i); i < 0 { // the comment only, not the text after it
				return "", 0, false
			}
		case s[i] == '<':
			return "", 0, false // nested element
		default:
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				return "", 0, false
			}
			text := s[i : i+j]
			if strings.Contains(text, "]]>") {
				return "", 0, false
			}
			text = normalizeNewlines(text)
			if strings.IndexByte(text, '&') >= 0 {
				var ok bool
				if text, ok = unescape(text); !ok {
					return "", 0, false
				}
			}
			add(text)
			i += j
		}
	}
	return "", 0, false
}

func unescape(s string) (string, bool) {
	var b strings.Builder
	for {
		amp := strings.IndexByte(s, '&')
		if amp < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		b.WriteString(s[:amp])
		semi := strings.IndexByte(s[amp:], ';')
		if semi < 0 {
			return "", false
		}
		ent := s[amp+1 : amp+semi]
		switch ent {
		case "lt":
			b.WriteByte('<')
		case "gt":
			b.WriteByte('>')
		case "amp":
			b.WriteByte('&')
		case "quot":
			b.WriteByte('"')
		case "apos":
			b.WriteByte('\'')
		default:
			if len(ent) < 2 || ent[0] != '#' {
				return "", false
			}
			var n uint64
			var err error
			if ent[1] == 'x' {
				n, err = strconv.ParseUint(ent[2:], 16, 32)
			} else {
				n, err = strconv.ParseUint(ent[1:], 10, 32)
			}
			r := rune(n)
			if err != nil || !isXMLChar(r) {
				return "", false
			}
			b.WriteRune(r)
		}
		s = s[amp+semi+1:]
	}
}

// normalizeNewlines reads "\r\n" and a lone "\r" of the raw document as "\n".
func normalizeNewlines(v string) string {
	if strings.IndexByte(v, '\r') < 0 {
		return v
	}
	return strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", "\n"), "\r", "\n")
}

// ValidXMLText tells whether v is UTF-8 made of XML 1.0 characters (XML 1.0
// §2.2), so that it survives a document unchanged.
func ValidXMLText(v string) bool {
	i := 0
	// Eight bytes at a time while they are all printable ASCII (0x20 to
	// 0x7f), the usual value: the expression has a high bit set for any
	// byte below 0x20 or from 0x80 (and may for a printable byte after such
	// a one), so the bytes from the first chunk it flags are read one by one.
	for ; i+8 <= len(v); i += 8 {
		x := uint64(v[i]) | uint64(v[i+1])<<8 | uint64(v[i+2])<<16 | uint64(v[i+3])<<24 |
			uint64(v[i+4])<<32 | uint64(v[i+5])<<40 | uint64(v[i+6])<<48 | uint64(v[i+7])<<56
		if ((x-0x2020202020202020)&^x|x)&0x8080808080808080 != 0 {
			break
		}
	}
	for i < len(v) {
		if c := v[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return false
		}
		i += size
	}
	return true
}

func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// AppendFlatXML writes params as <root><name><![CDATA[value]]></name>...</root>,
// the sets one after the other (a signature computed over the first can
// follow it without a copy of the set). A nil dst is allocated once at the
// document's size (values holding "\r" or "]]>", which take a few bytes
// more, grow it).
func AppendFlatXML(dst []byte, root string, sets ...Params) []byte {
	if dst == nil {
		n := 2*len(root) + 5
		for _, params := range sets {
			for _, p := range params {
				n += 2*len(p.Name) + len(p.Value) + len("<></><![CDATA[]]>")
			}
		}
		dst = make([]byte, 0, n)
	}
	dst = append(dst, '<')
	dst = append(dst, root...)
	dst = append(dst, '>')
	for _, params := range sets {
		for _, p := range params {
			dst = append(dst, '<')
			dst = append(dst, p.Name...)
			dst = append(dst, '>')
			dst = AppendCDATA(dst, p.Value)
			dst = append(dst, "</"...)
			dst = append(dst, p.Name...)
			dst = append(dst, '>')
		}
	}
	dst = append(dst, "</"...)
	dst = append(dst, root...)
	return append(dst, '>')
}

// AppendCDATA writes v as one or more CDATA sections so the value survives
// byte for byte: "]]>" inside v is split across two sections, and "\r" is
// written as "&#13;" between sections (a raw one would be read as "\n").
func AppendCDATA(dst []byte, v string) []byte {
	dst = append(dst, "<![CDATA["...)
	for {
		k := strings.IndexByte(v, '\r')
		if k < 0 {
			break
		}
		dst = appendCDATABody(dst, v[:k])
		dst = append(dst, "]]>&#13;<![CDATA["...)
		v = v[k+1:]
	}
	dst = appendCDATABody(dst, v)
	return append(dst, "]]>"...)
}

func appendCDATABody(dst []byte, v string) []byte {
	for {
		k := strings.Index(v, "]]>")
		if k < 0 {
			return append(dst, v...)
		}
		dst = append(dst, v[:k+2]...)
		dst = append(dst, "]]><![CDATA["...)
		v = v[k+2:]
	}
}
