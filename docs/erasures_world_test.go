package docs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kapso-bridge/kapso-bridge/shared/erasure"
	"github.com/kapso-bridge/kapso-bridge/shared/httpapi/tenantapi"
	"github.com/kapso-bridge/kapso-bridge/testkit/memstore"
)

// worldErasureID is the erasure the world holds, of a person no longer
// known.
const worldErasureID = "era_world1"

// worldErasures is the erasure routes' store for a backend: the world's,
// or one failing every call.
func worldErasures(t *testing.T, jobs *memstore.Erasures, down bool) *tenantapi.Erasures {
	t.Helper()
	h, err := erasure.NewHasher([]byte(strings.Repeat("w", erasure.MinKeyBytes)))
	must(t, err)
	if down {
		return &tenantapi.Erasures{Jobs: downErasures{}, Tombstones: downErasures{}, Hasher: h}
	}
	j, err := erasure.NewJob(worldErasureID, tenant, "111", h.Person(tenant, "111", "phone:15550007777"),
		erasure.Identities{Phone: "15550007777"}, time.Now().Add(-time.Hour))
	must(t, err)
	_, _, err = jobs.Open(context.Background(), j, nil)
	must(t, err)
	return &tenantapi.Erasures{Jobs: jobs, Tombstones: jobs, Hasher: h}
}

// downErasures fails every call, as DynamoDB does when it is down.
type downErasures struct{}

func (downErasures) Open(context.Context, erasure.Job, []erasure.Tombstone) (erasure.Job, bool, error) {
	return erasure.Job{}, false, errDown
}
func (downErasures) Job(context.Context, string, string) (erasure.Job, bool, error) {
	return erasure.Job{}, false, errDown
}
func (downErasures) Save(context.Context, erasure.Job, erasure.Position) error { return errDown }
func (downErasures) Unfinished(context.Context, string, int) ([]erasure.Job, string, error) {
	return nil, "", errDown
}
func (downErasures) Tombstones(context.Context, string, string, []string) ([]erasure.Tombstone, error) {
	return nil, errDown
}

// erasureRequests are the situations of a person's erasure. They come
// after the reads of the contact, which they would not change (the world
// runs no erasure).
func erasureRequests() []request {
	contact := "/v1/tenants/" + tenant + "/numbers/111/contacts/"
	del := func(name, path string, want int, invalid bool) request {
		return request{name: name, method: "DELETE", path: path, header: auth, want: want, invalid: invalid}
	}
	get := func(name, path string, want int, invalid bool) request {
		return request{name: name, method: "GET", path: path, header: auth, want: want, invalid: invalid}
	}
	return []request{
		del("by phone", contact+"15550001111", 202, false),
		del("again, by a previous BSUID", contact+"US.100", 202, false),
		del("neither a BSUID nor a phone", contact+"not-a-person", 400, false),
		del("an unknown person", contact+"15550000000", 404, false),
		del("on another tenant's number", "/v1/tenants/zeta/numbers/111/contacts/US.200", 404, false),
		del("an unknown query parameter", contact+"US.200?force=1", 400, true),
		get("an erasure", "/v1/tenants/"+tenant+"/erasures/"+worldErasureID, 200, false),
		get("an unknown erasure", "/v1/tenants/"+tenant+"/erasures/era_nothing", 404, false),
		get("another tenant's erasure", "/v1/tenants/zeta/erasures/"+worldErasureID, 404, false),
		get("a malformed erasure id", "/v1/tenants/"+tenant+"/erasures/ERA_1", 400, true),
	}
}
