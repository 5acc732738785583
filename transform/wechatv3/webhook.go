package wechatv3

import (
	"cmp"
	"net/http"
	"strings"
	"time"

	"github.com/minipay/caddy-minipay/transform"
)

// Notification event types WeChat sends for JSAPI payments and refunds.
const (
	EventTransactionSuccess = "TRANSACTION.SUCCESS"
	EventRefundSuccess      = "REFUND.SUCCESS"
	EventRefundAbnormal     = "REFUND.ABNORMAL"
	EventRefundClosed       = "REFUND.CLOSED"
)

// Limits of a notification's decrypted resource, read only once it
// decrypted (authenticated). A payment has a member per field of each
// discounted goods (promotion_detail.N.goods_detail.M.*), hundreds for a
// large basket, so the member limit is what a notification can hold at all:
// its body is at most transform.MaxNotification bytes, and a value (a
// member or an array element, an empty {} or a null too) takes at least 2
// of them (an array's 0,), more once encrypted and base64-encoded. The
// deepest genuine resource, a 支付分 order paid with a single-goods coupon
// (collection.details.N.promotion_detail.M.goods_detail.K.goods_id), has
// eight levels (docs/providers/wechat_v3.md Notifications); ten leave room.
const (
	maxResourceDepth   = 10
	maxResourceMembers = transform.MaxNotification / 2
)

// Webhook verifies WeChat Pay v3 notifications: the Wechatpay-* signature
// over the raw body first, then the AES-256-GCM resource, then that the
// decrypted resource names this merchant.
type Webhook struct {
	cfg  Config
	keys *keys
	// Now is the clock of the 300 s window; tests pin it.
	Now func() time.Time
}

// SetClock implements transform.Clocked: the notification is judged as of
// now() (its 300 s window, the validity of a configured certificate), while
// a certificate download keeps the real clock: it is an exchange with
// WeChat made now, whose Authorization and signed answer WeChat and this
// side each check against the time they are sent.
func (w *Webhook) SetClock(now func() time.Time) {
	if d := w.keys.ring.downloaded; d != nil {
		d.Now = w.Now
	}
	w.Now = now
}

// NewWebhook checks cfg, parses its keys and returns a Webhook.
func NewWebhook(cfg Config) (*Webhook, error) {
	k, err := cfg.parse(transform.RoleWebhook)
	if err != nil {
		return nil, err
	}
	w := &Webhook{cfg: cfg, keys: k, Now: time.Now}
	k.ring.now = func() time.Time { return w.Now() }
	if k.ring.downloaded != nil {
		k.ring.downloaded.Now = k.ring.now
	}
	return w, nil
}

var _ transform.Webhook = (*Webhook)(nil)

// NotificationKeys implements transform.Webhook: api_v3_key decrypts every
// notification's resource. The signature is WeChat's, verified with its
// public key or platform certificates, which WeChat rotates and which are
// no secret; private_key only signs the certificate downloads.
func (w *Webhook) NotificationKeys() []string { return []string{w.cfg.APIv3Key} }

// Merchant implements transform.Webhook: app_id, mch_id, sub_mch_id,
// sub_app_id.
func (w *Webhook) Merchant() []string {
	return []string{w.cfg.AppID, w.cfg.MchID, w.cfg.SubMchID, w.cfg.SubAppID}
}

// Keyring is the webhook's verification keyring.
func (w *Webhook) Keyring() *Keyring { return w.keys.ring }

// Keys implements transform.KeyHolder (the admin view).
func (w *Webhook) Keys() []transform.KeyInfo { return w.keys.keyInfos() }

var _ transform.KeyHolder = (*Webhook)(nil)

// ShareState implements transform.StateSharer, as Client.ShareState.
func (w *Webhook) ShareState(s transform.Store) { w.keys.ring.share(s, w.cfg.MchID) }

var _ transform.StateSharer = (*Webhook)(nil)

// ReportFailures is Client.ReportFailures.
func (w *Webhook) ReportFailures(f func(error)) { w.keys.ring.reportFailures(f) }

