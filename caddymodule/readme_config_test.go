package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// readmeBlock is one fenced ```caddyfile or ```json block of README.md.
type readmeBlock struct {
	lang, text string
	line       int  // of the opening fence
	adjacent   bool // only blank lines since the block before it
}

// readmeBlocks lists README's caddyfile and json blocks in order (those of
// the production checklist's list items are indented).
func readmeBlocks(t *testing.T, readme string) []readmeBlock {
	t.Helper()
	var blocks []readmeBlock
	var cur *readmeBlock
	var indent string
	adjacent := false
	for i, line := range strings.Split(readme, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &readmeBlock{lang: strings.TrimPrefix(trimmed, "```"), line: i + 1, adjacent: adjacent}
			indent = line[:len(line)-len(trimmed)]
		case cur == nil:
			adjacent = adjacent && trimmed == ""
		case trimmed == "```":
			if cur.lang == "caddyfile" || cur.lang == "json" {
				blocks = append(blocks, *cur)
			}
			cur, adjacent = nil, true
		default:
			cur.text += strings.TrimPrefix(line, indent) + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a block is not closed", cur.line)
	}
	return blocks
}

// minipayHandlers collects, in order, the minipay, minipay_webhook and
// minipay_sandbox handler objects anywhere in a JSON value.
func minipayHandlers(v any) []map[string]any {
	var found []map[string]any
	switch v := v.(type) {
	case map[string]any:
		if h, _ := v["handler"].(string); strings.HasPrefix(h, "minipay") {
			found = append(found, v)
		}
		for _, e := range v {
			found = append(found, minipayHandlers(e)...)
		}
	case []any:
		for _, e := range v {
			found = append(found, minipayHandlers(e)...)
		}
	}
	return found
}

// TestREADMEConfigurationsLoad copies every configuration README shows, as a
// user would, and checks it does what the README says:
//   - each ```caddyfile block adapts and loads (Provision, as caddy
//     validate runs it), a site body wrapped in a site: those holding a
//     minipay directive, and the Caddy options README tells a user to add
//     beside them (the log filter, storage, tls client_auth, the client
//     certificate, server timeouts), but for the Redis storage, whose module
//     this build does not link;
//   - each minipay handler object of a ```json block loads;
//   - a ```json block right after a ```caddyfile block (blank lines only
//     between them) is that Caddyfile's JSON: each of its handler objects is one caddy adapt makes of the
//     Caddyfile (2C2P, Latipay, CBTIS and the "JSON" section).
//
// Only what a user substitutes is: the key files under /etc/minipay (the
// example's public test keys and certificates), the shared storage's
// directory, the host CBTIS assigns, the variables.
func TestREADMEConfigurationsLoad(t *testing.T) {
	keys, err := filepath.Abs("../examples/keys")
	if err != nil {
		t.Fatal(err)
	}
	substitute := strings.NewReplacer(
		"/etc/minipay/apiclient_key.pem", keys+"/apiclient_key.pem",
		"/etc/minipay/pub_key.pem", keys+"/wechatpay_pub_key.pem",
		"/etc/minipay/wechatpay_cert.pem", keys+"/wechatpay_platform_cert.pem",
		"/etc/minipay/apiclient_cert.pem", keys+"/apiclient_cert.pem",
		"/etc/minipay/backend-ca.pem", keys+"/wechatpay_platform_cert.pem",
		"/mnt/shared/caddy", t.TempDir(),
		"<assigned-host>", "cbtis.example.com",
	)
	for name, value := range map[string]string{
		"WECHAT_API_KEY": "8934e7d15453e97507ef794cf7b0519d", "WECHAT_API_V3_KEY": "sandbox-apiv3-key-0123456789abcd",
		"TWOC2P_MERCHANT_ID": "JT01", "TWOC2P_SECRET_KEY": "7jYcp4FxFdf0", "LATIPAY_API_KEY": "lp-sandbox-3f9a1c7e5b2d4086",
		"CBTIS_UID": "39172931", "CBTIS_CLIENT_SECRET": "cs-1", "CBTIS_API_KEY": "k-1",
		"SHOP_A_WECHAT_API_KEY": "8934e7d15453e97507ef794cf7b0519d", "SHOP_B_WECHAT_API_KEY": "0123456789abcdef0123456789abcdef",
	} {
		t.Setenv(name, value)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(readme))
	var loaded, twins int
	var adapted []map[string]any // the handlers of the caddyfile block before
	for i, b := range blocks {
		where := "README.md:" + strconv.Itoa(b.line)
		switch b.lang {
		case "caddyfile":
			adapted = nil
			directives := minipayDirective.MatchString(b.text)
			if strings.Contains(b.text, "[<matcher>]") || strings.Contains(b.text, "storage redis") {
				continue // the directives' syntax, or a storage module not linked here
			}
			cfg := adaptREADMECaddyfile(t, where, substitute.Replace(b.text))
			validateREADMEConfig(t, where, cfg)
			var v any
			if err := json.Unmarshal(cfg, &v); err != nil {
				t.Fatal(err)
			}
			adapted = minipayHandlers(v)
			if directives && len(adapted) == 0 {
				t.Errorf("%s: adapts to no minipay handler", where)
			}
			loaded++
		case "json":
			documented := readmeJSONHandlers(t, where, substitute.Replace(b.text))
			for _, h := range documented {
				raw, _ := json.Marshal(h)
				validateREADMEConfig(t, where, []byte(`{"apps":{"http":{"servers":{"readme":{"listen":[":8080"],"routes":[{"handle":[`+string(raw)+`]}]}}}}}`))
				loaded++
			}
			if len(documented) == 0 || !b.adjacent || i == 0 || blocks[i-1].lang != "caddyfile" || adapted == nil {
				continue
			}
			for _, h := range documented {
				if !slicesContainsEqual(adapted, h) {
					got, _ := json.Marshal(adapted)
					want, _ := json.Marshal(h)
					t.Errorf("%s: caddy adapt of the Caddyfile above does not make\n%s\nit makes %s", where, want, got)
				}
				twins++
			}
		}
	}
	// The README holds (at least) these: a change that drops them should
	// drop this count knowingly.
	if loaded < 25 || twins < 9 {
		t.Fatalf("loaded %d configurations and compared %d documented JSON handlers with caddy adapt's; README has more", loaded, twins)
	}
}

