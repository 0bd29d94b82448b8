package s3media_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
)

const readRole = "arn:aws-cn:iam::123456789012:role/KapsoBridge-MediaReadRole"

// fakeSTS answers each AssumeRole with new credentials lasting the next
// of lives (the last one once they run out), and records the calls.
type fakeSTS struct {
	mu    sync.Mutex
	lives []time.Duration
	calls []*sts.AssumeRoleInput
}

func (f *fakeSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	n := len(f.calls)
	life := f.lives[min(n, len(f.lives))-1]
	return &sts.AssumeRoleOutput{Credentials: &types.Credentials{
		AccessKeyId:     aws.String(fmt.Sprintf("ASIAREAD%04d", n)),
		SecretAccessKey: aws.String(fmt.Sprintf("secret-%d", n)),
		SessionToken:    aws.String(fmt.Sprintf("token-%d", n)),
		Expiration:      aws.Time(time.Now().Add(life)),
	}}, nil
}

func (f *fakeSTS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// readObjects are Objects presigning through the read role, with a
// client that calls nothing (presigning is local).
func readObjects(t *testing.T, lives ...time.Duration) (*s3media.Objects, *fakeSTS) {
	t.Helper()
	f := &fakeSTS{lives: lives}
	client := s3.New(s3.Options{Region: "cn-north-1", Credentials: aws.CredentialsProviderFunc(
		func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAFUNCTIONROLE", SecretAccessKey: "own"}, nil
		})})
	o, err := s3media.NewWithReadRole(client, "media-bucket", f, readRole)
	if err != nil {
		t.Fatal(err)
	}
	return o, f
}

// The session policy allows s3:GetObject on the tenant's prefix of the
// bucket alone, in the role's partition, and kms:Decrypt (the role's own
// policy limits it to the bucket's key); the session lasts the hour role
// chaining allows, under a name made of the tenant id.
func TestReadRoleSessionIsScopedToTheTenant(t *testing.T) {
	o, f := readObjects(t, time.Hour)
	if _, err := o.PresignGet(context.Background(), "acme:eu/106540352242922/wamid.1", 15*time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 {
		t.Fatalf("AssumeRole calls = %d, want 1", len(f.calls))
	}
	in := f.calls[0]
	if aws.ToString(in.RoleArn) != readRole || aws.ToInt32(in.DurationSeconds) != 3600 {
		t.Errorf("AssumeRole %s for %d s, want %s for 3600 s", aws.ToString(in.RoleArn), aws.ToInt32(in.DurationSeconds), readRole)
	}
	if got := aws.ToString(in.RoleSessionName); got != "media-read-acme-eu" {
		t.Errorf("session name %q, want media-read-acme-eu", got)
	}
	var policy struct {
		Version   string
		Statement []struct {
			Effect, Action, Resource string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(in.Policy)), &policy); err != nil {
		t.Fatalf("session policy %q: %v", aws.ToString(in.Policy), err)
	}
	if policy.Version != "2012-10-17" || len(policy.Statement) != 2 {
		t.Fatalf("session policy %+v", policy)
	}
	allowed := map[string]string{}
	for _, st := range policy.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %+v: not an Allow", st)
		}
		allowed[st.Action] = st.Resource
	}
	if got := allowed["s3:GetObject"]; got != "arn:aws-cn:s3:::media-bucket/acme:eu/*" {
		t.Errorf("s3:GetObject on %q, want the tenant's prefix arn:aws-cn:s3:::media-bucket/acme:eu/*", got)
	}
	if got, ok := allowed["kms:Decrypt"]; !ok || got != "*" {
		t.Errorf("kms:Decrypt on %q (%v), want *", got, ok)
	}
}

// A session name keeps STS's characters and length whatever the tenant id.
func TestReadRoleSessionNames(t *testing.T) {
	valid := regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	long := strings.Repeat("t", 128)
	for tenant, want := range map[string]string{
		"acme":       "media-read-acme",
		"a:b.c_d-e":  "media-read-a-b.c_d-e",
		long:         "media-read-" + long[:53],
		"Tenant.007": "media-read-Tenant.007",
	} {
		got := s3media.SessionName(tenant)
		if got != want || !valid.MatchString(got) {
			t.Errorf("SessionName(%q) = %q, want %q", tenant, got, want)
		}
	}
}

// The URL is signed with the tenant's session: its access key and token,
// not the function's.
func TestReadRoleURLCarriesTheSession(t *testing.T) {
	o, _ := readObjects(t, time.Hour)
	u, err := o.PresignGet(context.Background(), "acme/106540352242922/wamid.1", 15*time.Minute, "a.pdf")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := parsed.Query()
	if got := q.Get("X-Amz-Credential"); !strings.HasPrefix(got, "ASIAREAD0001/") {
		t.Errorf("X-Amz-Credential %q, want the session's key ASIAREAD0001", got)
	}
	if got := q.Get("X-Amz-Security-Token"); got != "token-1" {
		t.Errorf("X-Amz-Security-Token %q, want the session's token-1", got)
	}
	if got := q.Get("X-Amz-Expires"); got != "900" {
		t.Errorf("X-Amz-Expires %q, want 900", got)
	}
}

