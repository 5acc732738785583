package latipay

import (
	"reflect"
	"testing"

	"github.com/minipay/caddy-minipay/transform"
)

// FuzzWebhookVerifySurroundingSpace: spaces, tabs and line breaks around a
// notification's form or JSON object (a file sent with curl --data-binary ends with a line
// break) change nothing: the body verifies, or fails, as it does without
// them, with the same event (README Latipay).
func FuzzWebhookVerifySurroundingSpace(f *testing.F) {
	f.Add([]byte(docNotification), uint16(0x12), uint16(0x3))
	f.Add([]byte(notificationForm(vecAPIKey, nil)), uint16(0), uint16(0x21))
	f.Add([]byte(notificationForm(vecAPIKey, setForm("status", "failed"))), uint16(0x3ff), uint16(0x1))
	f.Add([]byte(notificationForm(otherKey, nil)), uint16(0x7), uint16(0x7))
	f.Add([]byte(jsonNotification(`120.00`, "")), uint16(0x1b), uint16(0x2))
	w := newWebhook(f, testConfig())
	space := func(pattern uint16) string { // up to 8 characters of " \t\r\n", two bits each, 0 ends
		s := ""
		for ; pattern != 0; pattern >>= 2 {
			s += string(" \t\r\n"[pattern&3])
		}
		return s
	}
	f.Fuzz(func(t *testing.T, body []byte, before, after uint16) {
		ev, err := w.Verify(transform.Notification{Body: body})
		spaced := space(before) + string(body) + space(after)
		sev, serr := w.Verify(transform.Notification{Body: []byte(spaced)})
		if (err == nil) != (serr == nil) || err != nil && err.Error() != serr.Error() || !reflect.DeepEqual(ev, sev) {
			t.Fatalf("%q: %+v %v; with space around %q: %+v %v", body, ev, err, spaced, sev, serr)
		}
	})
}
