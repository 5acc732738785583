package caddymodule

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
)

// `caddy minipay verify` explains a provider's signature offline through the
// provider's own webhook verifier (transform.Explainer): the verdict is the
// one minipay_webhook would give, or, for an API answer the webhook never
// reads (transform.AnswerExplainer), the one minipay gives that answer.
// README, "caddy minipay verify".

const verifyUsage = `verify --provider <name> [--set <field>=<value>]... [--header "<Name>: <value>"]... [--at <time received>] [--file <path> | -]`

// runVerify is `caddy minipay verify`.
func runVerify(args []string, stdin io.Reader, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sets, headers listFlag
	// Listed from the registry: a provider added as its package and its
	// registration file is named here without an edit.
	name := fs.String("provider", "", strings.Join(verifiedProviders(), ", "))
	file := fs.String("file", "", "the notification or answer as received (its body, or the whole HTTP message); - (or no --file) for stdin")
	fs.Var(&sets, "set", "field=value, a provider field by its Caddyfile name; the value may be {env.NAME} or {file.path} (repeatable)")
	fs.Var(&headers, "header", "\"Name: value\", a header the provider signs in (repeatable)")
	at := fs.String("at", "", "when the input was received: RFC 3339 or Unix seconds")
	if err := parseFlags(fs, args, file, verifyUsage); err != nil {
		return exitUsage, err
	}
	// Whether --at was given, not its value: an --at of year 1
	// (0001-01-01T00:00:00Z) is the zero time and is judged as of then (an
	// empty --at, "$RECEIVED" unset, is a usage error in parseFlags).
	atGiven := false
	fs.Visit(func(f *flag.Flag) { atGiven = atGiven || f.Name == "at" })
	received, err := parseReceivedAt(*at, atGiven)
	if err != nil {
		return exitUsage, err
	}
	if *name == "" {
		return exitUsage, errors.New("--provider is required")
	}
	webhook, secrets, err := explainerFor(*name, sets)
	if err != nil {
		return exitUsage, err
	}
	// A key that could not be downloaded reads like a forged signature;
	// the verdict says why (the webhook logs it as a warning).
	var downloadFailed error
	if d, ok := webhook.(certificateDownloader); ok {
		d.ReportFailures(func(err error) {
			if downloadFailed == nil {
				downloadFailed = err
			}
		})
	}
	judgedNow := !atGiven
	if c, ok := webhook.(transform.Clocked); ok && !judgedNow {
		c.SetClock(func() time.Time { return received })
	}
	flagged := http.Header{}
	for i, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if k = strings.TrimSpace(k); !ok || !transform.ValidHeaderName(k) {
			// Named by its position, as a malformed --set: a signature
			// header pasted without its colon may be the key.
			return exitUsage, fmt.Errorf("--header #%d: want \"Name: value\" (its text is not shown: it may be a secret)", i+1)
		}
		flagged.Add(k, strings.TrimSpace(v))
	}
	n := transform.Notification{Header: http.Header{}}
	if n.Body, err = readInput(*file, stdin); err != nil {
		return exitUsage, err
	}
	// A whole HTTP message brings its headers; a --header replaces the
	// message's header of its name.
	if header, body, ok, err := splitHTTPMessage(n.Body); err != nil {
		return exitUsage, err
	} else if ok {
		n.Header, n.Body = header, body
	}
	for k, v := range flagged {
		n.Header[k] = v
	}
	// An empty input has nothing to explain, unless it is a signed empty
	// answer (WeChat Pay v3's 204), which comes with its headers.
	empty := len(bytes.TrimSpace(n.Body)) == 0
	if empty && len(n.Header) == 0 {
		return exitUsage, errEmptyInput
	}

	x, verr := explain(webhook, n)
	if errors.Is(verr, transform.ErrUnsignedAnswer) || errors.Is(verr, transform.ErrNotExplained) {
		return exitUsage, verr
	}
	if empty && x.Kind != transform.KindAnswer {
		return exitUsage, errEmptyInput
	}
	line := lines{stdout, secrets}.line
	line("provider", *name)
	line("kind", x.Kind)
	if x.SignType != "" {
		line("sign_type", x.SignType)
	}
	line("string_to_sign", x.StringToSign)
	line("expected", x.Expected)
	line("received", x.Received)
	if !valid(x, verr) {
		reason := invalidReason(webhook, n, x.Kind, verr, judgedNow)
		if downloadFailed != nil {
			reason += "; " + downloadFailed.Error()
		}
		line("verdict", "invalid ("+reason+")")
		return exitInvalid, nil
	}
	line("verdict", "valid")
	return exitValid, nil
}

