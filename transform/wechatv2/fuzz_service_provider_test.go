package wechatv2

import (
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzServiceProviderNotification: for a service provider's route
// (sub_mch_id and sub_app_id configured), a notification whose fields the
// fuzzer writes, signed with the service provider's key (which signs every
// sub-merchant's), is accepted only when it is this sub-merchant's:
// sub_mch_id present and the configured one, sub_appid absent (or empty:
// WeChat signs non-empty values only, so an empty one names nobody) or the
// configured one, appid and mch_id the service provider's.
func FuzzServiceProviderNotification(f *testing.F) {
	p := set(set(notificationParams(), "appid", spAppID), "mch_id", spMchID)
	sub := append(p[:len(p):len(p)], transform.Param{Name: "sub_appid", Value: spSubAppID}, transform.Param{Name: "sub_mch_id", Value: spSubMchID})
	f.Add(signedXML(sub, vecAPIKey, SignMD5))
	f.Add(signedXML(set(sub, "sub_mch_id", "1900000999"), vecAPIKey, SignMD5))
	f.Add(signedXML(set(sub, "sub_appid", "wx0000000000000000"), vecAPIKey, SignMD5))
	f.Add(signedXML(set(sub, "sub_appid", ""), vecAPIKey, SignMD5))
	f.Add(signedXML(p, vecAPIKey, SignMD5))
	f.Add(refundNotification(spAppID, spMchID, publishedReqInfo))
	w := newWebhook(f, spConfig())
	f.Fuzz(func(t *testing.T, doc []byte) {
		body := resigned(doc, vecAPIKey, SignMD5)
		if body == nil {
			return
		}
		ev, err := w.Verify(transform.Notification{Body: body})
		if err != nil {
			if ev != nil {
				t.Fatal("an event with an error")
			}
			return
		}
		_, q, _ := transform.ParseFlatXML(body)
		if q.Get("appid") != spAppID || q.Get("mch_id") != spMchID || q.Get("sub_mch_id") != spSubMchID ||
			q.Get("sub_appid") != "" && q.Get("sub_appid") != spSubAppID {
			t.Fatalf("accepted another merchant's notification: %q", body)
		}
		if !q.Has("req_info") {
			for k, v := range ev.Data {
				if v == "" || q.Get(k) != v || k == "sign" {
					t.Fatalf("data[%s] = %q is not a signed field: %q", k, v, body)
				}
			}
		}
	})
}
