package latipay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
)

// Latipay's two signatures (docs/providers/latipay.md, "Signatures"), both
// HMAC-SHA256 keyed by the api_key, lowercase hex:
//   - the request signature over the sorted parameters (Sign);
//   - the notification signature over five concatenated fields, which
//     notifications and query answers carry (NotifySign).

// Sign is Latipay's request signature: every non-empty parameter except
// signature (and never api_key), sorted by name, k=v joined with '&', values
// raw, the api_key appended directly; HMAC-SHA256 keyed by the api_key over
// that whole string, lowercase hex.
func Sign(params transform.Params, apiKey string) string {
	return newSigner(apiKey).sign(params)
}

// Verify checks a request's signature parameter in constant time.
func Verify(params transform.Params, apiKey string) bool {
	return newSigner(apiKey).verify(params)
}

// NotifySign is the signature of notifications and query answers:
// HMAC-SHA256 keyed by the api_key over merchant_reference + payment_method +
// status + currency + amount (plain concatenation, no api_key appended),
// lowercase hex. amount is the text exactly as Latipay sent it.
func NotifySign(merchantReference, paymentMethod, status, currencyCode, amount, apiKey string) string {
	return newSigner(apiKey).notifySign(merchantReference, paymentMethod, status, currencyCode, amount)
}

// signer signs with one merchant key. Clients, webhooks and sandboxes keep
// one: building a keyed HMAC state costs more than the signature itself on
// the pay hot path, so states are recycled.
type signer struct {
	key string
	mac *transform.HMACPool
}

func newSigner(apiKey string) signer {
	return signer{key: apiKey, mac: transform.NewHMACPool(apiKey)}
}

func (s signer) sign(params transform.Params) string {
	buf := transform.GetBuf()
	defer transform.PutBuf(buf)
	b := withoutAPIKey(params).SortedQuery(*buf, "signature")
	b = append(b, s.key...)
	*buf = b
	return s.mac.Hex(b, false)
}

func (s signer) verify(params transform.Params) bool {
	got := params.Get("signature")
	return got != "" && transform.EqualHexConstantTime(got, s.sign(params))
}

func (s signer) notifySign(merchantReference, paymentMethod, status, currencyCode, amount string) string {
	buf := transform.GetBuf()
	defer transform.PutBuf(buf)
	b := append(*buf, merchantReference...)
	b = append(b, paymentMethod...)
	b = append(b, status...)
	b = append(b, currencyCode...)
	b = append(b, amount...)
	*buf = b
	return s.mac.Hex(b, false)
}

// olderQuerySign is the query's signature in the older form (Latipay's
// earlier docs and PHP plugin, docs/providers/latipay.md "Signatures"):
// HMAC-SHA256 over merchant_reference + user_id, nothing appended.
func (s signer) olderQuerySign(merchantReference, userID string) string {
	return s.mac.Hex([]byte(merchantReference+userID), false)
}

// verifyNotify compares a received notification-formula signature in
// constant time.
func (s signer) verifyNotify(got, merchantReference, paymentMethod, status, currencyCode, amount string) bool {
	return got != "" && transform.EqualHexConstantTime(got, s.notifySign(merchantReference, paymentMethod, status, currencyCode, amount))
}

// ExplainSign is the sorted-parameter signature of params (signature and
// api_key left out) with the message's appended key masked, and the
// signature itself: what `caddy minipay sign` prints.
func ExplainSign(params transform.Params, apiKey string) (stringToSign, signature string) {
	msg := withoutAPIKey(params).SortedQuery(nil, "signature")
	return string(msg) + transform.Masked, newSigner(apiKey).sign(params)
}

// withoutAPIKey is params without any api_key, which is never part of the
// signed message, whoever put it there; params itself when it has none,
// so the usual request costs no copy.
func withoutAPIKey(params transform.Params) transform.Params {
	if !params.Has("api_key") {
		return params
	}
	kept := make(transform.Params, 0, len(params))
	for _, p := range params {
		if p.Name != "api_key" {
			kept = append(kept, p)
		}
	}
	return kept
}

// RequestSigning implements transform.RequestExplainer: `caddy minipay
// sign` signs a request with the api_key.
func (*Config) RequestSigning() transform.RequestSigning {
	return transform.RequestSigning{Fields: []transform.RequestField{{Name: "api_key", Usage: "<key>"}}}
}

// ExplainRequest signs a Latipay JSON request: its string and number
// fields, each number as written (120.00, not 120); null is absent. A
// boolean, an object or an array is refused, naming the first such
// parameter, and so is text after the object: Latipay answers such a
// request "Param is wrong", as the sandbox does (readJSONParams), whatever
// its signature. Text that is not transform.ValidJSONText is refused too,
// naming the parameter: encoding/json reads it as U+FFFD, so the signature
// printed would cover text the request does not hold.
func (c *Config) ExplainRequest(r transform.MerchantRequest) (transform.RequestExplanation, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return transform.RequestExplanation{}, errors.New("the input is not a JSON object")
	}
	// Only white space may follow, as json.Unmarshal in readJSONParams allows.
	if _, err := dec.Token(); err != io.EOF {
		return transform.RequestExplanation{}, errors.New("the input holds text after the JSON object, which Latipay refuses (\"Param is wrong\"): give one JSON object")
	}
	if !transform.ValidJSONText(r.Body) {
		return transform.RequestExplanation{}, notUTF8(r.Body)
	}
	p := make(transform.Params, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) { // the first refused is named, whatever the map's order
		var kind string
		switch v := m[k].(type) {
		case string:
			p = append(p, transform.Param{Name: k, Value: v})
		case json.Number:
			p = append(p, transform.Param{Name: k, Value: v.String()})
		case bool:
			kind = "boolean"
		case map[string]any:
			kind = "object"
		case []any:
			kind = "array"
		}
		if kind != "" {
			return transform.RequestExplanation{}, fmt.Errorf("parameter %q is a JSON %s, which Latipay refuses (\"Param is wrong\"): its parameters are strings and numbers", k, kind)
		}
	}
	text, sig := ExplainSign(p, c.APIKey) // p in any order: the string to sign is sorted
	return transform.RequestExplanation{SignType: "HMAC-SHA256", StringToSign: text, Signature: sig}, nil
}

// notUTF8 names the first parameter (by name) of body, a JSON object with
// only white space after it, whose value is not transform.ValidJSONText,
// else the first whose name is not, as encoding/json read it (U+FFFD).
func notUTF8(body []byte) error {
	const why = "is not UTF-8 text (a byte that is not UTF-8, or a \\u escape of half a surrogate pair), which would be signed as U+FFFD: give UTF-8"
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		keys := slices.Sorted(maps.Keys(m))
		for _, k := range keys {
			if !transform.ValidJSONText(m[k]) {
				return fmt.Errorf("parameter %q %s", k, why)
			}
		}
		for _, k := range keys {
			if strings.ContainsRune(k, utf8.RuneError) {
				return fmt.Errorf("parameter name %+q %s", k, why) // U+FFFD shown as \ufffd
			}
		}
	}
	return errors.New("the input " + why)
}