// A tenant's session signs its URLs while it outlasts the URL by a minute,
// and only that tenant's; then a new one is assumed.
func TestReadRoleSessionsAreCachedPerTenant(t *testing.T) {
	ctx := context.Background()
	o, f := readObjects(t, time.Hour)
	presign := func(key string, ttl time.Duration) string { return presignWith(t, o, key, ttl) }
	a1 := presign("acme/1/x", 15*time.Minute)
	if a2 := presign("acme/1/uploads/y", 15*time.Minute); a2 != a1 || f.count() != 1 {
		t.Errorf("second URL of acme signed by %s after %d AssumeRoles, want %s after 1", a2, f.count(), a1)
	}
	if b := presign("globex/1/x", 15*time.Minute); b == a1 || f.count() != 2 {
		t.Errorf("globex's URL signed by %s after %d AssumeRoles, want its own session", b, f.count())
	}
	// 45 minutes and a minute fit in the hour the session has left.
	if a3 := presign("acme/1/z", 45*time.Minute); a3 != a1 || f.count() != 2 {
		t.Errorf("a 45-minute URL of acme signed by %s after %d AssumeRoles, want %s", a3, f.count(), a1)
	}

	// A session with 20 minutes left signs 15-minute URLs, not one of
	// 19.5 minutes: that one takes a new session.
	short, sf := readObjects(t, 20*time.Minute, time.Hour)
	first := presignWith(t, short, "acme/1/x", 15*time.Minute)
	if again := presignWith(t, short, "acme/1/y", 15*time.Minute); again != first || sf.count() != 1 {
		t.Errorf("second 15-minute URL signed by %s after %d AssumeRoles, want %s after 1", again, sf.count(), first)
	}
	if longer := presignWith(t, short, "acme/1/z", 19*time.Minute+30*time.Second); longer != "ASIAREAD0002" || sf.count() != 2 {
		t.Errorf("19.5-minute URL signed by %s after %d AssumeRoles, want a new session ASIAREAD0002", longer, sf.count())
	}
	if next := presignWith(t, short, "acme/1/x", 15*time.Minute); next != "ASIAREAD0002" || sf.count() != 2 {
		t.Errorf("next URL signed by %s after %d AssumeRoles, want the new session's", next, sf.count())
	}

	// A URL longer than a new session outlasts by a minute is refused
	// rather than handed out to die early.
	always, _ := readObjects(t, 20*time.Minute)
	if u, err := always.PresignGet(ctx, "acme/1/x", 19*time.Minute+30*time.Second, ""); err == nil {
		t.Errorf("a URL outliving its session: %s", u)
	}
}

// presignWith presigns key and answers the access key that signed it.
func presignWith(t *testing.T, o *s3media.Objects, key string, ttl time.Duration) string {
	t.Helper()
	u, err := o.PresignGet(context.Background(), key, ttl, "")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	access, _, _ := strings.Cut(parsed.Query().Get("X-Amz-Credential"), "/")
	return access
}

// At most MaxCachedTenants sessions are kept: the least recently used is
// dropped for a new tenant.
func TestReadRoleCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	o, f := readObjects(t, time.Hour)
	presign := func(tenant string) {
		t.Helper()
		if _, err := o.PresignGet(ctx, tenant+"/1/x", time.Minute, ""); err != nil {
			t.Fatal(err)
		}
	}
	for i := range s3media.MaxCachedTenants {
		presign(fmt.Sprintf("t%d", i))
	}
	presign("t0") // t0 used again: t1 is now the least recent
	presign("new")
	calls := f.count()
	presign("t0")
	if f.count() != calls {
		t.Errorf("t0, used recently, was dropped")
	}
	presign("t1")
	if f.count() != calls+1 {
		t.Errorf("t1, the least recently used, was kept past %d tenants", s3media.MaxCachedTenants)
	}
}

// A key under no valid tenant, or a URL longer than the read role allows,
// assumes nothing and signs nothing.
func TestReadRoleRefuses(t *testing.T) {
	o, f := readObjects(t, time.Hour)
	for _, c := range []struct {
		key string
		ttl time.Duration
	}{
		{"*/1/x", time.Minute}, {"a*/1/x", time.Minute}, {"/acme/1/x", time.Minute}, {"acme", time.Minute},
		{"acme/1/x", s3media.MaxReadRoleURLTTL + time.Second}, {"acme/1/x", 0},
	} {
		if u, err := o.PresignGet(context.Background(), c.key, c.ttl, ""); err == nil {
			t.Errorf("presign %q for %s: %s, want an error", c.key, c.ttl, u)
		}
	}
	if f.count() != 0 {
		t.Errorf("AssumeRole called %d times for refused keys", f.count())
	}
	if _, err := s3media.NewWithReadRole(s3.New(s3.Options{}), "b", &fakeSTS{}, "arn:aws:s3:::b"); err == nil {
		t.Error("a bucket ARN taken as the read role")
	}
}
