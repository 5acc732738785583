package caddymodule

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The console keeps the first consoleAnswer bytes of a notify URL's answer,
// cut at a character boundary (a WeChat answer's Chinese would otherwise
// end in half a character).
func TestNotificationLogAnswer(t *testing.T) {
	for _, tt := range []struct {
		name, answer, want string
	}{
		{"short", "<xml>OK</xml>", "<xml>OK</xml>"},
		{"exactly the bound", strings.Repeat("a", consoleAnswer), strings.Repeat("a", consoleAnswer)},
		{"ASCII over the bound", strings.Repeat("a", consoleAnswer+1), strings.Repeat("a", consoleAnswer) + "…"},
		// 签 is 3 bytes: 170 of them are 510 bytes, the 171st would end at 513.
		{"Chinese over the bound", strings.Repeat("签", 200), strings.Repeat("签", 170) + "…"},
		{"a character ending at the bound", strings.Repeat("a", 2) + strings.Repeat("签", 170) + "b", strings.Repeat("a", 2) + strings.Repeat("签", 170) + "…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var l notificationLog
			l.add(sentNotification{Answer: tt.answer})
			got := l.newestFirst()[0].Answer
			if got != tt.want || !utf8.ValidString(got) {
				t.Fatalf("kept %q (%d bytes), want %q", got, len(got), tt.want)
			}
		})
	}
}

// The console remembers the last consoleNotifications notifications, the
// newest first, however many the sandbox sent (README Sandbox).
func TestNotificationLogBounded(t *testing.T) {
	var l notificationLog
	for i := range 3 * consoleNotifications {
		l.add(sentNotification{OrderID: strconv.Itoa(i)})
	}
	got := l.newestFirst()
	if len(got) != consoleNotifications || got[0].OrderID != strconv.Itoa(3*consoleNotifications-1) ||
		got[len(got)-1].OrderID != strconv.Itoa(2*consoleNotifications) || cap(l.list) > 2*consoleNotifications {
		t.Fatalf("%d kept (capacity %d), newest %s, oldest %s", len(got), cap(l.list), got[0].OrderID, got[len(got)-1].OrderID)
	}
}
