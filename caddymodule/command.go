package caddymodule

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/minipay/caddy-minipay/transform"
)

// The `caddy minipay` command: its registration and dispatch, and what
// verify (command_verify.go) and sign (command_sign.go) share: flags, input
// and the output, whose secrets are masked and control bytes escaped.

// Exit statuses of the command.
const (
	exitValid   = 0
	exitInvalid = 1
	exitUsage   = 2 // bad flags, unknown provider or field, unreadable input
)

// maxInput bounds what verify and sign read: an API answer, the largest
// input a verifier reads (a notification is refused past 64 KiB).
const maxInput = transform.MaxAnswer

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
provider signs in (--header, repeatable; or the input is the whole HTTP
message, head and body, as nc -l or curl -i saves it), builds the provider from --set
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
the body with --method and --url, and its Authorization header; 2c2p: the
PaymentRequest payload, and the envelope to send) and prints the string to
sign (a key as ***) and the signature. Exit status: 0, or 2 on a usage error.

  caddy minipay ` + verifyUsage + `
  caddy minipay ` + signUsageAny + `
`,
		CobraFunc: func(cmd *cobra.Command) {
			// The command parses its own flags so that a usage error exits 2.
			cmd.DisableFlagParsing = true
			cmd.DisableFlagsInUseLine = true
			// Each provider's sign usage, read from the registry once every
			// provider is registered (Long is written at init).
			cmd.Long = strings.Replace(cmd.Long, "caddy minipay "+signUsageAny, "caddy minipay "+strings.ReplaceAll(signUsage(), "\n      ", "\n "), 1)
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
	usage := "usage: caddy minipay " + verifyUsage + "\n       caddy minipay " + signUsage()
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

// helpRequest is parseFlags' answer to -h or --help: asking for the usage is
// no usage error, so it goes to stdout and the command exits 0.
type helpRequest struct{ text string }

func (h *helpRequest) Error() string { return "help requested" }

// parseFlags parses a subcommand's flags; "-" (stdin, the same as --file -)
// may stand anywhere among them, once, and only without --file.
func parseFlags(fs *flag.FlagSet, args []string, file *string, usage string) error {
	dash, all := false, len(args)
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			var flags strings.Builder
			fs.SetOutput(&flags)
			fs.PrintDefaults()
			return &helpRequest{"usage: caddy minipay " + usage + "\n\nflags:\n" + flags.String()}
		} else if err != nil {
			return fmt.Errorf("%v\nusage: caddy minipay %s", flagError(err, all-len(fs.Args())), usage)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "-" && (dash || *file != "") {
			return fmt.Errorf("unexpected argument \"-\": stdin is the input once, and not with --file\nusage: caddy minipay %s", usage)
		}
		if args[0] != "-" {
			// Named by its position, not repeated: "--set api_key $KEY"
			// leaves the key here.
			return fmt.Errorf("unexpected argument #%d (its text is not shown: it may be a secret): the input is --file <path> or - (stdin), and --set takes field=value as one argument\nusage: caddy minipay %s", all-len(args)+1, usage)
		}
		dash, args = true, args[1:]
	}
	// A flag given an empty value, as a script's unset "$VAR" gives it, is
	// no value and not the flag left out: --timestamp "" signed now and
	// --file "" read stdin. (--set and --header name their own errors.)
	empty := ""
	fs.Visit(func(f *flag.Flag) {
		if _, list := f.Value.(*listFlag); !list && empty == "" && f.Value.String() == "" {
			empty = f.Name
		}
	})
	if empty != "" {
		return fmt.Errorf("--%s is empty (as an unset variable gives it): give the value, or leave the flag out\nusage: caddy minipay %s", empty, usage)
	}
	if dash {
		if *file != "" {
			return fmt.Errorf("unexpected argument \"-\" with --file\nusage: caddy minipay %s", usage)
		}
		*file = "-"
	}
	return nil
}

// flagError is err, after parsing consumed n arguments, without the text of
// the argument it refuses where that may be a secret: a value that starts
// with "-" (typed after --set field, or after a header's name) parses as a
// flag, and Go's flag package quotes it. A name that reads as a misspelt
// flag (a short word) is shown.
func flagError(err error, n int) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		if word := strings.TrimLeft(name, "-"); len(word) <= 20 && !looksLikeValue(word) {
			return err
		}
		return fmt.Errorf("flag #%d is not defined (its text is not shown: it may be a secret, a value that starts with \"-\"; write --set field=value as one argument)", n)
	}
	if strings.HasPrefix(msg, "bad flag syntax: ") {
		// The flag package leaves this argument unconsumed.
		return fmt.Errorf("flag #%d: bad flag syntax (its text is not shown: it may be a secret)", n+1)
	}
	return err
}

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

// unknownSetField refuses the n-th --set, whose field what (a provider, or
// "sign for" one) does not take: the name is repeated unless it looks like
// a value (knownField's rule), which may be a secret.
func unknownSetField(n int, what, name string) error {
	if looksLikeValue(name) {
		return fmt.Errorf("--set #%d: %s has no such field (the name is not repeated: it looks like a value, which may be a secret)", n, what)
	}
	return fmt.Errorf("--set #%d: %s has no field %q", n, what, name)
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
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading the input: %w", err)
	}
	if len(b) > maxInput {
		return nil, errors.New("the input is larger than 1 MiB")
	}
	return b, nil
}
