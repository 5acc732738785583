package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/latipay"
	"github.com/minipay/caddy-minipay/transform/wxpay"
)

const signUsage = `sign --provider wechat_v2|latipay --set api_key=<key> [--set sign_type=MD5|HMAC-SHA256] [--file <path> | -]`

// runSign is `caddy minipay sign`: the sorted-parameter signature of a
// merchant's own request, for debugging a call the provider refused with
// "signature error". The key is resolved like --set in verify.
func runSign(args []string, stdin io.Reader, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sets listFlag
	name := fs.String("provider", "", "wechat_v2 or latipay")
	file := fs.String("file", "", "input file, - for stdin")
	fs.Var(&sets, "set", "api_key=<key>, sign_type=<type>")
	if err := parseFlags(fs, args, file, signUsage); err != nil {
		return exitUsage, err
	}
	settings := map[string]string{}
	repl := caddy.NewReplacer()
	signFields := []transform.ConfigField{{Name: "api_key"}, {Name: "sign_type"}}
	for n, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return exitUsage, setSyntaxError(n+1, s, signFields)
		}
		if k != "api_key" && k != "sign_type" {
			return exitUsage, fmt.Errorf("--set %q: want api_key=<key> or sign_type=<type>", k)
		}
		settings[k] = repl.ReplaceKnown(v, "")
	}
	if settings["api_key"] == "" {
		return exitUsage, errors.New("--set api_key=<key> is required (and empty after resolving placeholders)")
	}
	body, err := readInput(*file, stdin)
	if err != nil {
		return exitUsage, err
	}
	var signType, text, sig string
	switch *name {
	case "wechat_v2":
		root, p, err := transform.ParseFlatXML(body)
		if err != nil || root != "xml" {
			return exitUsage, errors.New("the input is not a flat <xml> document")
		}
		signType = settings["sign_type"]
		if signType == "" {
			signType = p.Get("sign_type") // signed itself when present
		}
		if signType == "" {
			signType = wxpay.SignMD5
		}
		if signType != wxpay.SignMD5 && signType != wxpay.SignHMACSHA256 {
			return exitUsage, errors.New("sign_type must be MD5 or HMAC-SHA256")
		}
		text, sig = wxpay.NewSigner(settings["api_key"]).Explain(p, signType)
	case "latipay":
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber() // an amount keeps its text: 120.00, not 120
		if err := dec.Decode(&m); err != nil {
			return exitUsage, errors.New("the input is not a JSON object")
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
		sort.Slice(p, func(i, j int) bool { return p[i].Name < p[j].Name })
		signType = "HMAC-SHA256"
		text, sig = latipay.ExplainSign(p, settings["api_key"])
	case "":
		return exitUsage, errors.New("--provider is required")
	default:
		return exitUsage, fmt.Errorf("provider %q: sign knows wechat_v2 and latipay", *name)
	}
	line := func(k, v string) { fmt.Fprintf(stdout, "%s: %s\n", k, printable(v)) }
	line("provider", *name)
	line("sign_type", signType)
	line("string_to_sign", text)
	line("signature", sig)
	return exitValid, nil
}
