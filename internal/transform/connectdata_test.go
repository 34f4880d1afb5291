package transform

import (
	"fmt"
	"testing"
)

func TestObject(t *testing.T) {
	for _, n := range []int{3, indexFrom + 1, 40} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			o := newObject()
			for i := range n {
				o.Set(fmt.Sprint("k", i), int64(i))
			}
			o.Set("k1", "again") // keeps its place
			o.Delete("k0")
			o.Delete("nope")
			o.Set("k0", "last")
			c := copyObject(o)
			c.Set("extra", true)
			if o.Len() != n || c.Len() != n+1 {
				t.Fatalf("len %d / copy %d, want %d / %d", o.Len(), c.Len(), n, n+1)
			}
			if o.Keys()[0] != "k1" || o.get("k1") != "again" || o.Keys()[n-1] != "k0" || o.get("k0") != "last" {
				t.Fatalf("keys %v", o.Keys())
			}
			for i := 2; i < n; i++ {
				if v := o.get(fmt.Sprint("k", i)); v != int64(i) {
					t.Fatalf("k%d = %v", i, v)
				}
			}
			if _, ok := o.Get("extra"); ok {
				t.Fatal("a copy's Set changed the original")
			}
		})
	}
}
