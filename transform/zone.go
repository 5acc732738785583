package transform

import "time"

// UTC8 is UTC+8 without daylight saving: Beijing time, in which WeChat Pay
// writes its timestamps, and the zone of 2C2P's dateTime (its timeStamp is
// UTC+7: docs/providers/2c2p.md "Times"; Latipay's pay_time is UTC:
// docs/providers/latipay.md "Times").
var UTC8 = time.FixedZone("UTC+8", 8*3600)

// LocalRFC3339 reads a provider's time written without a zone in layout
// (WeChat's "20060102150405", "2006-01-02 15:04:05") as a time of loc, and
// gives it in RFC 3339; "" for a value of another shape (ParseLocal) or
// no payment time (paymentTime), left out rather than guessed.
func LocalRFC3339(layout, s string, loc *time.Location) string {
	t, ok := ParseLocal(layout, s, loc)
	if !ok || !paymentTime(t) {
		return ""
	}
	return t.Format(time.RFC3339)
}

// paymentTime is the one rule, for every provider (LocalRFC3339,
// RFC3339AsWritten), of which instants a paid_at or occurred_at may name:
// 1970 to 9999 in UTC. A signed time_end of 00000101000000 is well formed
// but names no payment, and a reader with years 1 to 9999 only (Python's
// datetime) fails on year 0, or on a time whose UTC year is 10000.
func paymentTime(t time.Time) bool {
	y := t.UTC().Year()
	return 1970 <= y && y <= 9999
}

// ParseLocal reads s, written without a zone in layout, as a time of loc.
// The shape is exact, one ASCII digit for each digit of the layout and
// every other byte as it is: time.Parse alone takes a one-digit hour, a
// fraction after the seconds (".5", ",5") and extra spaces.
func ParseLocal(layout, s string, loc *time.Location) (time.Time, bool) {
	if len(s) != len(layout) {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		if c := layout[i]; '0' <= c && c <= '9' {
			if s[i] < '0' || s[i] > '9' {
				return time.Time{}, false
			}
		} else if s[i] != c {
			return time.Time{}, false
		}
	}
	t, err := time.ParseInLocation(layout, s, loc) // checks the ranges of the date and time
	return t, err == nil
}
