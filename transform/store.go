package transform

import (
	"context"
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
// callers run fill once. An error of fill is returned as is; a failing Load
// or Lock returns a *StoreError (the caller falls back to its own fill); a
// failing Store still returns the filled value, which is only not shared.
func FillShared(ctx context.Context, s Store, key string, lockWait time.Duration, usable func([]byte) bool, fill func() ([]byte, error)) ([]byte, error) {
	if v, ok, err := loadUsable(ctx, s, key, usable); ok || err != nil {
		return v, err
	}
	if err := LockWithin(ctx, s, key, lockWait); err != nil {
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
	if err := s.Lock(lctx, name); err != nil {
		if lctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			err = errors.Join(err, lctx.Err())
		}
		return &StoreError{Op: "lock", Key: name, Err: err}
	}
	return nil
}

// Unlock releases the lock name taken by LockWithin, even when ctx has
// ended (a lock left behind blocks the cluster until it goes stale).
func Unlock(ctx context.Context, s Store, name string) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	_ = s.Unlock(uctx, name) // the adapter's Unlock logs a failure
}