// TestREADMECaddyfilesFormatted: every ```caddyfile block of README, the
// directives' syntax included, is what caddy fmt makes of it, so a user
// who copies one and runs caddy fmt sees no change (Caddyfile.example is
// held to it by TestCaddyfileExampleLoads: caddy adapt warns of a file
// named Caddyfile* that is not formatted, and of no other).
func TestREADMECaddyfilesFormatted(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, b := range readmeBlocks(t, string(readme)) {
		if b.lang != "caddyfile" {
			continue
		}
		if formatted := string(caddyfile.Format([]byte(b.text))); formatted != b.text {
			t.Errorf("README.md:%d: caddy fmt changes the block to\n%s", b.line, formatted)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("checked %d caddyfile blocks; README has more", checked)
	}
}

// minipayDirective finds a line that opens a minipay directive.
var minipayDirective = regexp.MustCompile(`(?m)^\s*minipay(_webhook|_sandbox)?\s`)

// adaptREADMECaddyfile adapts a README Caddyfile: a whole Caddyfile (one
// that starts with global options, a snippet or a site address) as is, a site body
// (handle blocks, a bare directive) inside a site, indented as caddy fmt
// would.
func adaptREADMECaddyfile(t *testing.T, where, text string) []byte {
	t.Helper()
	first := ""
	for line := range strings.SplitSeq(text, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			first = line
			break
		}
	}
	// A site address is the line's first word: "reverse_proxy https://…"
	// is a directive.
	if word, _, _ := strings.Cut(first, " "); first != "{" && !strings.HasPrefix(first, "(") && !strings.HasPrefix(first, ":") && !strings.Contains(word, "://") {
		var site strings.Builder
		address := "http://localhost:8080"
		if strings.HasPrefix(first, "tls ") {
			address = "https://localhost:8443" // a tls block is an HTTPS site's
		}
		site.WriteString(address + " {\n")
		for line := range strings.Lines(text) {
			if strings.TrimSpace(line) != "" {
				site.WriteString("\t")
			}
			site.WriteString(line)
		}
		text = site.String() + "}\n"
	}
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), map[string]any{"filename": where})
	if err != nil {
		t.Fatalf("%s: caddy adapt: %v\n%s", where, err, text)
	}
	for _, w := range warnings {
		t.Errorf("%s: caddy adapt warns: %s", where, w.String())
	}
	return cfg
}

