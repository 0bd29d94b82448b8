// Package calls is scanned, never built: holders calling through their
// interface fields.
package calls

import "example.com/elsewhere"

type Store interface {
	Get()
	Put()
	Drop()
}

type Base struct{ Store Store }

// Holder reaches Base's Store through embedding.
type Holder struct {
	*Base
	Other Store
	Leaky Store
}

func (h *Holder) Run() {
	h.Store.Get()
	h.Other.Put()
	if h.Other != nil {
		h.Other = nil
	}
	elsewhere.Use(h.Leaky)
}

// Anon's receiver type the scan cannot tell: any holder's Other may Drop.
func Anon(x interface{ Other() Store }, y struct{ Other Store }) {
	y.Other.Drop()
}
