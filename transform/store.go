package transform

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"time"
)

// Store is state shared by every instance of a cluster, with named locks
// that exclude each other across the cluster. In Caddy it is the configured
// storage (ctx.Storage(), a certmagic.Storage, which has these methods), so
// instances configured with the same storage share what is kept here.
//
// Keys are slash-separated paths. Load of an absent key returns an error for
// which errors.Is(err, fs.ErrNotExist) holds. Lock blocks until the lock is
// obtained or ctx ends; Unlock must follow every successful Lock.
type Store interface {
	Lock(ctx context.Context, name string) error
	Unlock(ctx context.Context, name string) error
	Load(ctx context.Context, key string) ([]byte, error)
	Store(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	Exists(ctx context.Context, key string) bool
	List(ctx context.Context, prefix string, recursive bool) ([]string, error)
}

// LengthPrefixed joins parts, each preceded by its length (4 bytes,
// big-endian), so that no other parts join the same: ("ab", "c") is not
// ("a", "bc"). What names the owner of a shared value is hashed from it.
func LengthPrefixed(parts ...string) []byte {
	var b []byte
	for _, s := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// StateSharer is implemented by a Client, Webhook or Sandbox that keeps
// state worth sharing in a cluster (an access token, downloaded
// certificates). The adapter calls ShareState once, before the first
// request; without it the state stays the instance's own.
type StateSharer interface {
	ShareState(Store)
}

// StoreError is a failure of the Store itself (unreachable, a lock not
// obtained in time), as opposed to a failure of the work done under its
// lock. The caller then works alone, as without a Store.
type StoreError struct {
	Op  string // "load", "lock"
	Key string
	Err error
}

// Error names the operation and the key (never a value).
func (e *StoreError) Error() string {
	return "shared store: " + e.Op + " " + e.Key + ": " + e.Err.Error()
}

// Unwrap returns the Store's own error.
func (e *StoreError) Unwrap() error { return e.Err }

// unlockTimeout bounds the release of a lock, which must happen even when
// the caller's context has ended.
const unlockTimeout = 5 * time.Second

// FillShared returns the value at key when usable accepts it. Otherwise it
// takes the lock of the same name (waiting at most lockWait), reads the key
// again, and only if the value is still missing or unusable calls fill and
// stores its result, then releases the lock: across a cluster, concurrent
// callers run fill once. While it waits for the lock it reads the key every
// SharedPoll, and uses a usable value as soon as the holder stored it. An
// error of fill is returned as is; a failing Load or Lock returns a
// *StoreError (the caller falls back to its own fill); a failing Store
// still returns the filled value, which is only not shared.
func FillShared(ctx context.Context, s Store, key string, lockWait time.Duration, usable func([]byte) bool, fill func() ([]byte, error)) ([]byte, error) {
	if v, ok, err := loadUsable(ctx, s, key, usable); ok || err != nil {
		return v, err
	}
	var shared []byte
	polling := true
	locked, err := WaitLock(ctx, s, key, lockWait, SharedPoll, func(ctx context.Context) bool {
		if !polling {
			return false
		}
		v, ok, err := loadUsable(ctx, s, key, usable)
		polling = err == nil // a failing storage is left to the lock
		shared = v
		return ok
	})
	if err != nil {
		// Another instance held the lock for the whole wait. A storage that
		// polls for locks (file_system: once a second) may have missed its
		// release: read once more before the caller fills alone.
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			if v, ok, _ := loadUsable(ctx, s, key, usable); ok {
				return v, nil
			}
		}
		return nil, err
	}
	if !locked {
		return shared, nil // the holder stored it while this caller waited
	}
	defer Unlock(ctx, s, key)
	if v, ok, err := loadUsable(ctx, s, key, usable); ok || err != nil {
		return v, err
	}
	v, err := fill()
	if err != nil {
		return nil, err
	}
	_ = s.Store(ctx, key, v) // not shared this time; the adapter's Store logs why
	return v, nil
}

// loadUsable reads key: (value, true, nil) when usable accepts it,
// (nil, false, nil) when it is absent or unusable.
func loadUsable(ctx context.Context, s Store, key string, usable func([]byte) bool) ([]byte, bool, error) {
	v, err := s.Load(ctx, key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case err != nil:
		return nil, false, &StoreError{Op: "load", Key: key, Err: err}
	}
	return v, usable(v), nil
}

// LockWithin takes the lock name, waiting at most wait; a lock not obtained
// is a *StoreError (errors.Is(err, context.DeadlineExceeded) when the wait
// ran out, most likely because another instance holds it).
func LockWithin(ctx context.Context, s Store, name string, wait time.Duration) error {
	lctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return lockError(lctx, name, s.Lock(lctx, name))
}

// lockError is the *StoreError of a failed Lock under lctx (nil for none).
func lockError(lctx context.Context, name string, err error) error {
	if err == nil {
		return nil
	}
	if lctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		err = errors.Join(err, lctx.Err())
	}
	return &StoreError{Op: "lock", Key: name, Err: err}
}

// SharedPoll is how often a caller waiting for a lock checks whether the
// holder's work is done. Storages see a released lock late (file_system
// polls once a second), and waiters take the lock one after the other just
// to read what the holder stored: without it, on a cluster of several
// instances the last one got the lock seconds after the holder stored a
// value, and a short-lived token was due again by then.
const SharedPoll = 100 * time.Millisecond

// WaitLock takes the lock name like LockWithin, except that while it waits
// it calls done every poll, and stops waiting without the lock when done
// reports that the holder's work is done (a value stored under the lock):
// locked is then false with no error. done runs on the caller's goroutine.
func WaitLock(ctx context.Context, s Store, name string, wait, poll time.Duration, done func(context.Context) bool) (locked bool, err error) {
	lctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- s.Lock(lctx, name) }()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case err := <-result:
			return err == nil, lockError(lctx, name, err)
		case <-tick.C:
			if !done(lctx) {
				continue
			}
			cancel()
			if <-result == nil { // taken just before the cancel
				Unlock(ctx, s, name)
			}
			return false, nil
		}
	}
}

// Unlock releases the lock name taken by LockWithin, even when ctx has
// ended (a lock left behind blocks the cluster until it goes stale).
func Unlock(ctx context.Context, s Store, name string) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	_ = s.Unlock(uctx, name) // the adapter's Unlock logs a failure
}
