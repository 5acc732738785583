package caddymodule

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/minipay/caddy-minipay/transform"
)

// `caddy minipay verify` explains a provider's signature offline through the
// provider's own webhook verifier (transform.Explainer): the verdict is the
// one minipay_webhook would give, or, for an API answer the webhook never
// reads (transform.AnswerExplainer), the one minipay gives that answer.
// README, "caddy minipay verify".

const verifyUsage = `verify --provider <name> [--set <field>=<value>]... [--header "<Name>: <value>"]... [--at <time received>] [--file <path> | -]`

// Exit statuses of the command.
const (
	exitValid   = 0
	exitInvalid = 1
	exitUsage   = 2 // bad flags, unknown provider or field, unreadable input
)

// maxVerifyInput bounds what the command reads; the verifiers refuse more
// than 64 KiB anyway.
const maxVerifyInput = 1 << 20

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name: "minipay",
		// One line: cobra prints it after "caddy minipay"; the full usages
		// close Long, and caddy minipay --help prints them with the flags.
		Usage: "verify|sign --provider <name> [--set <field>=<value>]... [...] [--file <path> | -]",
		Short: "Explains a payment provider's signature offline (minipay verify)",
		Long: `
caddy minipay verify reads a provider's notification or API answer as received
(from --file, or stdin with --file - or without --file) and the headers a
provider signs in (--header, repeatable), builds the provider from --set
field=value (the Caddyfile field names; values accept {env.*} and {file.*}
placeholders), and prints its kind (notification or answer), the canonical
string to sign with every secret replaced by ***, the expected and the
received signature, and the verdict of the provider's own verifier. A
verdict that depends on the time of receipt (WeChat Pay v3's 300 s window)
is judged now, or as of --at (RFC 3339, or Unix seconds).

Exit status: 0 valid, 1 invalid, 2 usage error, unreadable input, or an API
answer the provider does not sign (the message says what it signs).

caddy minipay sign computes the signature of a request the merchant's own
code sends (wechat_v2: an <xml> document; latipay: a JSON object; wechat_v3:
the body with --method and --url, and its Authorization header) and prints
the string to sign (a key as ***) and the signature.

  caddy minipay ` + verifyUsage + `
  caddy minipay ` + strings.ReplaceAll(signUsage, "\n      ", "\n ") + `
`,
		CobraFunc: func(cmd *cobra.Command) {
			// The command parses its own flags so that a usage error exits 2.
			cmd.DisableFlagParsing = true
			cmd.DisableFlagsInUseLine = true
			cmd.RunE = func(_ *cobra.Command, args []string) error {
				if code := runMinipay(args, os.Stdin, os.Stdout, os.Stderr); code != 0 {
					os.Exit(code)
				}
				return nil
			}
		},
	})
}

