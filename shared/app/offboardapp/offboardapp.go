// Package offboardapp builds the runner of tenants' offboardings on the
// stack's tables and media bucket: the tenant API starts offboardings with
// it, and the reconciler finishes them.
package offboardapp

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
)

// Stores says where a tenant's data is.
type Stores struct {
	DB     *dynamodb.Client
	Bridge string
	Events string
	S3     *s3.Client
	Bucket string
	Kapso  offboarding.Kapso
}

// DefaultSettle is how long the data phase waits after the request.
const DefaultSettle = 3 * time.Minute

// Starter is the tenant API's runner: it records the offboarding and
// takes the tenant's links and webhooks away at Kapso, and leaves the data
// to Runner, the reconciler's: the tenant API's role deletes nothing.
func Starter(s Stores) *offboarding.Runner {
	return &offboarding.Runner{
		Store:   &dynamo.Offboardings{DB: s.DB, Table: s.Bridge},
		Tenants: &dynamo.Onboarding{DB: s.DB, Table: s.Bridge},
		Numbers: &dynamo.Numbers{DB: s.DB, Table: s.Bridge},
		Kapso:   s.Kapso,
		// Longer than the ingest's secret cache (a minute) and the messages
		// worker's tenant cache (30 s), with room for what is in flight.
		Settle: DefaultSettle,
	}
}

// Runner is the reconciler's runner: Starter's steps, then the bridge
// table's messaging items and lookups (with the media copies the messages
// name), the events, and the tenant's own items last (with the uploaded
// files), so that it shows deleting until the end.
func Runner(s Stores) *offboarding.Runner {
	r := Starter(s)
	objects := s3media.Deleter{Client: s.S3, Bucket: s.Bucket}
	r.Erasers = []offboarding.Eraser{
		&dynamo.MessagingEraser{DB: s.DB, Table: s.Bridge, Objects: objects},
		&dynamo.TenantFeedEraser{DB: s.DB, Table: s.Events},
		&dynamo.TenantEraser{DB: s.DB, Table: s.Bridge, Objects: objects},
	}
	return r
}