// notification is the signed envelope. Its fields are read only after the
// signature over the whole body verified.
type notification struct {
	ID           string    `json:"id"`
	CreateTime   string    `json:"create_time"`
	EventType    string    `json:"event_type"`
	ResourceType *string   `json:"resource_type"`
	Summary      string    `json:"summary"`
	Resource     *Resource `json:"resource"`
	// summaryNamed tells that the envelope gives summary (not null): id
	// and event_type it must give.
	summaryNamed bool
}

// Verify implements transform.Webhook. Nothing of the body is parsed before
// its signature verified; the event holds only the decrypted (authenticated)
// resource and the signed envelope's id, event_type and summary.
func (w *Webhook) Verify(n transform.Notification) (*transform.Event, error) {
	return w.Explain(n, nil)
}

var _ transform.Explainer = (*Webhook)(nil)

// Explain implements transform.Explainer: Verify, recording the signed
// message (TIMESTAMP\nNONCE\nBODY\n) and the received signature; an RSA
// signature has no "expected" value, so expected names the key and
// whether the signature verifies under it, whatever the time window says.
func (w *Webhook) Explain(n transform.Notification, x *transform.Explanation) (*transform.Event, error) {
	body, err := n.Content()
	if err != nil && x != nil {
		// An API answer is explained too, and the client reads answers up
		// to transform.MaxAnswer, past a notification's bound.
		if b, aerr := transform.DecodeContent(n.Header, n.Body, transform.MaxAnswer); aerr == nil && len(b) > 0 && isAnswer(b) {
			body, err = b, nil
		}
	}
	if err != nil {
		return nil, err
	}
	n.Body = body
	if x != nil {
		explainSignature(w.keys.ring, n.Header, n.Body, x)
		if isAnswer(n.Body) { // by its content, whether or not it verifies
			x.Kind = transform.KindAnswer
		}
	}
	if err := Verify(w.keys.ring, n.Header, n.Body, w.Now()); err != nil {
		return nil, err
	}
	env, err := parseEnvelope(n.Body)
	// resource_type is read only when present: wechatpay-go's notify.Handler
	// does not read it, and an API answer has no event_type and resource.
	if err != nil || env.ID == "" || env.EventType == "" ||
		env.ResourceType != nil && *env.ResourceType != "encrypt-resource" || env.Resource == nil {
		if isAnswer(n.Body) {
			return nil, transform.ErrSignedAnswer
		}
		return nil, transform.ErrMalformed
	}
	plain, err := env.Resource.Decrypt(w.keys.apiV3)
	if err != nil {
		return nil, err
	}
	data, err := transform.FlattenJSON(plain, maxResourceDepth, maxResourceMembers)
	if err != nil {
		return nil, transform.ErrMalformed
	}
	if !w.belongs(data) {
		return nil, transform.ErrForeign
	}
	return eventOf(env, data), nil
}

// Limits of the signed envelope: WeChat's has two levels and ten members.
const (
	maxEnvelopeDepth   = 4
	maxEnvelopeMembers = 64
)

// parseEnvelope reads the verified envelope by its exact member names (not
// encoding/json's case-insensitive match) and refuses a name given twice:
// the signature covers both values and nothing says which one is meant.
func parseEnvelope(body []byte) (*notification, error) {
	flat, err := transform.FlattenJSON(body, maxEnvelopeDepth, maxEnvelopeMembers)
	if err != nil {
		return nil, transform.ErrMalformed
	}
	env := &notification{ID: flat["id"], CreateTime: flat["create_time"], EventType: flat["event_type"],
		Summary: flat["summary"]}
	_, env.summaryNamed = flat["summary"]
	if rt, ok := flat["resource_type"]; ok {
		env.ResourceType = &rt
	}
	if c, ok := flat["resource.ciphertext"]; ok {
		env.Resource = &Resource{Algorithm: flat["resource.algorithm"], Ciphertext: c, AssociatedData: flat["resource.associated_data"],
			Nonce: flat["resource.nonce"], OriginalType: flat["resource.original_type"]}
	}
	return env, nil
}

// isAnswer tells one of WeChat Pay's API answers, signed like a
// notification, by its content: an empty body (a 204, as close answers) or
// a JSON document with neither event_type nor resource.
func isAnswer(body []byte) bool {
	var env notification
	err := transform.UnmarshalExact(body, &env)
	return len(body) == 0 || err == nil && env.EventType == "" && env.Resource == nil
}

