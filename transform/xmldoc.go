package transform

import (
	"bytes"

	"github.com/beevik/etree"
)

// Outside the tests only this file imports etree, so the dependency has
// one place to go from.

// ParseXMLDocument reads a nested document into an etree DOM, for a caller
// who wants one (the providers read theirs with ParseFlatXML and
// ParseNestedXML), refusing DTDs and directives so no entity is ever
// declared or expanded; unknown entities fail in encoding/xml's strict mode.
func ParseXMLDocument(body []byte) (*etree.Document, error) {
	if bytes.Contains(body, []byte("<!")) && (bytes.Contains(body, []byte("<!DOCTYPE")) || bytes.Contains(body, []byte("<!ENTITY"))) {
		return nil, ErrXML
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{}
	if err := doc.ReadFromBytes(body); err != nil {
		return nil, ErrXML
	}
	if hasDirective(doc.Child) {
		return nil, ErrXML
	}
	if doc.Root() == nil {
		return nil, ErrXML
	}
	return doc, nil
}

// hasDirective tells whether a directive (<!...>) occurs anywhere, inside
// elements too: encoding/xml reads one wherever it stands.
func hasDirective(tokens []etree.Token) bool {
	for _, t := range tokens {
		switch x := t.(type) {
		case *etree.Directive:
			return true
		case *etree.Element:
			if hasDirective(x.Child) {
				return true
			}
		}
	}
	return false
}
