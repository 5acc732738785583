package transformtest

import (
	"context"
	"errors"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/minipay/caddy-minipay/transform"
)

// MemStore is an in-memory transform.Store with real mutual exclusion, for
// tests of cluster behaviour: several clients given one MemStore behave like
// instances sharing one storage. Fail makes operations fail as an
// unreachable storage would.
type MemStore struct {
	mu     sync.Mutex
	values map[string][]byte
	locks  map[string]chan struct{} // closed on Unlock
	fail   map[string]error         // operation name → error
	ops    map[string]int           // calls per operation
	// waiting counts Lock calls blocked on a held lock, so that a test
	// acts once a waiter waits instead of sleeping and hoping it does.
	waiting atomic.Int32
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{values: map[string][]byte{}, locks: map[string]chan struct{}{}, fail: map[string]error{}, ops: map[string]int{}}
}

var _ transform.Store = (*MemStore)(nil)

// ErrUnavailable is the error Fail injects by default.
var ErrUnavailable = errors.New("memstore: storage unavailable")

// Fail makes the named operations ("lock", "unlock", "load", "store",
// "delete", "list") fail with ErrUnavailable; Fail() with no names heals.
func (m *MemStore) Fail(ops ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.fail)
	for _, op := range ops {
		m.fail[op] = ErrUnavailable
	}
}

// Ops returns how many times op was called.
func (m *MemStore) Ops(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops[op]
}

// Locked tells whether the lock name is held.
func (m *MemStore) Locked(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, held := m.locks[name]
	return held
}

// Keys lists every stored key, sorted.
func (m *MemStore) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.values))
	for k := range m.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (m *MemStore) enter(op string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops[op]++
	return m.fail[op]
}

// Lock implements transform.Store.
func (m *MemStore) Lock(ctx context.Context, name string) error {
	if err := m.enter("lock"); err != nil {
		return err
	}
	for {
		m.mu.Lock()
		held, ok := m.locks[name]
		if !ok {
			m.locks[name] = make(chan struct{})
			m.mu.Unlock()
			return nil
		}
		m.waiting.Add(1)
		m.mu.Unlock()
		select {
		case <-held:
			m.waiting.Add(-1)
		case <-ctx.Done():
			m.waiting.Add(-1)
			return ctx.Err()
		}
	}
}

// Waiting returns how many Lock calls are blocked on a held lock now.
func (m *MemStore) Waiting() int { return int(m.waiting.Load()) }

// Unlock implements transform.Store.
func (m *MemStore) Unlock(_ context.Context, name string) error {
	if err := m.enter("unlock"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	held, ok := m.locks[name]
	if !ok {
		return errors.New("memstore: unlock of a lock not held: " + name)
	}
	delete(m.locks, name)
	close(held)
	return nil
}

// Load implements transform.Store.
func (m *MemStore) Load(_ context.Context, key string) ([]byte, error) {
	if err := m.enter("load"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return append([]byte(nil), v...), nil
}

// Store implements transform.Store.
func (m *MemStore) Store(_ context.Context, key string, value []byte) error {
	if err := m.enter("store"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[key] = append([]byte(nil), value...)
	return nil
}

// Delete implements transform.Store.
func (m *MemStore) Delete(_ context.Context, key string) error {
	if err := m.enter("delete"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.values {
		if k == key || strings.HasPrefix(k, strings.TrimSuffix(key, "/")+"/") {
			delete(m.values, k)
		}
	}
	return nil
}

// Exists implements transform.Store.
func (m *MemStore) Exists(_ context.Context, key string) bool {
	if m.enter("exists") != nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.values {
		if k == key || strings.HasPrefix(k, strings.TrimSuffix(key, "/")+"/") {
			return true
		}
	}
	return false
}

// List implements transform.Store: the keys directly below prefix, or every
// key below it when recursive.
func (m *MemStore) List(_ context.Context, prefix string, recursive bool) ([]string, error) {
	if err := m.enter("list"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	dir := strings.TrimSuffix(prefix, "/") + "/"
	seen := map[string]bool{}
	var keys []string
	for k := range m.values {
		rest, ok := strings.CutPrefix(k, dir)
		if !ok {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 && !recursive {
			k = dir + rest[:i]
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return nil, fs.ErrNotExist
	}
	return keys, nil
}

// BlindWhileWaiting is a Store whose reads fail (ErrUnavailable) while
// one of its Lock calls waits for a lock that is held: a waiter's polls
// for the holder's value see nothing, so a test reaches what the waiter
// does once its wait has run out.
type BlindWhileWaiting struct {
	store
	held    func(name string) bool
	waiting atomic.Int32
}

// store names the embedded transform.Store (a field named Store would hide
// the method).
type store = transform.Store

// NewBlindWhileWaiting wraps inner; held tells whether a lock is held now
// (MemStore.Locked).
func NewBlindWhileWaiting(inner transform.Store, held func(name string) bool) *BlindWhileWaiting {
	return &BlindWhileWaiting{store: inner, held: held}
}

// Lock implements transform.Store.
func (s *BlindWhileWaiting) Lock(ctx context.Context, name string) error {
	if !s.held(name) {
		return s.store.Lock(ctx, name)
	}
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	return s.store.Lock(ctx, name)
}

// Load implements transform.Store.
func (s *BlindWhileWaiting) Load(ctx context.Context, key string) ([]byte, error) {
	if s.Waiting() {
		return nil, ErrUnavailable
	}
	return s.store.Load(ctx, key)
}

// Waiting tells whether a Lock call is waiting.
func (s *BlindWhileWaiting) Waiting() bool { return s.waiting.Load() > 0 }
