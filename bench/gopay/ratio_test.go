//go:build !race

// The race detector slows both sides by different factors: the ratio is
// the plain runtime's, so this file stays out of -race builds.

package gopay

import (
	"flag"
	"math"
	"testing"
	"time"
)

// maxRoundTripRatio is the project's performance rule (README, "Benchmark"):
// the transform round trip stays at most 0.15× go-pay/gopay's time for the
// same work.
const maxRoundTripRatio = 0.15

// TestRoundTripRatio asserts maxRoundTripRatio on the benchmarks' own round
// trips (minipayRoundTrip, gopayRoundTrip), per sign type, in CPU time per
// operation (getrusage: time on a CPU, garbage collection included, waiting
// for one excluded, as bench/wechatpay's cpu-ratio): by wall time a shared
// machine's other processes took 0.185× for a round trip that takes 0.08×
// (HMAC-SHA256, 1 run in 3 with other tests running). Each side runs five
// times, alternating, about 150 ms each, and its fastest run counts: other
// processes only ever slow a run down, so the minimum is the figure they
// disturb least. About 5 s in all.
func TestRoundTripRatio(t *testing.T) {
	setBenchTime(t, "150ms")
	for _, st := range signTypes {
		t.Run(st, func(t *testing.T) {
			ours, theirs := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
			for range 5 {
				ours = min(ours, cpuPerOp(t, "caddy-minipay", minipayRoundTrip(st)))
				theirs = min(theirs, cpuPerOp(t, "go-pay/gopay", gopayRoundTrip(st)))
			}
			ratio := float64(ours) / float64(theirs)
			t.Logf("caddy-minipay %d ns/op, go-pay/gopay %d ns/op of CPU time: ratio %.3f (at most %.2f)", ours, theirs, ratio, maxRoundTripRatio)
			if ratio > maxRoundTripRatio {
				t.Errorf("the round trip takes %.3f× gopay's time, more than the rule's %.2f×", ratio, maxRoundTripRatio)
			}
		})
	}
}

// cpuPerOp runs bench with testing.Benchmark and returns the CPU time per
// operation of its last, counted, run (testing.Benchmark calls bench with
// growing b.N; the last call is the result's). A benchmark that fails
// reports no iterations (and 0 ns/op, which would pass any ratio): that
// fails t.
func cpuPerOp(t *testing.T, name string, bench func(*testing.B)) time.Duration {
	t.Helper()
	var n int
	var cpu time.Duration
	r := testing.Benchmark(func(b *testing.B) {
		c0 := cpuTime(t)
		bench(b)
		n, cpu = b.N, cpuTime(t)-c0
	})
	if r.N == 0 || r.N != n || cpu <= 0 {
		t.Fatalf("the %s round trip failed under testing.Benchmark", name)
	}
	return cpu / time.Duration(n)
}

// setBenchTime sets -test.benchtime, which testing.Benchmark reads, for
// the duration of t.
func setBenchTime(t *testing.T, d string) {
	t.Helper()
	f := flag.Lookup("test.benchtime")
	if f == nil {
		t.Fatal("no -test.benchtime flag: not a go test binary")
	}
	old := f.Value.String()
	if err := f.Value.Set(d); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Value.Set(old) })
}
