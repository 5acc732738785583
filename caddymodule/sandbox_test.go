package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// TestSandboxOwnEndpointsRefuseOtherMethods: each of the sandbox's own
// endpoints answers a method it does not serve with 405
// method_not_allowed and an Allow header listing the methods it does serve
// (RFC 9110 §15.5.6: a 405 MUST carry Allow).
func TestSandboxOwnEndpointsRefuseOtherMethods(t *testing.T) {
	tests := []struct {
		method, path, allow string
	}{
		{http.MethodGet, "/sandbox/complete", "POST"},
		{http.MethodPut, "/sandbox/", "GET, HEAD"},
		{http.MethodPut, "/sandbox/merchant/events", "GET, HEAD, POST"},
		{http.MethodDelete, "/sandbox/merchant/events", "GET, HEAD, POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			s := &Sandbox{demo: new(demoMerchant), notes: new(notificationLog)}
			w := httptest.NewRecorder()
			if err := s.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil), nil); err != nil {
				t.Fatal(err)
			}
			var body struct{ Error transform.Error }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusMethodNotAllowed ||
				body.Error.Code != transform.CodeMethodNotAllowed {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Fatalf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestSandboxReadEndpointsAnswerHEAD: the sandbox's pages that answer GET
// answer HEAD too, as RFC 9110 §9.3.2 asks of every GET resource (curl -I):
// the console did, the demo merchant's event list was a 405.
func TestSandboxReadEndpointsAnswerHEAD(t *testing.T) {
	for _, path := range []string{"/sandbox/", "/sandbox/merchant/events"} {
		t.Run(path, func(t *testing.T) {
			s := &Sandbox{demo: new(demoMerchant), notes: new(notificationLog)}
			get := httptest.NewRecorder()
			if err := s.ServeHTTP(get, httptest.NewRequest(http.MethodGet, path, nil), nil); err != nil {
				t.Fatal(err)
			}
			head := httptest.NewRecorder()
			if err := s.ServeHTTP(head, httptest.NewRequest(http.MethodHead, path, nil), nil); err != nil {
				t.Fatal(err)
			}
			if get.Code != http.StatusOK || head.Code != get.Code || head.Header().Get("Content-Type") != get.Header().Get("Content-Type") {
				t.Fatalf("GET %d %q, HEAD %d %q", get.Code, get.Header().Get("Content-Type"), head.Code, head.Header().Get("Content-Type"))
			}
		})
	}
}

// TestSandboxUnknownPath: a path no configured provider serves answers 404
// not_found in the JSON error form (README Sandbox).
func TestSandboxUnknownPath(t *testing.T) {
	s := &Sandbox{demo: new(demoMerchant), notes: new(notificationLog)}
	w := httptest.NewRecorder()
	if err := s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v2/miniapppay", nil), nil); err != nil {
		t.Fatal(err)
	}
	var body struct{ Error transform.Error }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusNotFound || body.Error.Code != "not_found" ||
		w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %s", w.Code, w.Header(), w.Body)
	}
}

// TestSandboxDeliveryFailure: README Sandbox: when a notification cannot be
// posted, delivery_failure says why: a TLS certificate the sandbox does not
// trust (a self-signed one, as Caddy's tls internal is to it), no answer in
// time, or nothing listening; and a notify URL that answers is delivered.
func TestSandboxDeliveryFailure(t *testing.T) {
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer untrusted.Close()
	stop := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop }))
	defer slow.Close()
	defer close(stop) // before slow.Close, which waits for the handler
	listening := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("sent")) }))
	defer listening.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	// Only the slow server is meant to time out: the others get time for a
	// TLS handshake on a loaded machine (CI's -race run took over 200 ms).
	tests := []struct {
		name, url, failure string
		timeout            time.Duration
	}{
		{"untrusted certificate", untrusted.URL, "the notify URL could not be reached: its TLS certificate is not trusted", 10 * time.Second},
		{"no answer in time", slow.URL, "the notify URL could not be reached: it did not answer in time", 200 * time.Millisecond},
		{"nothing listening", closed.URL, "the notify URL could not be reached", 10 * time.Second},
		{"delivered", listening.URL, "", 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Sandbox{client: notifyClient(tt.timeout)}
			var res completeResult
			s.deliver(context.Background(), &transform.Outbound{URL: tt.url + "/n?token=t0k3n", ContentType: "text/plain", Body: []byte("n")},
				func(status int, body []byte) bool { return status == 200 && string(body) == "sent" }, &res)
			if !strings.HasPrefix(res.DeliveryFailure, tt.failure) || (tt.failure == "") != res.Delivered ||
				(tt.failure == "") != res.Acknowledged || strings.Contains(res.DeliveryFailure, "t0k3n") {
				t.Fatalf("%+v, want failure %q", res, tt.failure)
			}
			if tt.name == "nothing listening" && res.DeliveryFailure != tt.failure {
				t.Fatalf("failure %q, want %q alone", res.DeliveryFailure, tt.failure)
			}
		})
	}
}

