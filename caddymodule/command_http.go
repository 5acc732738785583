package caddymodule

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
)

// An input to `caddy minipay verify` may be the whole HTTP message a
// notification or an answer came in, as nc -l, tcpdump or curl -i save it:
// its headers are then --header lines and its body the input (README
// "caddy minipay verify").

// httpStartLine matches an HTTP/1.x request line or an HTTP status line
// (curl -i writes "HTTP/2 200" for HTTP/2), ending in CRLF or, in a file
// an editor saved, LF. No provider's body starts like either.
var httpStartLine = regexp.MustCompile(`^(?:[A-Z]+ [!-~]+ HTTP/[0-9](?:\.[0-9])?|HTTP/[0-9](?:\.[0-9])? ([1-5][0-9][0-9])(?: [^\r\n]*)?)\r?\n`)

// splitHTTPMessage returns the headers and the body of b when b is an HTTP
// message; ok is false when it is not one (a body alone). The body is read
// as its framing says: chunked, or Content-Length bytes (what follows is
// not part of the message, such as a line break an editor added), or the
// rest of b without either. An interim 1xx response before the final one
// is skipped. A message cut short of its framing is an error.
func splitHTTPMessage(b []byte) (header http.Header, body []byte, ok bool, err error) {
	m := httpStartLine.FindSubmatch(b)
	if m == nil {
		return nil, nil, false, nil
	}
	r := bufio.NewReader(bytes.NewReader(b))
	for {
		if _, err := r.ReadString('\n'); err != nil { // the start line, matched above
			return nil, nil, true, errors.New("the input is an HTTP message cut short in its start line")
		}
		mime, err := textproto.NewReader(r).ReadMIMEHeader()
		if err != nil {
			return nil, nil, true, fmt.Errorf("the input is an HTTP message whose head does not read (a header line, then an empty line before the body): %v", err)
		}
		header = http.Header(mime)
		if len(m[1]) == 0 || m[1][0] != '1' {
			break
		}
		// An interim response (100 Continue): the final one follows.
		rest, _ := io.ReadAll(r)
		if m = httpStartLine.FindSubmatch(rest); m == nil {
			return nil, nil, true, errors.New("the input is an HTTP message with an interim 1xx response and no final one")
		}
		r = bufio.NewReader(bytes.NewReader(rest))
	}
	switch length := header.Get("Content-Length"); {
	case strings.EqualFold(strings.TrimSpace(lastToken(header.Get("Transfer-Encoding"))), "chunked"):
		if body, err = io.ReadAll(httputil.NewChunkedReader(r)); err != nil {
			return nil, nil, true, fmt.Errorf("the input is an HTTP message whose chunked body does not read: %v", err)
		}
	case length != "":
		n, perr := strconv.ParseInt(strings.TrimSpace(length), 10, 64)
		if perr != nil || n < 0 || n > maxInput {
			return nil, nil, true, errors.New("the input is an HTTP message with an invalid Content-Length")
		}
		body = make([]byte, n)
		if got, _ := io.ReadFull(r, body); int64(got) < n {
			return nil, nil, true, fmt.Errorf("the input is an HTTP message cut short: Content-Length says %d bytes, the body has %d", n, got)
		}
	default:
		body, _ = io.ReadAll(r)
	}
	// The framing was the message's, not the body's.
	header.Del("Transfer-Encoding")
	header.Del("Content-Length")
	return header, body, true, nil
}

// lastToken is the last comma-separated element of a list header: the
// transfer coding applied last.
func lastToken(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		return v[i+1:]
	}
	return v
}
