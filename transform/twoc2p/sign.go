package twoc2p

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/minipay/caddy-minipay/transform"
)

// Roots of 2C2P's documents: the envelope and the payload inside it share
// the root name.
const (
	RootRequest  = "PaymentRequest"
	RootResponse = "PaymentResponse"
)

// Form fields that carry an envelope.
const (
	FieldRequest  = "paymentRequest"
	FieldResponse = "paymentResponse"
)

// maxInflated bounds a gzip-compressed pay answer once inflated.
const maxInflated = 1 << 20

// MaxNotification bounds a notification, once any Content-Encoding is
// removed (64 KiB, like every notification body).
const MaxNotification = transform.MaxNotification

// maxDepth bounds payload nesting; 2C2P's deepest is
// PaymentRequest/miniProgramData/wechat/appID.
const maxDepth = 4

// maxEnvelopeElements bounds the elements of an envelope, read before its
// signature is checked: 2C2P's has three (version, payload, signature), and
// the others, unsigned, are skipped; one of thousands is refused once this
// many are read.
const maxEnvelopeElements = 16

// Sign is 2C2P's signature: the uppercase hex HMAC-SHA256, keyed with the
// secret key's raw bytes, of the payload's base64 text (not of the XML).
func Sign(payload, secretKey string) string {
	return transform.HMACSHA256Hex(secretKey, []byte(payload), true)
}

// signer signs with one secret key. The Client, the Webhook and the
// Sandbox keep one, whose HMAC states are pooled (transform.HMACPool):
// building one costs more allocations than the signature itself, twice per
// pay. The package's functions (Sign, Seal, Open, Envelope.Verify) use one
// without a pool, which builds a state per signature.
type signer struct {
	key string
	mac *transform.HMACPool // nil: a state per signature
}

func newSigner(secretKey string) signer {
	return signer{key: secretKey, mac: transform.NewHMACPool(secretKey)}
}

// appendSign appends Sign's signature of payload to dst.
func (s signer) appendSign(dst, payload []byte) []byte {
	if s.mac == nil {
		return append(dst, transform.HMACSHA256Hex(s.key, payload, true)...)
	}
	return s.mac.AppendHex(dst, payload, true)
}

// sign is Sign with the signer's key.
func (s signer) sign(payload string) string {
	var sig [2 * sha256.Size]byte
	return string(s.appendSignString(sig[:0], payload))
}

// appendSignString is appendSign of a payload held as a string: its bytes
// are copied into a pooled buffer, not a new one, for the hash to read.
func (s signer) appendSignString(dst []byte, payload string) []byte {
	buf := transform.GetBuf()
	defer transform.PutBuf(buf)
	*buf = append(*buf, payload...)
	return s.appendSign(dst, *buf)
}

// Envelope is the outer document <Root><version/><payload/><signature/></Root>.
// Nothing in it is authenticated until Verify succeeded.
type Envelope struct {
	Root      string
	Version   string
	Payload   string // base64 text, exactly as signed
	Signature string
}

// Verify compares the signature with the key's in constant time.
func (e *Envelope) Verify(secretKey string) bool {
	return e.verify(signer{key: secretKey})
}

// verify is Verify with s's key; the expected signature stays on the stack.
func (e *Envelope) verify(s signer) bool {
	var want [2 * sha256.Size]byte
	return e.Signature != "" && transform.EqualHexConstantTime(e.Signature, s.appendSignString(want[:0], e.Payload))
}

// Seal signs an inner document and returns the envelope's base64 text, the
// value of the paymentRequest / paymentResponse form field. The envelope is
// flat and its values are base64, hex and a version, so it is written
// directly.
func Seal(root, version string, inner []byte, secretKey string) string {
	return seal(root, version, inner, signer{key: secretKey})
}

// seal is Seal with s's key: the payload's base64 text is written into the
// envelope and signed there, never copied.
func seal(root, version string, inner []byte, s signer) string {
	return base64.StdEncoding.EncodeToString(sealXML(root, version, inner, s))
}

// sealXML is seal's envelope before its base64, written in one buffer of
// its size.
func sealXML(root, version string, inner []byte, s signer) []byte {
	const tags = len("<><version></version><payload></payload><signature></signature></>")
	n := base64.StdEncoding.EncodedLen(len(inner))
	env := make([]byte, 0, tags+2*len(root)+len(version)+n+2*sha256.Size)
	env = append(append(append(env, '<'), root...), "><version>"...)
	env = appendEscaped(env, version)
	env = append(env, "</version><payload>"...)
	env = base64.StdEncoding.AppendEncode(env, inner)
	payload := env[len(env)-n:]
	env = append(env, "</payload><signature>"...)
	env = s.appendSign(env, payload)
	return append(append(append(env, "</signature></"...), root...), '>')
}