// runMinipay runs `caddy minipay <args>` and returns the exit status.
func runMinipay(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	run := map[string]func([]string, io.Reader, io.Writer) (int, error){"verify": runVerify, "sign": runSign}
	usage := "usage: caddy minipay " + verifyUsage + "\n       caddy minipay " + signUsage
	if len(args) == 1 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintln(stdout, usage)
		return exitValid
	}
	if len(args) == 0 || run[args[0]] == nil {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	code, err := run[args[0]](args[1:], stdin, stdout)
	var help *helpRequest
	if errors.As(err, &help) {
		fmt.Fprint(stdout, help.text)
		return exitValid
	}
	if err != nil {
		fmt.Fprintln(stderr, "caddy minipay "+args[0]+": "+err.Error())
	}
	return code
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runVerify(args []string, stdin io.Reader, stdout io.Writer) (int, error) {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sets, headers listFlag
	name := fs.String("provider", "", "wechat_v2, wechat_v3, 2c2p, latipay or cbtis")
	file := fs.String("file", "", "the notification or answer as received; - (or no --file) for stdin")
	fs.Var(&sets, "set", "field=value, a provider field by its Caddyfile name; the value may be {env.NAME} or {file.path} (repeatable)")
	fs.Var(&headers, "header", "\"Name: value\", a header the provider signs in (repeatable)")
	at := fs.String("at", "", "when the input was received: RFC 3339 or Unix seconds")
	if err := parseFlags(fs, args, file, verifyUsage); err != nil {
		return exitUsage, err
	}
	received, err := parseReceivedAt(*at)
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
	if c, ok := webhook.(transform.Clocked); ok && !received.IsZero() {
		c.SetClock(func() time.Time { return received })
	}
	n := transform.Notification{Header: http.Header{}}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if k = strings.TrimSpace(k); !ok || k == "" || strings.ContainsAny(k, " \t") {
			return exitUsage, fmt.Errorf("--header %q: want \"Name: value\"", h)
		}
		n.Header.Add(k, strings.TrimSpace(v))
	}
	if n.Body, err = readInput(*file, stdin); err != nil {
		return exitUsage, err
	}
	// An empty input has nothing to explain, unless it is a signed empty
	// answer (WeChat Pay v3's 204), which comes with its headers.
	empty := len(bytes.TrimSpace(n.Body)) == 0
	if empty && len(headers) == 0 {
		return exitUsage, errEmptyInput
	}

	x, verr := explain(webhook, n)
	if errors.Is(verr, transform.ErrUnsignedAnswer) {
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
		line("verdict", "invalid ("+invalidReason(webhook, n, x.Kind, verr, received.IsZero())+")")
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
	return reason
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

// helpRequest is parseFlags' answer to -h or --help: asking for the usage is
// no usage error, so it goes to stdout and the command exits 0.
type helpRequest struct{ text string }

func (h *helpRequest) Error() string { return "help requested" }

// parseFlags parses a subcommand's flags; "-" (stdin, the same as --file -)
// may stand anywhere among them, once, and only without --file.
func parseFlags(fs *flag.FlagSet, args []string, file *string, usage string) error {
	dash := false
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			var flags strings.Builder
			fs.SetOutput(&flags)
			fs.PrintDefaults()
			return &helpRequest{"usage: caddy minipay " + usage + "\n\nflags:\n" + flags.String()}
		} else if err != nil {
			return fmt.Errorf("%v\nusage: caddy minipay %s", err, usage)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] != "-" || dash || *file != "" {
			return fmt.Errorf("unexpected argument %q\nusage: caddy minipay %s", args[0], usage)
		}
		dash, args = true, args[1:]
	}
	if dash {
		if *file != "" {
			return fmt.Errorf("unexpected argument \"-\" with --file\nusage: caddy minipay %s", usage)
		}
		*file = "-"
	}
	return nil
}

// errEmptyInput is the usage error for an empty (or blank) input.
var errEmptyInput = errors.New("the input is empty: give the notification or answer as received, with --file <path>, or on stdin with --file -")

// lines prints a command's output, one "key: value" line each: the value
// made printable, with every configured secret in it replaced by ***. Only
// the string to sign holds a key by design (masked by the provider's
// explainer); the rest is the input's, which may hold one too (a field set
// to the key, a key pasted as a signature header): no secret is printed.
type lines struct {
	w       io.Writer
	secrets []string
}

func (l lines) line(key, value string) {
	fmt.Fprintf(l.w, "%s: %s\n", key, printable(maskSecrets(value, l.secrets)))
}

// maskSecrets replaces each secret in v, as is or percent-encoded in any
// way a form or URL carries it (some bytes or all as %XX in either case, a
// space as '+' or %20), by ***: a run of masked bytes, where occurrences of
// secrets overlap or touch, is one ***.
func maskSecrets(v string, secrets []string) string {
	var masked []bool // allocated at the first occurrence
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for i := 0; i < len(v); i++ {
			if n := encodedPrefix(v[i:], s); n > 0 {
				if masked == nil {
					masked = make([]bool, len(v))
				}
				for k := i; k < i+n; k++ {
					masked[k] = true
				}
			}
		}
	}
	if masked == nil {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case !masked[i]:
			b.WriteByte(v[i])
		case i == 0 || !masked[i-1]:
			b.WriteString("***")
		}
	}
	return b.String()
}

// encodedPrefix returns the length of the prefix of v that reads as s, each
// byte of s written as is, as %XX (hex digits in either case) or, for a
// space, as '+'; 0 when no prefix does. A '%' of s may be "%25" or a bare
// '%', so both are tried.
func encodedPrefix(v, s string) int {
	j := 0
	for k := 0; k < len(s); k++ {
		c := s[k]
		if j+2 < len(v) && v[j] == '%' {
			if d, err := hex.DecodeString(v[j+1 : j+3]); err == nil && d[0] == c {
				if c != '%' {
					j += 3
					continue
				}
				if n := encodedPrefix(v[j+3:], s[k+1:]); n > 0 || k+1 == len(s) {
					return j + 3 + n
				}
			}
		}
		switch {
		case j < len(v) && v[j] == c, j < len(v) && c == ' ' && v[j] == '+':
			j++
		default:
			return 0
		}
	}
	return j
}

