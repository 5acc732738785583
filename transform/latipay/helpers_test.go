package latipay

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// The merchant of Latipay's published examples (docs/providers/latipay.md, Latipay's
// latipay-wechat-mini-app.md and latipay-hosted-online.md): api_key
// 111222333, user U000334333, wallet W00000001, mini app wx721398712681232.
const (
	vecAPIKey   = "111222333"
	vecUserID   = "U000334333"
	vecWalletID = "W00000001"
	vecAppID    = "wx721398712681232"
	vecNotify   = "https://merchantsite.com/latipay/notify"
	vecOpenID   = "obRdo5H-72b_PH2Lvr5_Dw9bXKHs"
	otherKey    = "999888777"
)

func testConfig() Config {
	return Config{UserID: vecUserID, WalletID: vecWalletID, APIKey: vecAPIKey, AppID: vecAppID, Currency: "NZD", NotifyURL: vecNotify}
}

func newClient(t testing.TB, cfg Config) *Client { return transformtest.Must(t, NewClient, cfg) }

func newWebhook(t testing.TB, cfg Config) *Webhook { return transformtest.Must(t, NewWebhook, cfg) }

// refSign is docs/providers/latipay.md's request signature written out independently of
// Sign: non-empty parameters but signature and api_key, sorted by name,
// k=v joined with '&', the key appended, HMAC-SHA256 keyed by the key,
// lowercase hex.
func refSign(p map[string]string, key string) string {
	var names []string
	for k, v := range p {
		if v != "" && k != "signature" && k != "api_key" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, k+"="+p[k])
	}
	return refHMAC(strings.Join(parts, "&")+key, key)
}

// refNotify is the notification formula, written out independently.
func refNotify(ref, method, status, currency, amount, key string) string {
	return refHMAC(ref+method+status+currency+amount, key)
}

func refHMAC(msg, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// wantError asserts err is a *transform.Error with status and code.
func wantError(t *testing.T, err error, status int, code string) *transform.Error {
	t.Helper()
	return transformtest.WantError(t, err, status, code, vecAPIKey)
}

// refFields reads a notification body independently of ParseNotification:
// net/url for a form, encoding/json (numbers by their text) for a JSON
// object, of which it keeps the members that are strings or numbers.
func refFields(body []byte) (url.Values, error) {
	body = bytes.Trim(body, " \t\r\n")
	if len(body) == 0 || body[0] != '{' {
		return url.ParseQuery(string(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	v := url.Values{}
	for k, x := range m {
		switch x := x.(type) {
		case string:
			v.Set(k, x)
		case json.Number:
			v.Set(k, x.String())
		}
	}
	return v, nil
}
