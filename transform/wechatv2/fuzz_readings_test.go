package wechatv2

import (
	"slices"
	"strings"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// readings returns every parameter set whose signed string (names sorted,
// k=v joined with '&', empty values and sign left out) is s: each choice of
// the '&' that separate pairs, each pair a name that can be an element's
// (XML name bytes, no '=') and a non-empty value, the names strictly
// increasing. nil when s has more '&' than are worth enumerating.
func readings(s string) []transform.Params {
	var amps []int
	for i := 0; i < len(s); i++ {
		if s[i] == '&' {
			amps = append(amps, i)
		}
	}
	if len(amps) > 12 {
		return nil
	}
	var out []transform.Params
	for mask := 0; mask < 1<<len(amps); mask++ {
		var p transform.Params
		start, ok := 0, true
		for k := 0; k <= len(amps) && ok; k++ {
			end := len(s)
			if k < len(amps) {
				if mask&(1<<k) == 0 {
					continue
				}
				end = amps[k]
			}
			name, value, found := strings.Cut(s[start:end], "=")
			ok = found && value != "" && elementName(name) && name != "sign" && (len(p) == 0 || p[len(p)-1].Name < name)
			p = append(p, transform.Param{Name: name, Value: value})
			start = end + 1
		}
		if ok {
			out = append(out, p)
		}
	}
	return out
}

// elementName mirrors the names transform.ParseFlatXML reads.
func elementName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// FuzzSignedStringReadings: of all the documents that sign alike (every
// reading of one signed string), Verify's check for a second reading
// (readsTwoWays of a notification) passes at most one, so a captured
// notification cannot be rewritten into another that verifies.
func FuzzSignedStringReadings(f *testing.F) {
	f.Add("appid=wx1&attach=a=1&b=2&bank_type=CFT&cash_fee=1")
	f.Add("attach=plan=pro&auth=7f3a&bank_type=CFT")
	f.Add("attach=x&fz=1&bank_type=CFT&cash_fee=1234&fee_type=USD")
	f.Add("bank_type=CFT&cash_fee=1234&device_info=store&coupon_fee=5&fee_type=CNY")
	f.Add("device_info=POS&e=1&fee_type=CNY")
	f.Add("out_trade_no=O1&result_code=SUCCESS&return_code=SUCCESS")
	f.Add("attach=x&&bank_type=CFT")
	f.Add("attach=uid=5&openid=oX&total_fee=1&bank_type=CFT&cash_fee=1&openid=o2&total_fee=1")
	f.Add("attach=x&device_info=D&bank_type=CFT&fee_type=CNY")
	f.Add("attach=a=1&bank_type=X&bank_type=CFT&cash_fee=1")
	f.Add("attach=a=1&openid=Q&cash_fee=1&openid=o2")
	f.Add("attach=x&cash_fee=1&device_info=D&bank_type=CFT&cash_fee=1234&fee_type=CNY")
	f.Add(`out_trade_no=O1&promotion_detail={"n":"A&B=1"}&result_code=SUCCESS`)
	f.Add(`out_trade_no=O1&promotion_detail={"n":"A&pz=1"}&result_code=SUCCESS`)
	f.Add(`attach=x&promotion_detail={"n":"&mch_id=1&out_trade_no=O1&promotion_detail={"n":"y"}&result_code=SUCCESS`)
	f.Add(`promotion_detail={"a":"&result_code=FAIL","b":"x&zz=1"}&result_code=SUCCESS&total_fee=1`)
	f.Fuzz(func(t *testing.T, s string) {
		var passed []transform.Params
		for _, p := range readings(s) {
			if !readsTwoWays(p, notificationKind) {
				passed = append(passed, p)
			}
		}
		if len(passed) > 1 {
			t.Fatalf("%q has %d readings that pass: %v", s, len(passed), passed)
		}
	})
}

// TestSignedStringReadingsOfNotifications: for whole notifications (more
// '&' than readings enumerates), whose attach holds two of the merchant's
// parameters named from a vocabulary of WeChat's fields and names of its
// own, with no device_info or one holding a pair, every document that signs
// as the genuine one (each reading of its signed string, a field holding
// "&name=" outside attach and device_info left out as pairOutsideFreeText
// refuses it) is given to Verify with the genuine signature: none but
// WeChat's is accepted, whether or not WeChat's is (one refused, such as
// an attach holding bank_type, must not be replaced by another reading).
// An attach
// "src=mp&cash_fee=1&device_info=D" was also accepted as attach "src=mp",
// cash_fee 1 and a device_info that swallowed bank_type and the real
// cash_fee.
func TestSignedStringReadingsOfNotifications(t *testing.T) {
	names := []string{"uid", "appid", "attach", "bank_type", "cash_fee", "cash_fee_type", "coupon_fee", "coupon_fee_0",
		"device_info", "err_code", "fee_type", "openid", "sign", "sign_type", "total_fee", "zz"}
	w := newWebhook(t, testConfig(""))
	genuineAccepted := 0
	for _, device := range []string{"", "D", "D&zz=3"} {
		for _, a := range names {
			for _, b := range names {
				genuine := set(notificationParams(), "attach", "src=mp&"+a+"=1&"+b+"=2")
				if device != "" {
					genuine = set(genuine, "device_info", device)
				}
				if forged := forgedAccepted(w, genuine); len(forged) > 0 {
					t.Errorf("attach %q, device_info %q: %d other documents accepted: %v", genuine.Get("attach"), device, len(forged), forged)
				}
				if _, err := w.Verify(transform.Notification{Body: signedXML(genuine, vecAPIKey, SignMD5)}); err == nil {
					genuineAccepted++
				}
			}
		}
	}
	if genuineAccepted == 0 { // the search would check nothing
		t.Fatal("no genuine notification is accepted")
	}
}

// TestSignedStringReadingsOfPromotionDetail: as
// TestSignedStringReadingsOfNotifications, for whole notifications whose
// promotion_detail (WeChat's JSON) holds two pairs, in its promotion name
// and a goods remark, named from a vocabulary of WeChat's fields sorting
// before and after it and names of the merchant's own, beside no attach,
// a plain one or one holding "&promotion_detail=" and a JSON string's or
// array's start (after pairs mch_id and out_trade_no), and device_info
// without or with a '"' or such a start; and one without promotion_detail
// whose out_trade_no closes the JSON such an attach opens: no reading but
// the genuine one is accepted, and it is when its pairs are none of
// WeChat's. Without the refusal of
// WeChat's names, attach "src=mp", mch_id, out_trade_no "EVIL" and a
// promotion_detail that swallowed bank_type to the real out_trade_no was
// accepted beside the genuine notification.
func TestSignedStringReadingsOfPromotionDetail(t *testing.T) {
	names := []string{"B", "uid", "appid", "attach", "bank_type", "mch_id", "out_trade_no", "promotion_detail", "pz",
		"result_code", "return_code", "sign", "sign_type", "sub_mch_id", "time_end", "total_fee", "transaction_id", "zz"}
	w := newWebhook(t, testConfig(""))
	genuineAccepted := 0
	for _, attach := range []string{"", "src=mp", `src=mp&promotion_detail={"n":"`, `src=mp&promotion_detail=[`,
		`src=mp&mch_id=` + vecMchID + `&out_trade_no=EVIL&promotion_detail={"n":"`} {
		for _, device := range []string{"", `D","m":"`, `D&promotion_detail={"n":"`} {
			for _, a := range append(names, "") {
				for _, b := range names {
					detail := `{"promotion_detail":[{"promotion_id":"109519","name":"单品惠&` + a +
						`=1","goods_detail":[{"goods_id":"g1","goods_remark":"A&` + b + `=2"}]}]}`
					if a == "" { // none, and an out_trade_no closing what attach opened
						detail, b = "", "uid"
					}
					genuine := set(set(set(notificationParams(), "promotion_detail", detail), "attach", attach), "device_info", device)
					if a == "" {
						genuine = set(genuine, "out_trade_no", `O1"}`)
					}
					if forged := forgedAccepted(w, genuine); len(forged) > 0 {
						t.Errorf("promotion_detail %q, attach %q, device_info %q: %d other documents accepted: %v",
							genuine.Get("promotion_detail"), attach, device, len(forged), forged)
					}
					_, err := w.Verify(transform.Notification{Body: signedXML(genuine, vecAPIKey, SignMD5)})
					if wechats := notificationField(a) || notificationField(b); err == nil == wechats {
						t.Errorf("promotion_detail %q, attach %q, device_info %q: the genuine notification: %v",
							genuine.Get("promotion_detail"), attach, device, err)
					} else if err == nil {
						genuineAccepted++
					}
				}
			}
		}
	}
	if genuineAccepted == 0 { // the search would check nothing
		t.Fatal("no genuine notification is accepted")
	}
}

// acceptedReadings are the readings of genuine's signed string (but those
// pairFreeReadings leaves out) that w accepts with genuine's signature.
func acceptedReadings(w *Webhook, genuine transform.Params) []transform.Params {
	sign := refSign(genuine, vecAPIKey, SignMD5)
	var accepted []transform.Params
	for _, p := range pairFreeReadings(signedString(genuine)) {
		body := transform.AppendFlatXML(nil, "xml", append(p, transform.Param{Name: "sign", Value: sign}))
		if _, err := w.Verify(transform.Notification{Body: body}); err == nil {
			accepted = append(accepted, p)
		}
	}
	return accepted
}

// forgedAccepted are the readings acceptedReadings gives but genuine's own
// (its signed fields in order): each is a document other than WeChat's
// that w accepts, whether or not it accepts WeChat's.
func forgedAccepted(w *Webhook, genuine transform.Params) []transform.Params {
	own := slices.DeleteFunc(slices.Clone(genuine), func(kv transform.Param) bool { return kv.Value == "" || kv.Name == "sign" })
	slices.SortFunc(own, func(a, b transform.Param) int { return strings.Compare(a.Name, b.Name) })
	return slices.DeleteFunc(acceptedReadings(w, genuine), func(p transform.Params) bool { return slices.Equal(p, own) })
}

// signedString is p's string to sign without "&key=": its non-empty
// fields but sign, sorted by name, k=v joined with '&'.
func signedString(p transform.Params) string {
	p = slices.DeleteFunc(slices.Clone(p), func(kv transform.Param) bool { return kv.Value == "" || kv.Name == "sign" })
	slices.SortFunc(p, func(a, b transform.Param) int { return strings.Compare(a.Name, b.Name) })
	parts := make([]string, len(p))
	for i, kv := range p {
		parts[i] = kv.Name + "=" + kv.Value
	}
	return strings.Join(parts, "&")
}

// pairFreeReadings is readings without its bound on '&', leaving out every
// reading where a field other than attach, device_info or promotion_detail
// holds "&name=" (refused by pairOutsideFreeText), which keeps the search small.
func pairFreeReadings(s string) []transform.Params { return sortedReadings(s, true) }

// sortedReadings is readings without its bound on '&'; pairFree leaves out
// the readings pairFreeReadings leaves out.
func sortedReadings(s string, pairFree bool) []transform.Params {
	var out []transform.Params
	var from func(start int, p transform.Params)
	from = func(start int, p transform.Params) {
		name, _, found := strings.Cut(s[start:], "=")
		if !found || strings.Contains(name, "&") || !elementName(name) || name == "sign" || len(p) > 0 && p[len(p)-1].Name >= name {
			return
		}
		valueStart := start + len(name) + 1
		for end := valueStart + 1; end <= len(s); end++ {
			if end < len(s) && s[end] != '&' {
				continue
			}
			value := s[valueStart:end]
			if pairFree && name != "attach" && name != "device_info" && name != "promotion_detail" && hasPair(value) {
				return // so does every longer value
			}
			q := append(p[:len(p):len(p)], transform.Param{Name: name, Value: value})
			if end == len(s) {
				out = append(out, q)
			} else {
				from(end+1, q)
			}
		}
	}
	from(0, nil)
	return out
}

func hasPair(v string) bool {
	for range transform.PairNames(v) {
		return true
	}
	return false
}

// TestSignedStringReadingsOfOpenID: an openid or sub_openid holding a pair
// (one a pay now refuses, "oX&zz=1", or one opening a JSON
// string as promotion_detail) makes WeChat's own notification refused, and
// no other reading of its signed string, with or without a promotion_detail
// or an out_trade_no closing the JSON, is accepted in its place: a
// promotion_detail begun inside openid runs on over out_trade_no, and a
// sub_openid sorts after promotion_detail.
func TestSignedStringReadingsOfOpenID(t *testing.T) {
	for _, sub := range []bool{false, true} {
		cfg, field := testConfig(""), "openid"
		base := notificationParams()
		if sub {
			cfg, field = spConfig(), "sub_openid"
			base = set(set(set(set(base, "appid", spAppID), "mch_id", spMchID), "sub_appid", spSubAppID), "sub_mch_id", spSubMchID)
		}
		w := newWebhook(t, cfg)
		for _, openid := range []string{"oX&zz=1", "oX&out_trade_no=EVIL", `oX&promotion_detail={"n":"`, `oX&out_trade_no=EVIL&promotion_detail={"n":"`,
			`oX&promotion_detail=[`, "oX&result_code=FAIL&zz=1"} {
			for _, detail := range []string{"", `{"n":"x"}`} {
				for _, outTradeNo := range []string{"O1", `O1"}`} {
					genuine := set(set(set(base, field, openid), "promotion_detail", detail), "out_trade_no", outTradeNo)
					if forged := forgedAccepted(w, genuine); len(forged) > 0 {
						t.Errorf("%s %q, promotion_detail %q, out_trade_no %q: %d other documents accepted: %v",
							field, openid, detail, outTradeNo, len(forged), forged)
					}
					if _, err := w.Verify(transform.Notification{Body: signedXML(genuine, vecAPIKey, SignMD5)}); err == nil {
						t.Errorf("%s %q, promotion_detail %q, out_trade_no %q: WeChat's own is accepted", field, openid, detail, outTradeNo)
					}
				}
			}
		}
	}
}
