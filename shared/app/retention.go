package app

import (
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
)

// Retention reads MESSAGE_RETENTION_DAYS: how long the function's writes
// keep a tenant's messages; the zero Retention (unset) keeps them.
func Retention(r *config.Reader) messaging.Retention {
	return messaging.Retention{Days: r.Int(config.MessageRetentionDays)}
}
