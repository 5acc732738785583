package caddymodule

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
)

// `caddy minipay sign` explains the signature of the merchant's own request
// through the provider's own signer (transform.RequestExplainer), found in
// the registry as verify finds its explainer: a provider added as its
// package and its registration file is signed here without an edit.
// README, "caddy minipay verify".

// signUsageAny is sign's usage before the registry is read (the Long help
// text is written at init); caddy minipay --help gives signUsage's.
const signUsageAny = "sign --provider <name> --set <field>=<value>... [--file <path> | -]"

// signUsage is sign's usage: a line for each provider that signs requests.
func signUsage() string {
	var lines []string
	for _, name := range signedProviders() {
		line := "sign --provider " + name
		s := requestExplainer(name).RequestSigning()
		for _, f := range s.Fields {
			if f.Optional {
				line += " [--set " + f.Name + "=" + f.Usage + "]"
			} else {
				line += " --set " + f.Name + "=" + f.Usage
			}
		}
		if s.RequestLine {
			line += " --method <METHOD> --url <path?query> [--timestamp <unix s>] [--nonce <nonce>]"
		}
		lines = append(lines, line+" [--file <path> | -]")
	}
	return cmp.Or(strings.Join(lines, "\n       caddy minipay "), signUsageAny)
}

// requestProvider is a provider whose configuration signs the merchant's
// requests for sign.
type requestProvider interface {
	provider
	transform.RequestExplainer
}

// requestExplainer is a fresh configuration of the provider name, nil
// when there is none or it signs no request.
func requestExplainer(name string) requestProvider {
	info, err := caddy.GetModule(providerNamespace + "." + name)
	if err != nil {
		return nil
	}
	p, _ := info.New().(requestProvider)
	return p
}

// signedProviders names the providers whose requests sign explains.
func signedProviders() []string {
	var names []string
	for _, name := range providerNames() {
		if requestExplainer(name) != nil {
			names = append(names, name)
		}
	}
	return names
}

// requestLineFlags are what a signature of the request line covers
// besides the body (transform.RequestSigning's RequestLine).
type requestLineFlags struct{ method, url, timestamp, nonce *string }

func (f requestLineFlags) given() bool {
	return *f.method != "" || *f.url != "" || *f.timestamp != "" || *f.nonce != ""
}

// runSign is `caddy minipay sign`: the signature of a merchant's own
// request, for debugging a call the provider refused with "signature
// error", as the provider's ExplainRequest gives it: the string to sign,
// the signature and what carries it. Values are resolved like --set in
// verify; every secret field's value is masked in the output.
func runSign(args []string, stdin io.Reader, stdout io.Writer) (int, error) {
	usage := signUsage()
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sets listFlag
	name := fs.String("provider", "", strings.Join(signedProviders(), ", "))
	file := fs.String("file", "", "the request body, or the whole HTTP message; - (or no --file) for stdin")
	fs.Var(&sets, "set", "field=value; the value may be {env.NAME} or {file.path} (repeatable)")
	lineSigners := requestLineSigners()
	flagFor := strings.Join(lineSigners, ", ") + ": "
	line := requestLineFlags{method: fs.String("method", "", flagFor+"the request's method"),
		url:       fs.String("url", "", flagFor+"the path and query as sent, or the absolute URL"),
		timestamp: fs.String("timestamp", "", flagFor+"Unix seconds (default now)"),
		nonce:     fs.String("nonce", "", flagFor+"the nonce (default a fresh one)")}
	if err := parseFlags(fs, args, file, usage); err != nil {
		return exitUsage, err
	}
	p := requestExplainer(*name)
	switch {
	case *name == "":
		return exitUsage, errors.New("--provider is required")
	case p == nil:
		return exitUsage, fmt.Errorf("provider %q: sign knows %s", *name, strings.Join(signedProviders(), ", "))
	}
	signing := p.RequestSigning()
	if !signing.RequestLine && line.given() {
		return exitUsage, fmt.Errorf("--method, --url, --timestamp and --nonce are for %s's Authorization, not %s", strings.Join(lineSigners, " and "), *name)
	}
	// Only the fields the signature needs are taken, written through the
	// configuration's own ConfigFields.
	var fields []transform.ConfigField
	all := p.ConfigFields()
	for _, f := range signing.Fields {
		i := fieldIndex(all, f.Name)
		if i < 0 { // the provider's mistake (TestSignFieldsAreConfigFields)
			return exitUsage, fmt.Errorf("provider %s signs with %q, which is none of its fields", *name, f.Name)
		}
		fields = append(fields, all[i])
	}
	repl := caddy.NewReplacer()
	for n, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return exitUsage, setSyntaxError(n+1, s, fields)
		}
		i := fieldIndex(fields, k)
		if i < 0 {
			return exitUsage, unknownSetField(n+1, "sign for "+*name, k)
		}
		*fields[i].Value = repl.ReplaceKnown(v, "")
		if problem := valueProblem(*fields[i].Value); problem != "" { // refused as a configuration load refuses it
			return exitUsage, fmt.Errorf("--set %s %s", k, problem)
		}
	}
	for i, f := range signing.Fields {
		if !f.Optional && *fields[i].Value == "" {
			return exitUsage, fmt.Errorf("--set %s=<value> is required (and empty after resolving placeholders)", f.Name)
		}
	}
	r := transform.MerchantRequest{Method: strings.ToUpper(*line.method), Target: *line.url, Timestamp: *line.timestamp, Nonce: *line.nonce}
	// The input is read unless the flags say a body-less request without
	// --file. A request saved as the HTTP message it was is signed by its
	// body; its request line gives what the flags do not, and its headers
	// go to the provider.
	if !signing.RequestLine || *file != "" || r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodDelete {
		body, err := readInput(*file, stdin)
		if err != nil {
			return exitUsage, err
		}
		header, inner, ok, err := splitHTTPMessage(body)
		if err != nil {
			return exitUsage, err
		}
		r.Body = body
		if ok {
			sentMethod, sentTarget := httpRequestLine(body)
			r.Body, r.Header = inner, header
			r.Method, r.Target = cmp.Or(r.Method, sentMethod), cmp.Or(r.Target, sentTarget)
		}
	}
	x, err := p.ExplainRequest(r)
	if err != nil {
		return exitUsage, err
	}
	out := lines{stdout, secretValues(p)}.line
	out("provider", *name)
	out("sign_type", x.SignType)
	out("string_to_sign", x.StringToSign)
	out("signature", x.Signature)
	for _, s := range x.Send {
		out(s.Name, s.Value)
	}
	return exitValid, nil
}

// requestLineSigners names the providers whose request signature covers
// the request line (--method, --url, --timestamp, --nonce).
func requestLineSigners() []string {
	var names []string
	for _, name := range signedProviders() {
		if requestExplainer(name).RequestSigning().RequestLine {
			names = append(names, name)
		}
	}
	return names
}