// invalidReason is the verdict's reason for n, of kind, refused with verr,
// with a hint where the refusal may be the way the input was given: judged
// now (judgedNow: no --at) outside a time window, or bytes echo or an editor
// added.
func invalidReason(webhook transform.Explainer, n transform.Notification, kind string, verr error, judgedNow bool) string {
	reason := verr.Error()
	if kind == transform.KindNotification && len(n.Body) > maxBody && errors.Is(verr, transform.ErrMalformed) {
		// What the verifier read as ill-formed the webhook never reads.
		return "the input is larger than 64 KiB: the webhook refuses it unread (413)"
	}
	if r, ok := strings.CutPrefix(reason, "notification "); ok && kind == transform.KindAnswer {
		reason = "answer " + r // the verifiers' shared errors name a notification
	}
	if errors.Is(verr, transform.ErrOutsideWindow) && judgedNow {
		reason += "; judged now: --at <time received> judges it as of then"
	}
	// The input is judged as given; what echo or an editor added is only
	// pointed out.
	if trimmed, added := withoutEditorBytes(n.Body); added != "" {
		if tx, terr := explain(webhook, transform.Notification{Header: n.Header, Body: trimmed}); valid(tx, terr) {
			reason += "; without its " + added + " the input verifies: give it exactly as received (printf '%s', not echo)"
		}
	}
	// curl -i --compressed saves a body decoded under the header that
	// named its encoding.
	if n.Header.Get("Content-Encoding") != "" {
		header := n.Header.Clone()
		header.Del("Content-Encoding")
		if tx, terr := explain(webhook, transform.Notification{Header: header, Body: n.Body}); valid(tx, terr) {
			reason += "; without its Content-Encoding header the input verifies: it was saved decoded (curl --compressed?)"
		}
	}
	// A multipart form is read by the boundary its Content-Type names,
	// which a body saved alone has lost.
	if boundary, ok := multipartBoundary(n.Body); ok && n.Header.Get("Content-Type") == "" {
		contentType := "multipart/form-data; boundary=" + boundary
		header := http.Header{"Content-Type": {contentType}}
		for k, v := range n.Header {
			header[k] = v
		}
		if tx, terr := explain(webhook, transform.Notification{Header: header, Body: n.Body}); valid(tx, terr) {
			reason += `; the input is a multipart form: with --header "Content-Type: ` + contentType + `" it verifies`
		}
	}
	return reason
}