// TestSandboxDeliveryNotRedirected: a notify URL answering a redirect has
// answered: its 3xx is what the sandbox reports (delivered, not the ACK),
// and the notification is not posted again elsewhere, nor turned into a GET
// of a page whose 200 would read as the ACK (WeChat v3's and 2C2P's ACK is
// a bare 200).
func TestSandboxDeliveryNotRedirected(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		followed.Add(1)
		_, _ = w.Write([]byte("sent"))
	}))
	defer target.Close()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/elsewhere", status)
			}))
			defer redirect.Close()
			s := &Sandbox{client: notifyClient(10 * time.Second)}
			var res completeResult
			s.deliver(context.Background(), &transform.Outbound{URL: redirect.URL + "/n", ContentType: "text/plain", Body: []byte("n")},
				func(status int, _ []byte) bool { return status == http.StatusOK }, &res)
			if !res.Delivered || res.ResponseStatus != status || res.Acknowledged || res.DeliveryFailure != "" {
				t.Fatalf("%+v, want delivered with status %d, not acknowledged", res, status)
			}
			if n := followed.Load(); n != 0 {
				t.Fatalf("the redirect was followed %d times", n)
			}
		})
	}
}

// TestSandboxOwnEndpointsRefuseBodies: the sandbox's own endpoints refuse a
// body they cannot take with the documented error JSON (README "Errors"),
// the demo merchant backend included: 413 request_too_large past 64 KiB,
// 400 invalid_request for a body that is not JSON or no object.
func TestSandboxOwnEndpointsRefuseBodies(t *testing.T) {
	tests := []struct {
		path, body string
		status     int
		code       string
	}{
		{"/sandbox/merchant/events", `{"id":"` + strings.Repeat("a", maxBody) + `"}`, 413, transform.CodeRequestTooLarge},
		{"/sandbox/merchant/events", `{"id":`, 400, transform.CodeInvalidRequest},
		{"/sandbox/merchant/events", `<xml/>`, 400, transform.CodeInvalidRequest},
		{"/sandbox/complete", `{"provider":"` + strings.Repeat("a", maxBody) + `"}`, 413, transform.CodeRequestTooLarge},
		{"/sandbox/complete", `[]`, 400, transform.CodeInvalidRequest},
		{"/sandbox/complete", `null`, 400, transform.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.body[:min(len(tt.body), 12)], func(t *testing.T) {
			s := &Sandbox{demo: new(demoMerchant), notes: new(notificationLog)}
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/json")
			if err := s.ServeHTTP(w, r, nil); err != nil {
				t.Fatal(err)
			}
			var body struct{ Error transform.Error }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tt.status || body.Error.Code != tt.code ||
				body.Error.Message == "" || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s, want %d %s", w.Code, w.Body, tt.status, tt.code)
			}
			if len(s.demo.events) != 0 {
				t.Fatal("a refused body was recorded")
			}
		})
	}
}

// TestSandboxCompleteReadsAsTheMerchantAPI: /sandbox/complete reads its
// body as the merchant API reads a request (README "Errors"): member names
// exactly, a member given twice refused, each a 400 naming the member before
// anything is settled, where encoding/json took the last of two results
// ({"result":"failed","Result":"succeeded"} succeeded) and a name in any case.
func TestSandboxCompleteReadsAsTheMerchantAPI(t *testing.T) {
	for body, field := range map[string]string{
		`{"provider":"wechat_v2","order_id":"O1","result":"failed","result":"succeeded"}`: "result",
		`{"provider":"wechat_v2","order_id":"O1","result":"failed","Result":"succeeded"}`: "Result",
		`{"PROVIDER":"wechat_v2","order_id":"O1","result":"failed"}`:                      "PROVIDER",
		`{"provider":"wechat_v2","order_id":1,"result":"failed"}`:                         "order_id",
	} {
		s := &Sandbox{demo: new(demoMerchant), notes: new(notificationLog)}
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/sandbox/complete", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if err := s.ServeHTTP(w, r, nil); err != nil {
			t.Fatal(err)
		}
		var answer struct{ Error transform.Error }
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || w.Code != http.StatusBadRequest ||
			answer.Error.Code != transform.CodeInvalidRequest || answer.Error.Field != field {
			t.Errorf("%s: %d %s, want a 400 naming %s", body, w.Code, w.Body, field)
		}
	}
}

// TestSandboxRedirectKeepsQuery: /sandbox redirects to /sandbox/ relative
// to the request (a handle_path prefix stays), keeping its query
// (/sandbox?part=list is the list).
func TestSandboxRedirectKeepsQuery(t *testing.T) {
	for target, want := range map[string]string{"/sandbox": "sandbox/", "/sandbox?part=list": "sandbox/?part=list"} {
		s := &Sandbox{demo: new(demoMerchant), notes: new(notificationLog)}
		w := httptest.NewRecorder()
		if err := s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil), nil); err != nil {
			t.Fatal(err)
		}
		if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != want {
			t.Errorf("%s: %d Location %q, want %q", target, w.Code, w.Header().Get("Location"), want)
		}
	}
}