// appendFormBase64 appends src's standard base64 as url.QueryEscape writes
// it, '+', '/' and '=' percent-encoded: the form value of an envelope,
// without a copy of its base64 text or of the escaped text. Chunks of a
// multiple of three bytes encode as the whole does.
func appendFormBase64(dst, src []byte) []byte {
	var enc [64]byte
	for len(src) > 0 {
		chunk := src[:min(len(src), 48)]
		src = src[len(chunk):]
		for _, c := range base64.StdEncoding.AppendEncode(enc[:0], chunk) {
			switch c {
			case '+':
				dst = append(dst, "%2B"...)
			case '/':
				dst = append(dst, "%2F"...)
			case '=':
				dst = append(dst, "%3D"...)
			default:
				dst = append(dst, c)
			}
		}
	}
	return dst
}

// appendEscaped writes text content as 2C2P writes its own documents: &, <
// and > escaped, and "\r" as a character reference so that it survives
// parsing (a raw one would be read as "\n"). The text must be made of XML
// characters (transform.ValidXMLText).
func appendEscaped(dst []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		dst = append(append(dst, s[last:i]...), esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

// appendElement writes <name>text</name>, the text escaped by appendEscaped;
// an empty text still gets its end tag, as 2C2P writes it.
func appendElement(dst []byte, name, text string) []byte {
	dst = append(append(append(dst, '<'), name...), '>')
	dst = appendEscaped(dst, text)
	return append(append(append(dst, "</"...), name...), '>')
}

// ParseEnvelope reads an envelope's base64 text with the given root. It
// checks the form only: call Verify before believing anything in it.
func ParseEnvelope(text []byte, root string) (*Envelope, error) {
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(raw, bytes.TrimSpace(text))
	if err != nil || n == 0 {
		return nil, transform.ErrMalformed
	}
	env := &Envelope{Root: root}
	var seen [3]bool
	// The envelope is flat: one pass of the frame's flat parser, and what it
	// refuses (attributes, nested elements) is refused. No second parser
	// runs on input before its signature is checked.
	name, p, err := transform.ParseFlatXMLBounded(raw[:n], maxEnvelopeElements)
	if err != nil || name != root {
		return nil, transform.ErrMalformed
	}
	for _, kv := range p {
		if !env.set(&seen, kv.Name, kv.Value) {
			return nil, transform.ErrMalformed
		}
	}
	if env.Payload == "" {
		return nil, transform.ErrMalformed
	}
	return env, nil
}

// set stores one envelope field; a repeated one makes the envelope
// ambiguous (false). Other elements are unsigned and unused.
func (e *Envelope) set(seen *[3]bool, name, value string) bool {
	var dst *string
	var k int
	switch name {
	case "version":
		dst, k = &e.Version, 0
	case "payload":
		dst, k = &e.Payload, 1
	case "signature":
		dst, k = &e.Signature, 2
	default:
		return true
	}
	if seen[k] {
		return false
	}
	seen[k], *dst = true, value
	return true
}

// Open parses an envelope, verifies its signature and only then decodes
// its payload into fields (see ParsePayload).
func Open(text []byte, root, secretKey string) (transform.Params, error) {
	return openExplained(text, root, signer{key: secretKey}, nil)
}

// openExplained is Open with s's key, recording what it compared in x when
// x is not nil.
func openExplained(text []byte, root string, s signer, x *transform.Explanation) (transform.Params, error) {
	env, err := ParseEnvelope(text, root)
	if err != nil {
		return nil, err
	}
	if x != nil {
		x.SignType, x.StringToSign, x.Received, x.Expected = "HMAC-SHA256", env.Payload, env.Signature, s.sign(env.Payload)
	}
	if env.Signature == "" {
		return nil, transform.ErrUnsigned
	}
	if !env.verify(s) {
		return nil, transform.ErrBadSignature
	}
	return env.Fields()
}

// Fields decodes the payload; it is only trustworthy after Verify.
func (e *Envelope) Fields() (transform.Params, error) {
	inner, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, transform.ErrMalformed
	}
	return ParsePayload(inner, e.Root)
}

// ParsePayload reads an inner document into its leaf elements in document
// order, a nested leaf named by its path below the root
// ("miniProgramData/wechat"). An element with children contributes its
// children only; nesting deeper than 2C2P's own, mixed content, attributes
// and DTDs are refused (transform.ParseNestedXML), and so is a leaf given
// twice (the order id Get reads and the one in the event's data would
// differ).
func ParsePayload(inner []byte, root string) (transform.Params, error) {
	name, p, err := transform.ParseNestedXML(inner, maxDepth)
	if err != nil || name != root || p.HasDuplicate() {
		return nil, transform.ErrMalformed
	}
	return p, nil
}

// EnvelopeText finds the envelope in a body: the bare base64 text (the pay
// answer; a raw-body notification), or a form whose field names the
// envelope (the notification, the request), URL-encoded or multipart. The
// body's content decides, not its Content-Type: curl -d and other clients
// label a bare envelope application/x-www-form-urlencoded, and base64 text
// cannot be a form holding the field (a '=' only ends it), nor can its
// URL-encoded form (one token). Any compression must be removed first
// (InflateAnswer, Webhook.Verify). A form value sent without URL encoding
// turns '+' into ' '; base64 has no spaces, so they are put back.
func EnvelopeText(body []byte, contentType, field string) ([]byte, error) {
	body = bytes.TrimSpace(body)
	if isBase64Text(body) {
		return body, nil
	}
	if !utf8.Valid(body) {
		return nil, transform.ErrMalformed
	}
	// The bare envelope URL-encoded, as curl --data-urlencode @file sends
	// it: one token, no field name.
	if !bytes.ContainsAny(body, "=&;") {
		if raw, err := url.PathUnescape(string(body)); err == nil && isBase64Text(bytes.TrimSpace([]byte(raw))) {
			return bytes.TrimSpace([]byte(raw)), nil
		}
	}
	var values []string
	if mt, params, _ := mime.ParseMediaType(contentType); mt == "multipart/form-data" {
		var err error
		if values, err = multipartValues(body, params["boundary"], field); err != nil {
			return nil, err
		}
	} else {
		form, err := transform.ParseForm(string(body))
		if err != nil {
			return nil, transform.ErrMalformed
		}
		values = form[field]
	}
	if len(values) != 1 {
		return nil, transform.ErrMalformed
	}
	return []byte(strings.ReplaceAll(values[0], " ", "+")), nil
}

// isBase64Text tells whether body is standard base64, line breaks allowed,
// '=' only as the final padding.
func isBase64Text(body []byte) bool {
	n := len(bytes.TrimRight(body, "="))
	if n == 0 || len(body)-n > 2 {
		return false
	}
	for _, c := range body[:n] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '\r' || c == '\n') {
			return false
		}
	}
	return true
}

