package ingestapp

import (
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/webhook"
)

// The ingest's deadline setting defaults to the handler's own deadline.
func TestIngestDeadlineDefault(t *testing.T) {
	if config.IngestDeadline.Default != webhook.DefaultIngestTimeout.String() {
		t.Errorf("%s defaults to %s, the ingest to %s", config.IngestDeadline.Name, config.IngestDeadline.Default, webhook.DefaultIngestTimeout)
	}
}
