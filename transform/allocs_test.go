package transform_test

import (
	"testing"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

// TestFlattenJSONAllocations: flattening allocates the document's copy,
// the map and each leaf's name, nothing per value read (reading over
// encoding/json's Decoder.Token took about five allocations a value, 79
// for this document). WeChat Pay v3 reads every notification's envelope
// and resource so, CBTIS and Latipay their notifications.
func TestFlattenJSONAllocations(t *testing.T) {
	// wechat_v3's decrypted transaction (docs/providers/wechat_v3.md): 15 leaves.
	doc := []byte(`{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018",` +
		`"transaction_id":"4200000000202611291234567890","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"支付成功",` +
		`"bank_type":"OTHERS","attach":"","success_time":"2026-11-29T10:00:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},` +
		`"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}`)
	var out map[string]string
	allocs := transformtest.FewestAllocs(20, func() { out, _ = transform.FlattenJSON(doc, 4, 64) })
	if len(out) != 15 {
		t.Fatalf("%d leaves: %v", len(out), out)
	}
	// The copy, the map and its groups, the names of the five leaves
	// nested below another member (a top-level leaf's name is its
	// member's name): 15.
	if allocs > 16 {
		t.Errorf("%v allocations for a document of 15 leaves", allocs)
	}
	if testing.Verbose() {
		t.Logf("%v allocations", allocs)
	}
}

// TestEventMarshalAllocations: an event's JSON is written by hand, its
// data's names sorted on the stack (encoding/json's map encoder allocated
// for every member: 37 allocations for this event), and into one buffer
// of its size as minipay_webhook writes it (AppendJSON(nil)): appending
// to a buffer too small for it made one more each time it grew.
func TestEventMarshalAllocations(t *testing.T) {
	ev := &transform.Event{ID: "wechat_v3:4200000000202611291234567890:payment.succeeded", Provider: "wechat_v3",
		Type: transform.EventPaymentSucceeded, OrderID: "1217752501201407033233368018", ProviderOrderID: "4200000000202611291234567890",
		Amount: "1.00", Currency: "CNY", OccurredAt: "2026-11-29T10:00:05+08:00", Data: map[string]string{}}
	for i := range 15 {
		ev.Data["member_"+string(rune('a'+i))] = "value"
	}
	room := make([]byte, 0, 4096)
	var out []byte
	// Into a buffer that holds it: nothing.
	into := transformtest.FewestAllocs(20, func() { out = ev.AppendJSON(room[:0]) })
	if into > 0 {
		t.Errorf("%v allocations to write an event of 15 data members (%d bytes) into a buffer that holds it", into, len(out))
	}
	if alone := transformtest.FewestAllocs(20, func() { out = ev.AppendJSON(nil) }); alone > into+1 {
		t.Errorf("%v allocations to write an event of %d bytes alone, %v into a buffer that holds it", alone, len(out), into)
	}
}
