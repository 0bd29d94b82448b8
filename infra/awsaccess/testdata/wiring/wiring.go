// Package wiring is parsed, never built: a function's wiring.
package wiring

import (
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	queue "github.com/kapso-bridge/kapso-bridge/shared/sqsqueue"
)

func build(r *config.Reader, s settings) any {
	idem := r.String(config.IdempotencyTable)
	return []any{
		&dynamo.Claims{Table: idem},
		&dynamo.Numbers{Table: s.Table},
		&queue.Sender{},
		dynamo.Unrelated{},
	}
}
