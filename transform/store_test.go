package transform_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minipay/caddy-minipay/transform"
	"github.com/minipay/caddy-minipay/transform/transformtest"
)

const fillKey = "minipay/test/value"

// filler counts its calls and returns "v<n>".
type filler struct {
	calls atomic.Int32
	delay time.Duration
	err   error
}

func (f *filler) fill() ([]byte, error) {
	n := f.calls.Add(1)
	time.Sleep(f.delay)
	if f.err != nil {
		return nil, f.err
	}
	return []byte("v" + string(rune('0'+n))), nil
}

func usableUnless(bad string) func([]byte) bool {
	return func(b []byte) bool { return string(b) != bad }
}

func TestFillSharedFillsOnceAndShares(t *testing.T) {
	s := transformtest.NewMemStore()
	f := &filler{}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		v, err := transform.FillShared(ctx, s, fillKey, time.Second, usableUnless(""), f.fill)
		if err != nil || string(v) != "v1" {
			t.Fatalf("call %d: %q, %v", i, v, err)
		}
	}
	if f.calls.Load() != 1 || s.Ops("lock") != 1 || s.Locked(fillKey) {
		t.Fatalf("fill ran %d times, %d locks taken, still locked %v", f.calls.Load(), s.Ops("lock"), s.Locked(fillKey))
	}
	// an unusable value is replaced under the lock
	v, err := transform.FillShared(ctx, s, fillKey, time.Second, usableUnless("v1"), f.fill)
	if err != nil || string(v) != "v2" || f.calls.Load() != 2 {
		t.Fatalf("refill: %q, %v after %d fills", v, err, f.calls.Load())
	}
	if v, _ := s.Load(ctx, fillKey); string(v) != "v2" {
		t.Fatalf("stored %q", v)
	}
}

// Callers that all find the key missing at once (instances at a cold
// start) fill once: the others re-read under the lock.
func TestFillSharedConcurrentColdStart(t *testing.T) {
	s := transformtest.NewMemStore()
	f := &filler{delay: 50 * time.Millisecond}
	var wg sync.WaitGroup
	got := make([]string, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := transform.FillShared(context.Background(), s, fillKey, 5*time.Second, usableUnless(""), f.fill)
			if err != nil {
				t.Error(err)
			}
			got[i] = string(v)
		}()
	}
	wg.Wait()
	for i, v := range got {
		if v != "v1" {
			t.Fatalf("caller %d got %q", i, v)
		}
	}
	if f.calls.Load() != 1 {
		t.Fatalf("fill ran %d times, want 1", f.calls.Load())
	}
}

// A caller waiting for the lock uses the value the holder stored as soon as
// it is there, not once the lock is seen released: a storage sees a release
// late (file_system polls once a second) and waiters take the lock one after
// the other, so on a cluster of several instances a short-lived token was
// due again by the time the last waiter read it, and fetched a second time.
func TestFillSharedWaiterTakesTheStoredValue(t *testing.T) {
	ctx := context.Background()
	s := transformtest.NewMemStore()
	if err := s.Lock(ctx, fillKey); err != nil { // the holder: another instance fetching
		t.Fatal(err)
	}
	// The holder stores the value and keeps the lock until the waiter has
	// returned, as a storage that sees the release late looks to it: only a
	// waiter that reads the stored value while it waits returns before its
	// lock wait (20 s) runs out. No fixed delay decides the outcome: the
	// holder stores once the waiter waits for the lock (a store before it
	// was read by the waiter's first load, and the wait went untested).
	go func() {
		for s.Waiting() == 0 {
			time.Sleep(time.Millisecond)
		}
		_ = s.Store(ctx, fillKey, []byte("fetched elsewhere"))
	}()
	const lockWait = 20 * time.Second
	start := time.Now()
	f := &filler{}
	v, err := transform.FillShared(ctx, s, fillKey, lockWait, func(b []byte) bool { return string(b) == "fetched elsewhere" }, f.fill)
	took := time.Since(start)
	if err != nil || string(v) != "fetched elsewhere" || f.calls.Load() != 0 || took >= lockWait/2 {
		t.Fatalf("%q, %v, %d fills after %v", v, err, f.calls.Load(), took)
	}
	// the waiter's own lock request ended with its wait: none is left to
	// take the lock later, and the holder's release leaves it free
	if n := s.Waiting(); n != 0 {
		t.Fatalf("%d lock requests still wait after FillShared returned", n)
	}
	if err := s.Unlock(ctx, fillKey); err != nil {
		t.Fatal(err)
	}
	if s.Locked(fillKey) {
		t.Fatal("the lock is still held after the holder released it")
	}
}

func TestFillSharedFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("load fails: a StoreError, no fill", func(t *testing.T) {
		s := transformtest.NewMemStore()
		s.Fail("load")
		f := &filler{}
		_, err := transform.FillShared(ctx, s, fillKey, time.Second, usableUnless(""), f.fill)
		var se *transform.StoreError
		if !errors.As(err, &se) || se.Op != "load" || !errors.Is(err, transformtest.ErrUnavailable) || f.calls.Load() != 0 {
			t.Fatalf("err %v, %d fills", err, f.calls.Load())
		}
	})
	t.Run("lock fails: a StoreError, no fill", func(t *testing.T) {
		s := transformtest.NewMemStore()
		s.Fail("lock")
		f := &filler{}
		_, err := transform.FillShared(ctx, s, fillKey, time.Second, usableUnless(""), f.fill)
		var se *transform.StoreError
		if !errors.As(err, &se) || se.Op != "lock" || f.calls.Load() != 0 {
			t.Fatalf("err %v, %d fills", err, f.calls.Load())
		}
	})
	t.Run("lock held elsewhere past the wait", func(t *testing.T) {
		s := transformtest.NewMemStore()
		if err := s.Lock(ctx, fillKey); err != nil {
			t.Fatal(err)
		}
		f := &filler{}
		start := time.Now()
		_, err := transform.FillShared(ctx, s, fillKey, 100*time.Millisecond, usableUnless(""), f.fill)
		var se *transform.StoreError
		if !errors.As(err, &se) || !errors.Is(err, context.DeadlineExceeded) || f.calls.Load() != 0 || time.Since(start) > 2*time.Second {
			t.Fatalf("err %v, %d fills after %v", err, f.calls.Load(), time.Since(start))
		}
	})
	// A storage that polls for locks (file_system: once a second) may see a
	// release only after the wait ran out: the value the holder stored
	// meanwhile is read once more and used, not fetched a second time. The
	// storage cannot be read while the caller waits, so that its polls do
	// not find the value first and only the read after the wait can.
	t.Run("lock held past the wait, filled meanwhile", func(t *testing.T) {
		m := transformtest.NewMemStore()
		s := transformtest.NewBlindWhileWaiting(m, m.Locked)
		if err := s.Lock(ctx, fillKey); err != nil {
			t.Fatal(err)
		}
		go func() {
			for !s.Waiting() {
				time.Sleep(time.Millisecond)
			}
			_ = s.Store(ctx, fillKey, []byte("filled elsewhere")) // the holder keeps its lock until after the wait
		}()
		f := &filler{}
		v, err := transform.FillShared(ctx, s, fillKey, 200*time.Millisecond, usableUnless(""), f.fill)
		if err != nil || string(v) != "filled elsewhere" || f.calls.Load() != 0 {
			t.Fatalf("%q, %v, %d fills", v, err, f.calls.Load())
		}
	})
	t.Run("store fails: the value is returned, not shared", func(t *testing.T) {
		s := transformtest.NewMemStore()
		s.Fail("store")
		f := &filler{}
		v, err := transform.FillShared(ctx, s, fillKey, time.Second, usableUnless(""), f.fill)
		if err != nil || string(v) != "v1" || len(s.Keys()) != 0 || s.Locked(fillKey) {
			t.Fatalf("%q, %v; keys %v", v, err, s.Keys())
		}
	})
	t.Run("fill fails: its error, nothing stored, lock released", func(t *testing.T) {
		s := transformtest.NewMemStore()
		boom := errors.New("token endpoint down")
		f := &filler{err: boom}
		_, err := transform.FillShared(ctx, s, fillKey, time.Second, usableUnless(""), f.fill)
		var se *transform.StoreError
		if !errors.Is(err, boom) || errors.As(err, &se) || len(s.Keys()) != 0 || s.Locked(fillKey) {
			t.Fatalf("err %v, keys %v, locked %v", err, s.Keys(), s.Locked(fillKey))
		}
	})
	t.Run("the caller's context ended: the lock is still released", func(t *testing.T) {
		s := transformtest.NewMemStore()
		cctx, cancel := context.WithCancel(ctx)
		f := &filler{}
		_, err := transform.FillShared(cctx, s, fillKey, time.Second, usableUnless(""), func() ([]byte, error) {
			cancel()
			return f.fill()
		})
		if err != nil || s.Locked(fillKey) {
			t.Fatalf("err %v, locked %v", err, s.Locked(fillKey))
		}
	})
}

// The framing of the owner names kept in shared storage (dedupe entries,
// CBTIS tokens): each part after its length as 4 bytes, big-endian.
func TestLengthPrefixed(t *testing.T) {
	for _, tt := range []struct {
		parts []string
		want  string
	}{
		{nil, ""},
		{[]string{""}, "\x00\x00\x00\x00"},
		{[]string{"ab", "c"}, "\x00\x00\x00\x02ab\x00\x00\x00\x01c"},
		{[]string{"a", "bc"}, "\x00\x00\x00\x01a\x00\x00\x00\x02bc"},
	} {
		if got := string(transform.LengthPrefixed(tt.parts...)); got != tt.want {
			t.Errorf("LengthPrefixed(%q) = %q, want %q", tt.parts, got, tt.want)
		}
	}
}
