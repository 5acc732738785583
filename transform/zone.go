package transform

import "time"

// UTC8 is UTC+8 without daylight saving: Beijing time, in which WeChat Pay
// writes its timestamps, and the zone of 2C2P's dateTime (its timeStamp is
// UTC+7: docs/providers/2c2p.md "Times"; Latipay's pay_time is UTC:
// docs/providers/latipay.md "Times").
var UTC8 = time.FixedZone("UTC+8", 8*3600)
