package caddymodule

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// The sandbox console, GET /sandbox/: one server-rendered page listing every
// order the sandbox holds and every notification it sent, with buttons that
// POST /sandbox/complete. Its script refreshes the list from
// GET /sandbox/?part=list (the same template's fragment), so there is one
// renderer and no build step. The data-* attributes are a stable interface
// for tests and users' scripts (README, "Sandbox console").

//go:embed console/console.html
var consoleFiles embed.FS

var consoleTemplate = template.Must(template.New("console").Funcs(template.FuncMap{
	"add":     func(a, b int) int { return a + b },
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"clock":   func(t time.Time) string { return t.UTC().Format("15:04:05 UTC") },
}).ParseFS(consoleFiles, "console/console.html"))

const (
	// consoleOrders bounds the orders one page lists (the newest).
	consoleOrders = 200
	// consoleNotifications bounds the notifications the sandbox remembers.
	consoleNotifications = 100
	// consoleAnswer bounds how much of a notify URL's answer is kept.
	consoleAnswer = 512
)

// notificationLog remembers the last notifications the sandbox delivered.
type notificationLog struct {
	mu   sync.Mutex
	list []sentNotification // oldest first
}

// sentNotification is one POST /sandbox/complete as the console shows it.
type sentNotification struct {
	At           time.Time
	Provider     string
	OrderID      string
	Result       string
	URL          string
	Status       int    // 0 when not delivered
	Answer       string // the first consoleAnswer bytes of the answer
	Acknowledged bool
	Failure      string
}

func (l *notificationLog) add(n sentNotification) {
	if len(n.Answer) > consoleAnswer {
		n.Answer = transform.Clip(n.Answer, consoleAnswer) + "…" // WeChat's answers hold Chinese
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, n)
	if len(l.list) > consoleNotifications {
		l.list = append(l.list[:0:0], l.list[len(l.list)-consoleNotifications:]...)
	}
}

// newestFirst returns a copy of the log, newest first.
func (l *notificationLog) newestFirst() []sentNotification {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.list)
	slices.Reverse(out)
	return out
}

// consoleOrder is one order row of the page.
type consoleOrder struct {
	Provider string
	transform.SandboxOrder
	Refunds bool // the provider notifies refunds
}

// Settleable tells whether succeed and fail apply (a pending or failed order).
func (o consoleOrder) Settleable() bool {
	return o.State == transform.StatusPending || o.State == transform.StatusFailed
}

// Refundable tells whether the refund button applies.
func (o consoleOrder) Refundable() bool {
	return o.Refunds && (o.State == transform.StatusSucceeded || o.State == transform.StatusRefunded)
}

type consoleView struct {
	Nonce         string
	Providers     []string
	Orders        []consoleOrder
	MoreOrders    int
	Notifications []sentNotification
	Events        int // events the demo merchant backend received
}

// console serves GET /sandbox/ (the page) and GET /sandbox/?part=list (the
// fragment the page's script swaps in).
func (s *Sandbox) console(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, &transform.Error{Status: http.StatusMethodNotAllowed, Code: transform.CodeMethodNotAllowed, Message: "use GET"})
		return
	}
	view := s.consoleView()
	name := "page"
	if r.URL.Query().Get("part") == "list" {
		name = "list"
	}
	var buf bytes.Buffer
	if err := consoleTemplate.ExecuteTemplate(&buf, name, view); err != nil {
		s.logger.Error("minipay sandbox console: rendering")
		writeError(w, &transform.Error{Status: http.StatusInternalServerError, Code: "internal", Message: "the console could not be rendered"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	noSniff(h)
	h.Set("Referrer-Policy", "no-referrer")
	// Everything the page needs is inline, under this request's nonce.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+view.Nonce+"'; script-src 'nonce-"+view.Nonce+
		"'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	_, _ = w.Write(buf.Bytes())
}

func (s *Sandbox) consoleView() consoleView {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	view := consoleView{Nonce: base64.StdEncoding.EncodeToString(nonce[:]), Providers: s.names, Notifications: s.notes.newestFirst()}
	for _, name := range s.names {
		p := s.providers[name]
		_, refunds := p.(transform.RefundSandbox)
		for _, o := range p.Orders() {
			view.Orders = append(view.Orders, consoleOrder{Provider: name, SandboxOrder: o, Refunds: refunds})
		}
	}
	slices.SortFunc(view.Orders, func(a, b consoleOrder) int { // newest first
		return cmp.Or(b.Created.Compare(a.Created), strings.Compare(a.Provider, b.Provider), strings.Compare(b.ID, a.ID))
	})
	if len(view.Orders) > consoleOrders {
		view.MoreOrders = len(view.Orders) - consoleOrders
		view.Orders = view.Orders[:consoleOrders]
	}
	s.demo.mu.Lock()
	view.Events = len(s.demo.events)
	s.demo.mu.Unlock()
	return view
}