// multipartBoundary is the boundary of a body that opens as a multipart
// form does (RFC 2046: "--", 1 to 70 characters, a line break).
func multipartBoundary(body []byte) (string, bool) {
	line, _, ok := bytes.Cut(body, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	boundary, dashes := bytes.CutPrefix(line, []byte("--"))
	if !ok || !dashes || len(boundary) == 0 || len(boundary) > 70 || bytes.HasSuffix(boundary, []byte(" ")) {
		return "", false
	}
	for _, c := range boundary {
		if c < ' ' || c > '~' || c == '"' {
			return "", false
		}
	}
	return string(boundary), true
}

// explain runs the provider's own verifier on n: an API answer the webhook
// never reads (another form, or unsigned) is recognised by its content
// first; anything else goes through the webhook's Explain.
func explain(webhook transform.Explainer, n transform.Notification) (transform.Explanation, error) {
	x := transform.Explanation{Kind: transform.KindNotification}
	if ae, ok := webhook.(transform.AnswerExplainer); ok {
		if answer, err := ae.ExplainAnswer(n, &x); answer {
			return x, err
		}
	}
	_, err := webhook.Explain(n, &x)
	return x, err
}

// valid is the verdict: verified, or a provider's API answer whose
// signature verifies (a webhook still refuses it as a notification).
func valid(x transform.Explanation, err error) bool {
	return err == nil || x.Kind == transform.KindAnswer && errors.Is(err, transform.ErrSignedAnswer)
}

// withoutEditorBytes is b without what a file saved by echo or an editor
// may add to what a provider sent: a leading UTF-8 byte order mark and one
// final "\n" or "\r\n"; added names what was removed ("" for nothing).
func withoutEditorBytes(b []byte) (trimmed []byte, added string) {
	var what []string
	if t, ok := bytes.CutPrefix(b, []byte("\xef\xbb\xbf")); ok {
		b, what = t, append(what, "byte order mark")
	}
	if t, ok := bytes.CutSuffix(b, []byte("\n")); ok {
		b, _ = bytes.CutSuffix(t, []byte("\r"))
		what = append(what, "final line break")
	}
	return b, strings.Join(what, " and ")
}

// errEmptyInput is the usage error for an empty (or blank) input.
var errEmptyInput = errors.New("the input is empty: give the notification or answer as received, with --file <path>, or on stdin with --file -")

// parseReceivedAt reads --at: RFC 3339 as the merchant API reads expire_at
// (a lower-case t or z too; not Go's laxer forms, ",5" for a fraction, a
// one-digit hour, an offset of +24:00), or Unix seconds in decimal digits,
// as Wechatpay-Timestamp is written; not given is now.
func parseReceivedAt(v string, given bool) (time.Time, error) {
	if !given {
		return time.Time{}, nil
	}
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil && sec > 0 && v[0] != '+' {
		return time.Unix(sec, 0), nil
	}
	if t, ok := transform.ParseRFC3339(v); ok {
		return t, nil
	}
	return time.Time{}, errors.New("--at: want RFC 3339 (2026-11-29T10:00:06+08:00) or Unix seconds (the value given is not shown: it may be a secret typed in the wrong place)")
}

// explainerFor builds a provider's webhook from field=value settings,
// resolved like a Caddyfile's (placeholders included), and returns the
// values of its secret fields, which the output must not show.
func explainerFor(name string, sets []string) (transform.Explainer, []string, error) {
	info, err := caddy.GetModule(providerNamespace + "." + name)
	var p provider
	if err == nil {
		p, _ = info.New().(provider)
	}
	if p == nil {
		return nil, nil, fmt.Errorf("unknown provider %q (verify knows %s)", name, strings.Join(verifiedProviders(), ", "))
	}
	// Before its fields: what it needs is beside the point when it sends
	// nothing to verify.
	wp, ok := p.(webhookProvider)
	if !ok {
		return nil, nil, fmt.Errorf("provider %s sends no notifications: verify knows %s", name, strings.Join(verifiedProviders(), ", "))
	}
	fields := p.ConfigFields()
	for n, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, nil, setSyntaxError(n+1, s, fields)
		}
		i := fieldIndex(fields, k)
		if i < 0 {
			return nil, nil, unknownSetField(n+1, name, k)
		}
		*fields[i].Value = v
	}
	if _, err := resolveProvider(p, transform.RoleWebhook); err != nil {
		return nil, nil, err
	}
	w, err := wp.NewWebhook()
	if err != nil {
		return nil, nil, err
	}
	x, ok := w.(transform.Explainer)
	if !ok {
		return nil, nil, fmt.Errorf("provider %s cannot explain its verification yet", name)
	}
	return x, secretValues(p), nil
}

// verifiedProviders names the providers whose notifications verify explains.
func verifiedProviders() []string {
	var names []string
	for _, name := range providerNames() {
		if info, err := caddy.GetModule(providerNamespace + "." + name); err == nil {
			if _, ok := info.New().(webhookProvider); ok {
				names = append(names, name)
			}
		}
	}
	return names
}