// readmeJSONHandlers reads a README JSON block (one or more values) and
// returns its minipay handler objects.
func readmeJSONHandlers(t *testing.T, where, text string) []map[string]any {
	t.Helper()
	var found []map[string]any
	dec := json.NewDecoder(strings.NewReader(text))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return found
		}
		if err != nil {
			if strings.Contains(text, `"handler"`) {
				t.Fatalf("%s: not JSON: %v", where, err)
			}
			return nil // an example body with "..." in it
		}
		found = append(found, minipayHandlers(v)...)
	}
}

// validateREADMEConfig loads cfg as caddy validate does: every module
// provisioned, nothing started.
func validateREADMEConfig(t *testing.T, where string, cfg []byte) {
	t.Helper()
	var c caddy.Config
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if err := caddy.Validate(&c); err != nil {
		t.Errorf("%s: does not load: %v", where, err)
	}
}

func slicesContainsEqual(list []map[string]any, m map[string]any) bool {
	for _, e := range list {
		if reflect.DeepEqual(e, m) {
			return true
		}
	}
	return false
}

// TestCaddyfileExampleLoads: Caddyfile.example, run as README says from the
// repository root, adapts without a warning (caddy run would print one for
// a Caddyfile caddy fmt would change) and loads.
func TestCaddyfileExampleLoads(t *testing.T) {
	t.Chdir("..") // its {file.examples/keys/…} paths are relative to the root
	example, err := os.ReadFile("Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	cfg := adaptREADMECaddyfile(t, "Caddyfile.example", string(example))
	validateREADMEConfig(t, "Caddyfile.example", cfg)
	var v any
	if err := json.Unmarshal(cfg, &v); err != nil {
		t.Fatal(err)
	}
	if n := len(minipayHandlers(v)); n < 12 { // 5 payment providers and login, 5 webhooks, the sandbox
		t.Fatalf("Caddyfile.example adapts to %d minipay handlers", n)
	}
}

// TestEarlierConfigurationsLoad: README Upgrading. Caddyfile.example as it
// was at three earlier points (25c98ef of 22 November, 4dac13c of 29
// November, 0c152f6, the previous release point), and the JSON the build
// of each adapted it to (what its autosave.json holds), load into this
// version, run from the repository root as the example says; and caddy
// adapt now makes the same minipay handlers of each as that build did, but
// for dedupe's form (nanoseconds then, a duration text now). A change that
// makes one fail or mean something else is a break for a user upgrading:
// README Upgrading says what to write instead, and these files change
// with it.
func TestEarlierConfigurationsLoad(t *testing.T) {
	t.Chdir("..") // their {file.examples/keys/…} paths are relative to the root
	for _, commit := range []string{"25c98ef", "4dac13c", "0c152f6"} {
		t.Run(commit, func(t *testing.T) {
			path := filepath.Join("caddymodule", "testdata", "earlier", "Caddyfile.example-"+commit)
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			adapted, earlier := adaptREADMECaddyfile(t, path, string(text)), mustRead(t, path+".json")
			validateREADMEConfig(t, path, adapted)
			validateREADMEConfig(t, path+".json", earlier)
			now, then := handlersOf(t, adapted), handlersOf(t, earlier)
			if len(then) < 3 || !reflect.DeepEqual(now, then) {
				t.Fatalf("caddy adapt makes the minipay handlers\n%s\nwhere the build of %s made\n%s", strings.Join(now, "\n"), commit, strings.Join(then, "\n"))
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handlersOf returns a configuration's minipay handler objects, as JSON
// text in sorted order (minipayHandlers walks maps), with dedupe as
// nanoseconds, the form earlier builds wrote it in.
func handlersOf(t *testing.T, cfg []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(cfg, &v); err != nil {
		t.Fatal(err)
	}
	handlers := minipayHandlers(v)
	for _, h := range handlers {
		if text, ok := h["dedupe"].(string); ok {
			d, err := caddy.ParseDuration(text)
			if err != nil {
				t.Fatal(err)
			}
			h["dedupe"] = float64(d)
		}
	}
	texts := make([]string, len(handlers))
	for i, h := range handlers {
		b, _ := json.Marshal(h)
		texts[i] = string(b)
	}
	slices.Sort(texts)
	return texts
}
