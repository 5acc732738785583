package caddymodule

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/minipay/caddy-minipay/transform"
)

// An input to `caddy minipay verify` may be the whole HTTP message a
// notification or an answer came in, as nc -l, tcpdump or curl -i save it:
// its headers are then --header lines and its body the input (README
// "caddy minipay verify").

// httpStartLine matches an HTTP/1.x request line or an HTTP status line
// (curl -i writes "HTTP/2 200" for HTTP/2), ending in CRLF or, in a file
// an editor saved, LF. No provider's body starts like either.
var httpStartLine = regexp.MustCompile(`^(?:[A-Z]+ [!-~]+ HTTP/[0-9](?:\.[0-9])?|HTTP/[0-9](?:\.[0-9])? ([1-5][0-9][0-9])(?: [^\r\n]*)?)\r?\n`)

// httpRequestLine is the method and the request target of b's request
// line, or "" when b does not start with one.
func httpRequestLine(b []byte) (method, target string) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if !httpStartLine.Match(b) || bytes.HasPrefix(line, []byte("HTTP/")) {
		return "", ""
	}
	method, rest, _ := strings.Cut(string(line), " ")
	target, _, _ = strings.Cut(rest, " ")
	return method, target
}

// chunkSizeLine matches the first line of a chunked body (RFC 9112 §7.1).
// A body under "Transfer-Encoding: chunked" that does not start with one
// was saved decoded, as curl -i saves it, and is taken as it is.
var chunkSizeLine = regexp.MustCompile(`^[0-9a-fA-F]{1,16}[ \t]*(?:;[^\r\n]*)?\r?\n`)

// splitHTTPMessage returns the headers and the body of b when b is an HTTP
// message; ok is false when it is not one (a body alone). The body is read
// as its framing says: chunked (unless saved decoded), or Content-Length
// bytes (what follows is not part of the message, such as a line break an
// editor added; unless saved decoded), or the rest of b without either. An
// interim 1xx response before the final one is skipped. A message cut short
// of its framing is an error.
func splitHTTPMessage(b []byte) (header http.Header, body []byte, ok bool, err error) {
	m := httpStartLine.FindSubmatch(b)
	if m == nil {
		return nil, nil, false, nil
	}
	for {
		if header, b, err = readHead(b[len(m[0]):]); err != nil {
			return nil, nil, true, err
		}
		if len(m[1]) == 0 || m[1][0] != '1' {
			break
		}
		// An interim response (100 Continue): the final one follows.
		if m = httpStartLine.FindSubmatch(b); m == nil {
			return nil, nil, true, errors.New("the input is an HTTP message with an interim 1xx response and no final one")
		}
	}
	r := bytes.NewReader(b)
	switch length := header.Get("Content-Length"); {
	case strings.EqualFold(strings.TrimSpace(lastToken(header.Get("Transfer-Encoding"))), "chunked") && chunkSizeLine.Match(b):
		if body, err = io.ReadAll(httputil.NewChunkedReader(bufio.NewReader(r))); err != nil {
			return nil, nil, true, fmt.Errorf("the input is an HTTP message whose chunked body does not read: %v", err)
		}
	case length != "" && savedDecoded(header, b):
		// curl -i --compressed keeps the coded body's Content-Length.
		body = b
	case length != "":
		n, perr := strconv.ParseInt(strings.TrimSpace(length), 10, 64)
		if perr != nil || n < 0 || n > maxInput {
			return nil, nil, true, errors.New("the input is an HTTP message with an invalid Content-Length")
		}
		if int64(len(b)) < n {
			return nil, nil, true, fmt.Errorf("the input is an HTTP message cut short: Content-Length says %d bytes, the body has %d", n, len(b))
		}
		body = b[:n]
	default:
		body = b
	}
	// The framing was the message's, not the body's.
	header.Del("Transfer-Encoding")
	header.Del("Content-Length")
	return header, body, true, nil
}

// savedDecoded tells whether a body under a Content-Encoding was saved
// decoded, as curl -i --compressed saves it (the headers as received, the
// body as it reads it): it does not begin as gzip does (1f 8b), the one
// coding the webhook removes. Such a body is taken as it is, for the
// webhook's verdict and verify's hint that it verifies without the header.
func savedDecoded(header http.Header, b []byte) bool {
	codings, ok := transform.ContentCodings(header) // a list too long to read is refused however framed
	coded := ok && slices.ContainsFunc(codings, func(c string) bool { return c != "identity" })
	return coded && !bytes.HasPrefix(b, []byte{0x1f, 0x8b})
}

// readHead reads the header lines that follow a start line, up to the
// empty line (CRLF or LF line ends), and returns them with what follows.
// A line that is no "Name: value" (RFC 9112 §5: a token, the colon right
// after it) is named by its number, never quoted: it may be a key pasted
// in the wrong place.
func readHead(b []byte) (http.Header, []byte, error) {
	header := http.Header{}
	last := ""
	for n := 1; ; n++ {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, nil, errors.New("the input is an HTTP message whose head does not end: an empty line must follow the header lines")
		}
		line := string(bytes.TrimSuffix(b[:i], []byte("\r")))
		b = b[i+1:]
		switch {
		case line == "":
			return header, b, nil
		case (line[0] == ' ' || line[0] == '\t') && last != "":
			// An obsolete folded line continues the previous value.
			vs := header[last]
			vs[len(vs)-1] = strings.TrimSpace(vs[len(vs)-1] + " " + strings.TrimSpace(line))
			continue
		}
		name, value, found := strings.Cut(line, ":")
		if !found || !transform.ValidHeaderName(name) {
			return nil, nil, fmt.Errorf("the input is an HTTP message whose header line #%d is not \"Name: value\" (its text is not shown: it may be a secret)", n)
		}
		last = http.CanonicalHeaderKey(name)
		header[last] = append(header[last], strings.TrimSpace(value))
	}
}

// lastToken is the last comma-separated element of a list header: the
// transfer coding applied last.
func lastToken(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		return v[i+1:]
	}
	return v
}