// printable writes a newline as \n (one line per key), a carriage return as
// \r, any other control character but a tab (C0, DEL, C1) as \xHH or
// \u00HH, and a byte that is not UTF-8 as \xHH: the input is the sender's,
// and a raw CR or escape sequence would let a notification redraw the
// terminal (print "verdict: valid" over the real verdict).
func printable(v string) string {
	i := 0
	for i < len(v) {
		c := v[i]
		if c >= 0x20 && c < 0x7f || c == '\t' {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && n == 1 || unicode.IsControl(r) {
			break
		}
		i += n
	}
	if i == len(v) {
		return v
	}
	const digits = "0123456789abcdef"
	b := append(make([]byte, 0, len(v)+16), v[:i]...)
	for i < len(v) {
		r, n := utf8.DecodeRuneInString(v[i:])
		switch {
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == utf8.RuneError && n == 1, r < 0x80 && unicode.IsControl(r) && r != '\t':
			b = append(b, '\\', 'x', digits[v[i]>>4], digits[v[i]&0xf])
		case unicode.IsControl(r) && r != '\t': // C1, two bytes in UTF-8
			b = append(b, '\\', 'u', '0', '0', digits[r>>4], digits[r&0xf])
		default:
			b = append(b, v[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// parseReceivedAt reads --at: RFC 3339 (a lower-case t or z too), or Unix
// seconds; "" is the zero time (now).
func parseReceivedAt(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if sec, err := strconv.ParseInt(v, 10, 64); err == nil && sec > 0 {
		return time.Unix(sec, 0), nil
	}
	if t, err := time.Parse(time.RFC3339, strings.ToUpper(v)); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 (2026-11-29T10:00:06+08:00) or Unix seconds", v)
}

// explainerFor builds a provider's webhook from field=value settings,
// resolved like a Caddyfile's (placeholders included), and returns the
// values of its secret fields, which the output must not show.
func explainerFor(name string, sets []string) (transform.Explainer, []string, error) {
	info, err := caddy.GetModule(providerNamespace + "." + name)
	if err != nil {
		return nil, nil, fmt.Errorf("unknown provider %q", name)
	}
	p, ok := info.New().(provider)
	if !ok {
		return nil, nil, fmt.Errorf("unknown provider %q", name)
	}
	fields := p.ConfigFields()
	for n, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, nil, setSyntaxError(n+1, s, fields)
		}
		i := fieldIndex(fields, k)
		if i < 0 {
			return nil, nil, fmt.Errorf("--set: %s has no field %q", name, k)
		}
		*fields[i].Value = v
	}
	if _, err := resolveProvider(p, transform.RoleWebhook); err != nil {
		return nil, nil, err
	}
	wp, ok := p.(webhookProvider)
	if !ok {
		return nil, nil, fmt.Errorf("provider %s sends no notifications", name)
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

// setSyntaxError refuses the n-th --set, which has no "field=": its text is
// not repeated, since it may hold a secret (a value typed after a colon, or
// without its field name); a field name it starts with is.
func setSyntaxError(n int, s string, fields []transform.ConfigField) error {
	name := s[:len(s)-len(strings.TrimLeft(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"))]
	if name != "" && fieldIndex(fields, name) >= 0 {
		return fmt.Errorf("--set #%d (%s...): want field=value, with \"=\" right after the field name (the rest is not shown: it may be a secret)", n, name)
	}
	return fmt.Errorf("--set #%d: want field=value (its text is not shown: it may be a secret)", n)
}

func fieldIndex(fields []transform.ConfigField, name string) int {
	for i, f := range fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// readInput reads the notification from a file, or stdin for "-" or "".
func readInput(path string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxVerifyInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading the input: %w", err)
	}
	if len(b) > maxVerifyInput {
		return nil, errors.New("the input is larger than 1 MiB")
	}
	return b, nil
}
