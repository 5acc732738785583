package transform

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
)

// ErrInflateTooLarge is Gunzip's answer to a body that inflates past its bound.
var ErrInflateTooLarge = errors.New("transform: the body inflates past its bound")

// ErrContentCoding is DecodeContent's answer to a Content-Encoding it does
// not remove: a coding other than gzip, x-gzip and identity, more gzip
// layers than MaxGzipLayers, or a list longer than MaxCodingElements.
var ErrContentCoding = errors.New("transform: unsupported Content-Encoding")

// MaxGzipLayers bounds the gzip codings DecodeContent removes from one body:
// each layer may cost up to its bound in inflating, and no provider
// compresses twice (a proxy compressing a compressed answer would be the
// second).
const MaxGzipLayers = 2

// Gunzip inflates a gzip body, reading at most max bytes of output: a few
// compressed bytes must not cost more memory than an uncompressed body may.
func Gunzip(body []byte, max int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > max {
		return nil, ErrInflateTooLarge
	}
	return out, nil
}

// MaxCodingElements bounds the elements of a Content-Encoding list (over
// all its header lines, empty elements included) that are read: a list of
// more is refused after reading that many, whatever its length. RFC 9110
// §5.6.1 asks a recipient to ignore "a reasonable number" of empty
// elements; no sender lists more than a few codings, and a header line of
// 18 KiB (Caddy's default max_header_size is 16 KiB, plus Go's slack) cost
// 0.85 ms of CPU per request to list whole, a megabyte (Go's own default,
// or a raised max_header_size: "a," 500000 times) 57 ms and 45 MB.
const MaxCodingElements = 16

// ContentCodings lists the codings of header's Content-Encoding in the order
// they were applied, lowercased (a coding is case-insensitive) and with
// x-gzip read as gzip (RFC 9110 §8.4.1): every header line, each a
// comma-separated list, whose empty elements are ignored (§5.6.1), as one
// list (§5.3). ok is false for a list of more than MaxCodingElements
// elements, which its callers refuse as a coding they do not remove.
func ContentCodings(header http.Header) (codings []string, ok bool) {
	elements := 0
	for _, line := range header.Values("Content-Encoding") {
		for c := range strings.SplitSeq(line, ",") {
			if elements++; elements > MaxCodingElements {
				return nil, false
			}
			switch c = strings.Trim(c, " \t"); {
			case c == "":
				continue
			case strings.EqualFold(c, "identity"): // no copy for the usual names
				c = "identity"
			case strings.EqualFold(c, "gzip"), strings.EqualFold(c, "x-gzip"):
				c = "gzip"
			default:
				c = strings.ToLower(c)
			}
			codings = append(codings, c)
		}
	}
	return codings, true
}

// DecodeContent removes the codings header's Content-Encoding lists, last
// applied first (RFC 9110 §8.4), when each is gzip, x-gzip or identity and
// there are at most MaxGzipLayers gzip ones; any other list is
// ErrContentCoding, checked before anything is inflated. Nothing is inflated
// that Content-Encoding did not ask for, and the result, like each layer's
// output, is at most max bytes (ErrInflateTooLarge otherwise).
func DecodeContent(header http.Header, body []byte, max int) ([]byte, error) {
	if len(body) > max {
		return nil, ErrInflateTooLarge
	}
	codings, ok := ContentCodings(header)
	if !ok {
		return nil, ErrContentCoding
	}
	layers := 0
	for _, c := range codings {
		switch c {
		case "identity":
		case "gzip":
			layers++
		default:
			return nil, ErrContentCoding
		}
	}
	if layers > MaxGzipLayers {
		return nil, ErrContentCoding
	}
	for i := len(codings) - 1; i >= 0; i-- {
		if codings[i] != "gzip" {
			continue
		}
		out, err := Gunzip(body, max)
		if err != nil {
			return nil, err
		}
		body = out
	}
	return body, nil
}
