package caddymodule

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"

	"github.com/minipay/caddy-minipay/transform"
)

// demoMerchant holds the events the demo merchant backend received.
type demoMerchant struct {
	mu     sync.Mutex
	events []merchantEvent
}

type merchantEvent struct {
	EventID  string          `json:"minipay_event_id"`
	Provider string          `json:"minipay_provider"`
	Event    json.RawMessage `json:"event"`
}

// merchant is the demo merchant backend: POST records a forwarded event
// (answering 200), GET (and HEAD, as for any GET resource) lists the last
// 100.
func (s *Sandbox) merchant(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		body, terr := readPlainBody(r, nil)
		if terr == nil && !json.Valid(body) {
			terr = &transform.Error{Status: http.StatusBadRequest, Code: transform.CodeInvalidRequest, Message: "the body is not valid JSON"}
		}
		if terr != nil {
			writeError(w, terr)
			return
		}
		s.demo.mu.Lock()
		s.demo.events = append(s.demo.events, merchantEvent{r.Header.Get("Minipay-Event-Id"), r.Header.Get("Minipay-Provider"), body})
		if len(s.demo.events) > 100 {
			// Moved down in place, the vacated slot cleared: re-slicing kept
			// the dropped events' bodies alive in the array's front, up to
			// as many again as listed.
			s.demo.events = slices.Delete(s.demo.events, 0, len(s.demo.events)-100)
		}
		s.demo.mu.Unlock()
		writeJSON(w, http.StatusOK, []byte(`{"received":true}`))
	case http.MethodGet, http.MethodHead: // net/http sends no body for HEAD
		s.demo.mu.Lock()
		out := transform.Marshal(struct {
			Events []merchantEvent `json:"events"`
		}{append([]merchantEvent{}, s.demo.events...)})
		s.demo.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeError(w, &transform.Error{Status: http.StatusMethodNotAllowed, Code: transform.CodeMethodNotAllowed, Message: "use GET or POST"})
	}
}