// multipartValues returns the values of field in a multipart/form-data body
// (curl -F), already bounded by the body's size; a form of more than
// transform.MaxFormFields parts is refused once it has read that many, and
// one with a part of more than maxPartHeaderLines header lines before any
// is read.
func multipartValues(body []byte, boundary, field string) ([]string, error) {
	if boundary == "" {
		return nil, transform.ErrMalformed
	}
	if !partHeadersWithin(body, boundary, maxPartHeaderLines) {
		return nil, transform.ErrMalformed
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var values []string
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return values, nil
		}
		if err != nil || parts == transform.MaxFormFields {
			return nil, transform.ErrMalformed
		}
		if part.FormName() != field {
			continue
		}
		v, err := io.ReadAll(part)
		if err != nil {
			return nil, transform.ErrMalformed
		}
		values = append(values, string(bytes.TrimSpace(v)))
	}
}

// maxPartHeaderLines bounds the header lines of a multipart form's part
// (curl -F writes one or two: Content-Disposition, Content-Type).
const maxPartHeaderLines = 16

// partHeadersWithin tells whether no part of a multipart body has more than
// max header lines (the lines after a delimiter line, up to the first empty
// one), checked before mime/multipart reads any: it reads a part's header
// whole, and one of 10000 lines in a 64 KiB body cost 1.5 ms and 800 KB
// before the signature was checked. Inside a header every line counts, one
// beginning with the delimiter too: mime/multipart reads "--B…x: v" there
// as a header line, and taking it for a new part's delimiter let a header
// of thousands of lines through 16 at a time.
func partHeadersWithin(body []byte, boundary string, max int) bool {
	delimiter := []byte("--" + boundary)
	inHeader, lines := false, 0
	for line := range bytes.Lines(body) {
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case !inHeader:
			if bytes.HasPrefix(line, delimiter) {
				inHeader, lines = true, 0
			}
		case len(line) == 0:
			inHeader = false
		default:
			if lines++; lines > max {
				return false
			}
		}
	}
	return true
}

