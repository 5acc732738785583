package transformtest

import (
	"encoding/json"
	"strconv"
)

// Leaves is what a JSON object decoded by encoding/json (UseNumber) reads
// as an event's data, written out independently of transform.FlattenJSON
// for the fuzz targets (README "Webhooks"): a nested member's name is its
// parent's, a dot and its own (array items by index), numbers as written,
// true and false spelled so, null left out. Clash holds the names two paths
// spell ({"a.b":1,"a":{"b":2}}); Depth is the deepest nesting of objects
// and arrays, the object itself being 1.
type Leaves struct {
	Values map[string]string
	Clash  map[string]bool
	Depth  int
}

// LeavesOf flattens obj.
func LeavesOf(obj map[string]any) Leaves {
	l := Leaves{Values: map[string]string{}, Clash: map[string]bool{}}
	l.Depth = l.members("", obj)
	return l
}

// LeafText is a JSON scalar as the event's data holds it; false for an
// object, an array or null.
func LeafText(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}

func (l Leaves) members(prefix string, v any) (depth int) {
	put := func(name string, x any) {
		switch x.(type) {
		case map[string]any, []any:
			depth = max(depth, l.members(name+".", x))
			return
		}
		if s, ok := LeafText(x); ok {
			if _, dup := l.Values[name]; dup {
				l.Clash[name] = true
			}
			l.Values[name] = s
		}
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			put(prefix+k, x)
		}
	case []any:
		for i, x := range t {
			put(prefix+strconv.Itoa(i), x)
		}
	}
	return depth + 1
}
