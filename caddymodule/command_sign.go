package caddymodule

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/latipay"
	"github.com/minipay/caddy-minipay/transform/twoc2p"
	"github.com/minipay/caddy-minipay/transform/wechatv3"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

const signUsage = `sign --provider wechat_v2|latipay --set api_key=<key> [--set sign_type=MD5|HMAC-SHA256] [--file <path> | -]` +
	"\n       caddy minipay sign --provider 2c2p --set secret_key=<key> [--set version=9.9] [--file <path> | -]" +
	"\n       caddy minipay sign --provider wechat_v3 --set mch_id=<mchid> --set serial_no=<serial> --set private_key=<PEM> " +
	"--method <METHOD> --url <path?query> [--timestamp <unix s>] [--nonce <nonce>] [--file <path> | -]"

// signFields are the --set fields sign takes, per provider.
var signFields = map[string][]transform.ConfigField{
	"wechat_v2": {{Name: "api_key"}, {Name: "sign_type"}},
	"latipay":   {{Name: "api_key"}},
	"wechat_v3": {{Name: "mch_id"}, {Name: "serial_no"}, {Name: "private_key"}},
	"2c2p":      {{Name: "secret_key"}, {Name: "version"}},
}

// signOptional are the --set fields sign can do without.
var signOptional = map[string]bool{"sign_type": true, "version": true}

// runSign is `caddy minipay sign`: the signature of a merchant's own
// request, for debugging a call the provider refused with "signature
// error": the sorted-parameter signatures of wechat_v2 and latipay,
// wechat_v3's Authorization, and 2C2P's envelope. Values are resolved like --set in verify.
func runSign(args []string, stdin io.Reader, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sets listFlag
	name := fs.String("provider", "", "wechat_v2, latipay, wechat_v3 or 2c2p")
	file := fs.String("file", "", "the request body, or the whole HTTP message; - (or no --file) for stdin")
	fs.Var(&sets, "set", "field=value; the value may be {env.NAME} or {file.path} (repeatable)")
	v3 := v3RequestFlags{method: fs.String("method", "", "wechat_v3: the request's method"),
		url:       fs.String("url", "", "wechat_v3: the path and query as sent, or the absolute URL"),
		timestamp: fs.String("timestamp", "", "wechat_v3: Unix seconds (default now)"),
		nonce:     fs.String("nonce", "", "wechat_v3: the nonce (default a fresh one)")}
	if err := parseFlags(fs, args, file, signUsage); err != nil {
		return exitUsage, err
	}
	fields, ok := signFields[*name]
	switch {
	case *name == "":
		return exitUsage, errors.New("--provider is required")
	case !ok:
		return exitUsage, fmt.Errorf("provider %q: sign knows wechat_v2, latipay, wechat_v3 and 2c2p", *name)
	case *name != "wechat_v3" && v3.given():
		return exitUsage, fmt.Errorf("--method, --url, --timestamp and --nonce are for wechat_v3's Authorization, not %s", *name)
	}
	settings := map[string]string{}
	repl := caddy.NewReplacer()
	for n, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return exitUsage, setSyntaxError(n+1, s, fields)
		}
		if fieldIndex(fields, k) < 0 {
			return exitUsage, unknownSetField(n+1, "sign for "+*name, k)
		}
		settings[k] = repl.ReplaceKnown(v, "")
		if problem := valueProblem(settings[k]); problem != "" { // refused as a configuration load refuses it
			return exitUsage, fmt.Errorf("--set %s %s", k, problem)
		}
	}
	for _, f := range fields {
		if !signOptional[f.Name] && settings[f.Name] == "" {
			return exitUsage, fmt.Errorf("--set %s=<value> is required (and empty after resolving placeholders)", f.Name)
		}
	}
	if *name == "wechat_v3" {
		return signV3(settings, v3, *file, stdin, stdout)
	}
	body, err := readInput(*file, stdin)
	if err != nil {
		return exitUsage, err
	}
	// A request saved as the HTTP message it was is signed by its body.
	if _, inner, ok, err := splitHTTPMessage(body); err != nil {
		return exitUsage, err
	} else if ok {
		body = inner
	}
	if *name == "2c2p" {
		return sign2C2P(settings, body, stdout)
	}
	sign := signV2
	if *name == "latipay" {
		sign = signLatipay
	}
	signType, text, sig, err := sign(settings, body)
	if err != nil {
		return exitUsage, err
	}
	line := lines{stdout, []string{settings["api_key"]}}.line
	line("provider", *name)
	line("sign_type", signType)
	line("string_to_sign", text)
	line("signature", sig)
	return exitValid, nil
}

// signV2 signs a wechat_v2 <xml> document with the sign type --set gives,
// else the one the document names (signed itself), else MD5. Both, and
// different, is a usage error: WeChat checks a request with the type it
// names, so the other type's signature would be refused.
func signV2(settings map[string]string, body []byte) (signType, text, sig string, err error) {
	root, p, err := transform.ParseFlatXML(body)
	if err != nil || root != "xml" {
		return "", "", "", errors.New("the input is not a flat <xml> document")
	}
	// Both are named in the message only as one of the two sign types: a
	// value typed in the wrong place may be a key.
	known := func(t string) bool { return t == wxpay.SignMD5 || t == wxpay.SignHMACSHA256 }
	// A wx.requestPayment object (appId, nonceStr, package, signType,
	// timeStamp) names its type as signType: paySign is checked with it.
	element := "sign_type"
	if !p.Has(element) && p.Has("signType") {
		element = "signType"
	}
	named := p.Get(element)
	if set := settings["sign_type"]; known(set) && known(named) && set != named {
		return "", "", "", fmt.Errorf("--set sign_type=%s, but the document names %s %q, which WeChat checks it with: set the same, or leave --set sign_type out", set, element, named)
	}
	signType = cmp.Or(settings["sign_type"], named, wxpay.SignMD5)
	if signType != wxpay.SignMD5 && signType != wxpay.SignHMACSHA256 {
		return "", "", "", errors.New("sign_type must be MD5 or HMAC-SHA256")
	}
	text, sig = wxpay.NewSigner(settings["api_key"]).Explain(p, signType)
	return signType, text, sig, nil
}