// InflateAnswer undoes a gzip compression a transport left in place on a
// pay answer, recognized by its magic bytes (1f 8b; base64 text never
// starts so): the 2C2P demo server compresses its answers, and the answer
// comes from the configured upstream. Notifications, from anyone, are
// inflated only when their Content-Encoding says gzip.
func InflateAnswer(body []byte) ([]byte, error) {
	if !isGzip(body) {
		return body, nil
	}
	out, err := transform.Gunzip(body, maxInflated)
	if err != nil {
		return nil, transform.ErrMalformed
	}
	return out, nil
}

// isGzip tells whether body starts with gzip's magic bytes.
func isGzip(body []byte) bool { return len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b }

// ErrRequest is Webhook.ExplainAnswer's error for a pay request: the
// merchant's own call, not something 2C2P sends, so `caddy minipay verify`
// has no answer or notification to judge and says so as a usage error.
var ErrRequest = fmt.Errorf("2c2p: the input is a pay request (PaymentRequest), %w: the merchant's own call, "+
	"whose signature caddy minipay sign --provider 2c2p prints as 2C2P expects it; for 2c2p, verify explains "+
	"PaymentResponse envelopes (the pay answer and the notification)", transform.ErrNotExplained)

// SignRequest explains a pay request's signature for `caddy minipay sign`,
// when 2C2P refused it ("Invalid signature."). body is either the payload
// document the merchant wrote (root PaymentRequest: its bytes as given are
// what is base64-encoded), or the request as sent: the paymentRequest form
// or the bare envelope, whose payload is kept as it is. The envelope
// written is of version, else the one the input's envelope names, else
// DefaultVersion (the version is not signed). It returns the string to sign (the payload's base64
// text), the signature, and the envelope sealed with them, the
// paymentRequest value to send.
func SignRequest(body []byte, version, secretKey string) (payload, signature, envelope string, err error) {
	// A version is held to the configuration's rule: one that is not XML
	// text (a control character) made an envelope no parser reads.
	if version != "" && !validVersion(version) {
		return "", "", "", errVersion
	}
	inner := body
	// A document may begin with a byte order mark, and white space after
	// it, which the XML parser reads (README "XML"); it is signed as it is.
	if trimmed := bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\uFEFF"))); len(trimmed) == 0 || trimmed[0] != '<' {
		text, err := EnvelopeText(body, "", FieldRequest)
		if err != nil {
			return "", "", "", errNotARequest
		}
		env, err := ParseEnvelope(text, RootRequest)
		if err != nil {
			return "", "", "", errNotARequest
		}
		if inner, err = base64.StdEncoding.DecodeString(env.Payload); err != nil {
			return "", "", "", errNotARequest
		}
		version = cmp.Or(version, env.Version)
	}
	p, err := ParsePayload(bytes.TrimSpace(inner), RootRequest)
	if err != nil {
		return "", "", "", errNotARequest
	}
	if p.Get("payload") != "" {
		return "", "", "", errors.New("the input is an envelope's XML: give the payload document (the inner <PaymentRequest>), or the request as sent (its base64, or paymentRequest=…)")
	}
	envelope = Seal(RootRequest, cmp.Or(version, DefaultVersion), inner, secretKey)
	payload = base64.StdEncoding.EncodeToString(inner)
	return payload, Sign(payload, secretKey), envelope, nil
}

// errVersion is SignRequest's error for a version the configuration
// refuses; it does not echo the value (a key typed in the wrong place).
var errVersion = errors.New("version must look like 9.9, as the configuration's")

// errNotARequest is SignRequest's error for an input it cannot read.
var errNotARequest = errors.New("the input is neither a <PaymentRequest> payload document nor a pay request as sent (paymentRequest=…, or the envelope's base64)")

// RequestSigning implements transform.RequestExplainer: `caddy minipay
// sign` signs a pay request with the secret key, and writes the envelope
// of the version set (SignRequest).
func (*Config) RequestSigning() transform.RequestSigning {
	return transform.RequestSigning{Fields: []transform.RequestField{
		{Name: "secret_key", Usage: "<key>"}, {Name: "version", Usage: DefaultVersion, Optional: true}}}
}

// ExplainRequest is SignRequest's explanation of a pay request
// (docs/providers/2c2p.md "Signature": HMAC-SHA256 over the payload's
// base64 text) and the envelope to send, paymentRequest's value.
func (c *Config) ExplainRequest(r transform.MerchantRequest) (transform.RequestExplanation, error) {
	payload, signature, envelope, err := SignRequest(r.Body, c.Version, c.SecretKey)
	if err != nil {
		return transform.RequestExplanation{}, err
	}
	return transform.RequestExplanation{SignType: "HMAC-SHA256", StringToSign: payload, Signature: signature,
		Send: transform.Params{{Name: "payment_request", Value: envelope}}}, nil
}
