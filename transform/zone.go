package transform

import "time"

// UTC8 is UTC+8 without daylight saving: Beijing time, in which WeChat Pay
// writes its timestamps, and Singapore time, in which minipay writes 2C2P's
// zoneless timestamps. (Latipay's pay_time is UTC: docs/providers/latipay.md
// "Times".)
var UTC8 = time.FixedZone("UTC+8", 8*3600)