// belongs checks the decrypted resource names this merchant: mchid (and
// appid where the resource has one); in service-provider mode sp_mchid and
// sub_mchid (and sp_appid / sub_appid where present). One mchid per route:
// WeChat's key signs for every merchant of a service provider.
func (w *Webhook) belongs(d map[string]string) bool {
	// An id written as an object or an array (its leaves appid.x, appid.0)
	// is present and names no merchant: not this one.
	has := func(k, want string) bool {
		if v, ok := d[k]; ok {
			return v == want
		}
		for name := range d {
			if strings.HasPrefix(name, k) && len(name) > len(k) && name[len(k)] == '.' {
				return false
			}
		}
		return true
	}
	if w.cfg.partner() {
		return d["sp_mchid"] == w.cfg.MchID && d["sub_mchid"] == w.cfg.SubMchID &&
			has("sp_appid", w.cfg.AppID) && (w.cfg.SubAppID == "" || has("sub_appid", w.cfg.SubAppID))
	}
	return d["mchid"] == w.cfg.MchID && has("appid", w.cfg.AppID)
}

// eventOf normalizes a verified notification. A type is mapped only when
// the resource's own state, where it has one, agrees with it (WeChat's
// event_type is signed too, and says it alone when the state is absent);
// anything else verified is "unknown" (still forwarded, with WeChat's
// event_type in data).
func eventOf(env *notification, data map[string]string) *transform.Event {
	agrees := func(member, state string) bool { v, ok := data[member]; return !ok || v == state }
	typ := transform.EventUnknown
	switch {
	case env.EventType == EventTransactionSuccess && agrees("trade_state", "SUCCESS"):
		typ = transform.EventPaymentSucceeded
	case env.EventType == EventRefundSuccess && agrees("refund_status", "SUCCESS"):
		typ = transform.EventRefundSucceeded
	case env.EventType == EventRefundAbnormal && agrees("refund_status", "ABNORMAL"),
		env.EventType == EventRefundClosed && agrees("refund_status", "CLOSED"):
		typ = transform.EventRefundFailed
	}
	ev := &transform.Event{Provider: Name, Type: typ, OrderID: data["out_trade_no"],
		ProviderOrderID: data["transaction_id"], OccurredAt: transform.RFC3339AsWritten(data["success_time"])}
	// The id is stable across WeChat's retries: the transaction or refund
	// it reports, else the notification's own id.
	ref := env.ID
	switch typ {
	case transform.EventPaymentSucceeded:
		ref = cmp.Or(data["transaction_id"], data["out_trade_no"], env.ID)
		if m, ok := transform.MoneyFromMinorText(data["amount.total"], cmp.Or(data["amount.currency"], currencyCNY)); ok {
			ev.Amount, ev.Currency = m.String(), m.Currency
		}
	case transform.EventRefundSucceeded, transform.EventRefundFailed:
		ref = cmp.Or(data["refund_id"], data["out_refund_no"], env.ID)
		ev.RefundID = data["out_refund_no"]
		if m, ok := transform.MoneyFromMinorText(data["amount.refund"], cmp.Or(data["amount.currency"], currencyCNY)); ok {
			ev.Amount, ev.Currency = m.String(), m.Currency
		}
	}
	ev.ID = transform.EventID(Name, ref, typ)
	data["event_type"] = env.EventType
	// Only when the envelope names it: an event carries signed bytes only,
	// and an envelope without summary leaves a resource's own member of
	// that name as WeChat signed it (README What the merchant can trust).
	if env.summaryNamed {
		data["summary"] = env.Summary
	}
	data["notification_id"] = env.ID
	ev.Data = data
	return ev
}

// Ack implements transform.Webhook: 200 with an empty body.
func (*Webhook) Ack() (int, string, []byte) { return http.StatusOK, "", nil }

// Nack implements transform.Webhook: {"code":"FAIL","message":"…"}; the
// status (4xx/5xx) is what makes WeChat retry.
func (*Webhook) Nack(reason string) (string, []byte) {
	b := append([]byte(`{"code":"FAIL","message":`), transform.AppendJSONString(nil, reason)...)
	return "application/json", append(b, '}')
}
