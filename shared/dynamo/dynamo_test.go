package dynamo_test

import (
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/access"
	"github.com/kapso-bridge/kapso-bridge/shared/dynamo"
	"github.com/kapso-bridge/kapso-bridge/shared/eventing"
	"github.com/kapso-bridge/kapso-bridge/shared/idempotency"
	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/messaging"
	"github.com/kapso-bridge/kapso-bridge/shared/offboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
	"github.com/kapso-bridge/kapso-bridge/shared/templates"
	"github.com/kapso-bridge/kapso-bridge/testkit/awstest"
	"github.com/kapso-bridge/kapso-bridge/testkit/storetest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// Each contract case runs on its own fresh tables.

func TestOnboardingContract(t *testing.T) {
	storetest.RunStore(t, func(t *testing.T, now func() time.Time) storetest.Onboarding {
		s := &dynamo.Onboarding{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t)), Now: now}
		return storetest.Onboarding{Store: s, Orphans: s.OrphansForTest}
	})
}

func TestNumbersContract(t *testing.T) {
	storetest.RunNumbers(t, func(t *testing.T, now func() time.Time) onboarding.NumberStore {
		return &dynamo.Numbers{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t)), Now: now}
	})
}

func TestClaimsContract(t *testing.T) {
	storetest.RunClaims(t, func(t *testing.T, now func() time.Time) idempotency.Store {
		return &dynamo.Claims{DB: awstest.DynamoDB(t), Table: awstest.Idempotency(awstest.Tables(t)), Now: now,
			Retention: time.Hour}
	})
}

func TestPayloadsContract(t *testing.T) {
	storetest.RunBodies(t, func(t *testing.T) storetest.Bodies {
		return &dynamo.Payloads{DB: awstest.DynamoDB(t), Table: awstest.Idempotency(awstest.Tables(t))}
	})
}

func TestRejectsContract(t *testing.T) {
	storetest.RunRejects(t, func(t *testing.T, now func() time.Time) storetest.Rejects {
		return &dynamo.Rejects{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t)), Now: now}
	})
}

func TestHintsContract(t *testing.T) {
	storetest.RunHints(t, func(t *testing.T, now func() time.Time) onboarding.RedirectHints {
		return &dynamo.Hints{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t)), Now: now}
	})
}

func TestCheckpointsContract(t *testing.T) {
	storetest.RunCheckpoints(t, func(t *testing.T) storetest.Checkpoints {
		return &dynamo.Checkpoints{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
	})
}

func TestLeasesContract(t *testing.T) {
	storetest.RunLeases(t, func(t *testing.T) storetest.Leases {
		return &dynamo.Checkpoints{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
	})
}

func TestPacerContract(t *testing.T) {
	storetest.RunPacer(t, func(t *testing.T, rate, horizon int) messaging.SendPacer {
		return &dynamo.SendPacer{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t)), Rate: rate, Horizon: horizon}
	})
}

func TestFeedContract(t *testing.T) {
	storetest.RunFeed(t, func(t *testing.T, now func() time.Time) eventing.Feed {
		return &dynamo.Feed{DB: awstest.DynamoDB(t), Table: awstest.Events(awstest.Tables(t)), Now: now}
	})
}

func TestUploadsContract(t *testing.T) {
	storetest.RunUploads(t, func(t *testing.T) media.Uploads {
		return &dynamo.Uploads{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
	})
}

func TestTemplatesContract(t *testing.T) {
	storetest.RunTemplates(t, func(t *testing.T) templates.Store {
		return &dynamo.Templates{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
	})
}

func TestTokensContract(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) access.Store {
		return &dynamo.Tokens{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
	})
}

func TestAuditContract(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T, now func() time.Time) access.AuditLog {
		return &dynamo.AuditLog{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t)), Now: now}
	})
}

func TestOffboardingsContract(t *testing.T) {
	storetest.RunOffboardings(t, func(t *testing.T) offboarding.Store {
		return &dynamo.Offboardings{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
	})
}

func TestErasuresContract(t *testing.T) {
	storetest.RunErasures(t, func(t *testing.T) storetest.ErasureStore {
		return &dynamo.Erasures{DB: awstest.DynamoDB(t), Table: awstest.Bridge(awstest.Tables(t))}
	})
}
