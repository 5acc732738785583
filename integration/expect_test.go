package integration

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// expectExchange sends a request's head with Expect: 100-continue and a
// Content-Length of length, on a connection of its own, and returns the
// reader of what the server answers (within 10 s: a server waiting for a
// body it never asked for answers nothing).
func expectExchange(t *testing.T, port int, method, path, contentType string, length int) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1:"+itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: " + strconv.Itoa(length) + "\r\n"
	if contentType != "" {
		head += "Content-Type: " + contentType + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// TestExpectContinueRefusedAtOnce: README "Merchant API" (HTTP). A client
// that sends Expect: 100-continue holds its body back until the server asks
// for it (RFC 9110 §10.1.1). A request refused before its body is needed
// (its operation, method, media type, declared size; the same on the
// webhook and sandbox routes) is answered at once with Connection: close,
// and the body is never asked for: the client neither waits for its expect
// timeout nor uploads a body that is refused anyway (it closes the
// connection, as the answer says). A request whose body
// is needed gets 100 Continue, its answer, and a connection that stays open.
func TestExpectContinueRefusedAtOnce(t *testing.T) {
	_, merchant, sandbox, _ := startExample(t)
	const huge = 1 << 20
	refused := []struct {
		name              string
		port              int
		method, path, ct  string
		length, status    int
		errorCode, nackCT string
	}{
		{"unknown operation", merchant, "POST", "/wechat/capture", "application/json", 20, 404, "unknown_operation", ""},
		{"method", merchant, "PUT", "/wechat/pay", "application/json", 20, 405, "method_not_allowed", ""},
		{"media type", merchant, "POST", "/wechat/pay", "text/plain", 20, 415, "unsupported_media_type", ""},
		{"declared size", merchant, "POST", "/wechat/pay", "application/json", huge, 413, "request_too_large", ""},
		{"login declared size", merchant, "POST", "/wxlogin/login", "application/json", huge, 413, "request_too_large", ""},
		{"webhook method", merchant, "PUT", "/webhooks/wechat_v2", "text/xml", 20, 405, "", "text/xml; charset=utf-8"},
		{"webhook declared size", merchant, "POST", "/webhooks/cbtis", "application/json", huge, 413, "", "text/plain; charset=utf-8"},
		{"webhook v3 declared size", merchant, "POST", "/webhooks/wechat_v3", "application/json", huge, 413, "", "application/json"},
		{"sandbox complete declared size", sandbox, "POST", "/sandbox/complete", "application/json", huge, 413, "request_too_large", ""},
		{"sandbox complete method", sandbox, "PUT", "/sandbox/complete", "application/json", 20, 405, "method_not_allowed", ""},
		{"console method", sandbox, "POST", "/sandbox/", "application/json", 20, 405, "method_not_allowed", ""},
		{"merchant events method", sandbox, "PUT", "/sandbox/merchant/events", "application/json", 20, 405, "method_not_allowed", ""},
		{"sandbox path", sandbox, "POST", "/nowhere", "application/json", 20, 404, "not_found", ""},
		{"sandbox API method", sandbox, "POST", "/v2/transaction/X1", "application/json", 20, 405, "", ""},
		{"console redirect", sandbox, "POST", "/sandbox", "application/json", 20, 301, "", ""},
		{"merchant site, a path no route handles (Caddyfile.example's respond 404 with close)", merchant, "POST", "/webhooks/wechat_v3/", "application/json", huge, 404, "", ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, br := expectExchange(t, tt.port, tt.method, tt.path, tt.ct, tt.length)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer before the body was sent: %v", err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			if res.StatusCode != tt.status || !res.Close {
				t.Fatalf("%d (Connection: close %v) %s, want %d and the connection closed", res.StatusCode, res.Close, body, tt.status)
			}
			switch {
			case tt.errorCode != "":
				r := response{status: res.StatusCode, header: res.Header, body: body}
				if code := r.errorOf(t)["code"]; code != tt.errorCode || res.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("code %v, Content-Type %q: %s", code, res.Header.Get("Content-Type"), body)
				}
			case tt.nackCT != "":
				if ct := res.Header.Get("Content-Type"); ct != tt.nackCT || len(body) == 0 {
					t.Fatalf("failure form %q %q, want %q", ct, body, tt.nackCT)
				}
			}
			if tt.status == 405 && res.Header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}

	needed := []struct {
		name   string
		port   int
		path   string
		ct     string
		body   string
		status int
	}{
		{"merchant API", merchant, "/wechat/query", "application/json", `{"order_id":"EXPECT-1"}`, 422},
		{"webhook", merchant, "/webhooks/wechat_v2", "text/xml", `<xml><return_code>SUCCESS</return_code></xml>`, 401},
		{"sandbox complete", sandbox, "/sandbox/complete", "application/json", `{"provider":"wechat_v2","order_id":"EXPECT-1","result":"succeeded"}`, 400},
	}
	for _, tt := range needed {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, br := expectExchange(t, tt.port, "POST", tt.path, tt.ct, len(tt.body))
			res, err := http.ReadResponse(br, nil)
			if err != nil || res.StatusCode != http.StatusContinue {
				t.Fatalf("%v %v, want 100 Continue", res, err)
			}
			if _, err := io.WriteString(conn, tt.body); err != nil {
				t.Fatal(err)
			}
			if res, err = http.ReadResponse(br, nil); err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || res.Close {
				t.Fatalf("%d (Connection: close %v) %s, want %d on an open connection", res.StatusCode, res.Close, body, tt.status)
			}
			// The connection serves the next request.
			if _, err := io.WriteString(conn, "GET /wechat/pay HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			if res, err = http.ReadResponse(br, nil); err != nil {
				t.Fatalf("the next request: %v", err)
			}
			res.Body.Close()
			if want := map[int]int{merchant: 405, sandbox: 404}[tt.port]; res.StatusCode != want {
				t.Fatalf("the next request: %d, want %d", res.StatusCode, want)
			}
		})
	}
}