// signLatipay signs a Latipay JSON request: its string, number and boolean
// fields, each number as written (120.00, not 120).
func signLatipay(settings map[string]string, body []byte) (signType, text, sig string, err error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return "", "", "", errors.New("the input is not a JSON object")
	}
	p := make(transform.Params, 0, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			p = append(p, transform.Param{Name: k, Value: v})
		case json.Number, bool:
			p = append(p, transform.Param{Name: k, Value: fmt.Sprint(v)})
		}
	}
	text, sig = latipay.ExplainSign(p, settings["api_key"]) // p in any order: the string to sign is sorted
	return "HMAC-SHA256", text, sig, nil
}

// sign2C2P prints a 2C2P pay request's signature (docs/providers/2c2p.md
// "Signature": HMAC-SHA256 over the payload's base64 text) and the
// envelope to send, paymentRequest's value. The input is the payload
// document as the merchant wrote it, or the request as sent.
func sign2C2P(settings map[string]string, body []byte, stdout io.Writer) (int, error) {
	payload, signature, envelope, err := twoc2p.SignRequest(body, settings["version"], settings["secret_key"])
	if err != nil {
		return exitUsage, err
	}
	line := lines{stdout, []string{settings["secret_key"]}}.line
	line("provider", "2c2p")
	line("sign_type", "HMAC-SHA256")
	line("string_to_sign", payload)
	line("signature", signature)
	line("payment_request", envelope)
	return exitValid, nil
}

// v3RequestFlags are what wechat_v3's Authorization signs besides the body.
type v3RequestFlags struct{ method, url, timestamp, nonce *string }

func (f v3RequestFlags) given() bool {
	return *f.method != "" || *f.url != "" || *f.timestamp != "" || *f.nonce != ""
}

// signV3 prints wechat_v3's request message, its signature and the
// Authorization header, signed with the merchant's private key (never
// printed). A body is read for methods that carry one, or when --file says
// where it is.
func signV3(settings map[string]string, f v3RequestFlags, file string, stdin io.Reader, stdout io.Writer) (int, error) {
	method, target, timestamp, nonce := strings.ToUpper(*f.method), *f.url, *f.timestamp, *f.nonce
	// The input is read unless the flags say a body-less request without
	// --file: a request saved as its HTTP message gives what the flags do
	// not, its Authorization the time and nonce it was signed with.
	var body []byte
	if file != "" || method != http.MethodGet && method != http.MethodHead && method != http.MethodDelete {
		var err error
		if body, err = readInput(file, stdin); err != nil {
			return exitUsage, err
		}
		header, inner, ok, err := splitHTTPMessage(body)
		if err != nil {
			return exitUsage, err
		}
		if ok {
			sentMethod, sentTarget := httpRequestLine(body)
			body, method, target = inner, cmp.Or(method, sentMethod), cmp.Or(target, sentTarget)
			if sent, ok := wechatv3.ParseAuthorization(header.Get("Authorization")); ok {
				timestamp, nonce = cmp.Or(timestamp, sent.Timestamp), cmp.Or(nonce, sent.NonceStr)
			}
		}
	}
	if method == "" {
		return exitUsage, errors.New("--method is required for wechat_v3 (GET, POST, ...)")
	}
	if u, err := url.Parse(target); err == nil && u.IsAbs() {
		target = u.RequestURI() // the path and query, as signed
	}
	if !strings.HasPrefix(target, "/") {
		return exitUsage, errors.New("--url must be the request's path and query (/v3/...), or its absolute URL")
	}
	ts := time.Now().Unix()
	if timestamp != "" {
		var err error
		if ts, err = strconv.ParseInt(timestamp, 10, 64); err != nil || ts <= 0 {
			return exitUsage, errors.New("--timestamp: want Unix seconds")
		}
	}
	if nonce == "" {
		nonce = transform.Nonce(32)
	}
	key, err := wechatv3.ParsePrivateKey(settings["private_key"])
	if err != nil {
		// The parser's reason names the form, never the text (as the load says).
		return exitUsage, fmt.Errorf("private_key %w", err)
	}
	// The header is the client's own (Signer.Authorization); RSA PKCS#1 v1.5
	// is deterministic, so its signature is the one printed above it.
	message := wechatv3.AppendAuthMessage(nil, method, target, strconv.FormatInt(ts, 10), nonce, body)
	signature, err := wechatv3.SignMessage(key, message)
	if err != nil {
		return exitUsage, fmt.Errorf("signing: %w", err)
	}
	signer := wechatv3.Signer{MchID: settings["mch_id"], SerialNo: settings["serial_no"], Key: key}
	auth, err := signer.Authorization(method, target, body, ts, nonce)
	if err != nil {
		return exitUsage, fmt.Errorf("signing: %w", err)
	}
	line := lines{stdout, []string{settings["private_key"]}}.line
	line("provider", "wechat_v3")
	line("sign_type", "SHA256-RSA2048")
	line("string_to_sign", string(message))
	line("signature", signature)
	line("authorization", auth)
	return exitValid, nil
}
