package caddymodule

import (
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzProviderFieldValues: any value in any field of any provider, loaded
// as a minipay route loads it (README "Provider fields"), either fails
// without the error quoting it, or holds nothing its field's kind keeps
// out, as read here without the rules: an id field (…_id, uid) only
// letters, digits, _ and - (no path separator, no dot), a URL field no
// user info or fragment as net/url reads it, a path field no host or
// query as net/url reads it, CBTIS's token_url (which the admin API
// shows) no client_secret, and no field but a PEM one a control
// character.
func FuzzProviderFieldValues(f *testing.F) {
	for _, s := range []string{"1900/000109", "..", "https://u:p@h/x", "https://h/x#f", "//evil.example/x", "/a?b", "a\x00b",
		"3775B6A45ACD588826D15E583A95F5DD2F2D3B4A", "https://cbtis.example/auth?client_secret=x", "https://cbtis.example/auth?region=hk;client_secret=x", "wx8888888888888888"} {
		for i := range 8 {
			f.Add(uint8(i), uint8(i*3), s)
		}
	}
	configs := clientConfigs(f)
	names := providerNames()
	idName := regexp.MustCompile(`(_id|^uid)$`)
	idValue := regexp.MustCompile(`^[A-Za-z0-9_-]*$`)
	pemRule := reflect.ValueOf(transform.Rule(transform.PEMRule)).Pointer()
	f.Fuzz(func(t *testing.T, which, field uint8, value string) {
		name := names[int(which)%len(names)]
		config, ok := configs[name]
		if !ok || strings.Contains(value, "{") { // a placeholder is resolved first: TestResolveProvider's
			return
		}
		info, err := caddy.GetModule(providerNamespace + "." + name)
		if err != nil {
			t.Fatal(err)
		}
		fields := info.New().(provider).ConfigFields()
		fd := fields[int(field)%len(fields)]
		err = loadClient(t, name, config, fd.Name, value)
		if err != nil {
			if len(value) >= 10 && strings.Contains(err.Error(), value) {
				t.Fatalf("%s %s: the error quotes the value: %v", name, fd.Name, err)
			}
			return
		}
		if fd.Rule == nil || reflect.ValueOf(fd.Rule).Pointer() != pemRule {
			if strings.ContainsFunc(value, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
				t.Fatalf("%s %s loads a control character: %q", name, fd.Name, value)
			}
		}
		switch {
		case idName.MatchString(fd.Name) && !idValue.MatchString(value):
			t.Fatalf("%s %s loads the id %q", name, fd.Name, value)
		case strings.HasSuffix(fd.Name, "_url") && value != "":
			u, err := url.Parse(value)
			if err != nil || u.User != nil || u.Fragment != "" || strings.Contains(value, "#") {
				t.Fatalf("%s %s loads the URL %q (%#v, %v)", name, fd.Name, value, u, err)
			}
			// token_url is shown by GET /minipay/providers: no pair of its
			// query names client_secret, as any server reads a query
			// (pairs split at & or ;, the name percent-decoded, any case).
			for pair := range strings.FieldsFuncSeq(u.RawQuery, func(c rune) bool { return c == '&' || c == ';' }) {
				k, _, _ := strings.Cut(pair, "=")
				if dk, err := url.QueryUnescape(k); err == nil {
					k = dk
				}
				if fd.Name == "token_url" && strings.EqualFold(k, "client_secret") {
					t.Fatalf("%s %s loads a client_secret in its query: %q", name, fd.Name, value)
				}
			}
		case strings.HasSuffix(fd.Name, "_path") && value != "":
			u, err := url.Parse(value)
			if err != nil || u.Host != "" || u.Scheme != "" || u.RawQuery != "" || u.ForceQuery || !strings.HasPrefix(u.Path, "/") {
				t.Fatalf("%s %s loads the path %q (%#v, %v)", name, fd.Name, value, u, err)
			}
		}
	})
}
