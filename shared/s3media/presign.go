package s3media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kapso-bridge/kapso-bridge/shared/media"
	"github.com/kapso-bridge/kapso-bridge/shared/onboarding"
)

// Limits of TenantReads.
const (
	// MaxReadRoleURLTTL is the longest a URL signed through the read role
	// may work: the function's role assuming another is role chaining,
	// whose sessions last an hour at most, and a URL dies with the session
	// that signed it. The rest of the hour lets a session sign many URLs.
	MaxReadRoleURLTTL = 45 * time.Minute
	// sessionSeconds is how long each tenant's read session lasts.
	sessionSeconds = 3600
	// sessionMargin is how much longer than a URL's lifetime a cached
	// session must still last to sign it.
	sessionMargin = time.Minute
	// MaxCachedTenants bounds the sessions kept; past it the one used
	// least recently is dropped.
	MaxCachedTenants = 1000
	// sessionNamePrefix starts every read session's name, so CloudTrail
	// tells which tenant's URLs it signed.
	sessionNamePrefix = "media-read-"
	// maxSessionName is STS's bound on a role session name.
	maxSessionName = 64
	// assumeTimeout bounds the STS call, well inside the API's own limit.
	assumeTimeout = 5 * time.Second
)

// STS is the one call TenantReads makes of AWS STS.
type STS interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// OwnReads presigns GETs of any object of the bucket with the client's own
// credentials: where no read role is set (the local stack).
type OwnReads struct {
	presign *s3.PresignClient
	bucket  string
}

// PresignGet presigns a GET of key, which must be under a tenant.
func (r *OwnReads) PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error) {
	in, err := getInput(r.bucket, key, ttl, filename)
	if err != nil {
		return "", err
	}
	req, err := r.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return req.URL, nil
}

// TenantReads presigns each GET with a session of the read role whose
// session policy allows s3:GetObject on its tenant's prefix alone: a URL
// the API hands out can read only that tenant's objects, whatever key it
// was made for. Everything it signs, it signs with such a session.
type TenantReads struct {
	presign *s3.PresignClient
	bucket  string
	sts     STS
	roleARN string
	// partition is the role's ARN partition, for the objects' ARNs.
	partition string

	mu       sync.Mutex
	sessions map[string]*session // by tenant id
}

// session is a tenant's credentials and when they were last used.
type session struct {
	creds aws.Credentials
	used  time.Time
}

// NewTenantReads presigns GETs of bucket through sessions of roleARN.
func NewTenantReads(presign *s3.PresignClient, bucket string, stsClient STS, roleARN string) (*TenantReads, error) {
	a, err := arn.Parse(roleARN)
	if err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") {
		return nil, fmt.Errorf("media read role %q: not an IAM role ARN", roleARN)
	}
	if bucket == "" || stsClient == nil {
		return nil, errors.New("media read role: no bucket or no STS client")
	}
	return &TenantReads{presign: presign, bucket: bucket, sts: stsClient, roleARN: roleARN, partition: a.Partition,
		sessions: map[string]*session{}}, nil
}

// PresignGet presigns a GET of key with a session scoped to the tenant the
// key is under, for at most MaxReadRoleURLTTL.
func (r *TenantReads) PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error) {
	in, err := getInput(r.bucket, key, ttl, filename)
	if err != nil {
		return "", err
	}
	if ttl > MaxReadRoleURLTTL {
		return "", fmt.Errorf("presign %s: a lifetime of %s is over the read role's %s", key, ttl, MaxReadRoleURLTTL)
	}
	tenantID, _ := media.KeyTenant(key) // getInput checked it
	creds, err := r.credentials(ctx, tenantID, ttl)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	req, err := r.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl), func(po *s3.PresignOptions) {
		po.ClientOptions = append(po.ClientOptions, func(o *s3.Options) {
			o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
		})
	})
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return req.URL, nil
}

// credentials are the tenant's session, cached while it outlasts a URL of
// ttl by sessionMargin, else a new one.
func (r *TenantReads) credentials(ctx context.Context, tenantID string, ttl time.Duration) (aws.Credentials, error) {
	now := time.Now()
	r.mu.Lock()
	if s, ok := r.sessions[tenantID]; ok && s.creds.Expires.Sub(now) >= ttl+sessionMargin {
		s.used = now
		creds := s.creds
		r.mu.Unlock()
		return creds, nil
	}
	r.mu.Unlock()
	policy, err := sessionPolicy(r.partition, r.bucket, tenantID)
	if err != nil {
		return aws.Credentials{}, err
	}
	actx, cancel := context.WithTimeout(ctx, assumeTimeout)
	defer cancel()
	out, err := r.sts.AssumeRole(actx, &sts.AssumeRoleInput{
		RoleArn:         &r.roleARN,
		RoleSessionName: aws.String(SessionName(tenantID)),
		DurationSeconds: aws.Int32(sessionSeconds),
		Policy:          &policy,
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("assume the media read role for tenant %s: %w", tenantID, err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil {
		return aws.Credentials{}, fmt.Errorf("assume the media read role for tenant %s: no credentials in the answer", tenantID)
	}
	creds := aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken,
		CanExpire: true, Expires: *c.Expiration, Source: "media read role"}
	if creds.Expires.Sub(now) < ttl+sessionMargin {
		return aws.Credentials{}, fmt.Errorf("assume the media read role for tenant %s: the session ends at %s, before a URL of %s would",
			tenantID, creds.Expires.Format(time.RFC3339), ttl)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sessions[tenantID]; !ok && len(r.sessions) >= MaxCachedTenants {
		r.dropLeastRecent()
	}
	r.sessions[tenantID] = &session{creds: creds, used: now}
	return creds, nil
}

// dropLeastRecent forgets the session used least recently; r.mu is held.
func (r *TenantReads) dropLeastRecent() {
	var oldest string
	var at time.Time
	for t, s := range r.sessions {
		if oldest == "" || s.used.Before(at) {
			oldest, at = t, s.used
		}
	}
	delete(r.sessions, oldest)
}

// policyDocument is an IAM policy, as a session policy takes it.
type policyDocument struct {
	Version   string
	Statement []policyStatement
}

type policyStatement struct {
	Effect   string
	Action   string
	Resource string
}

// sessionPolicy allows reading the tenant's objects of bucket, and nothing
// else: a session's permissions are those its role's policy and this one
// both allow, so kms:Decrypt on any key is the role's own key alone.
func sessionPolicy(partition, bucket, tenantID string) (string, error) {
	if !onboarding.ValidTenantID(tenantID) {
		return "", fmt.Errorf("session policy: %q is no tenant id", tenantID)
	}
	b, err := json.Marshal(policyDocument{Version: "2012-10-17", Statement: []policyStatement{
		{Effect: "Allow", Action: "s3:GetObject", Resource: "arn:" + partition + ":s3:::" + bucket + "/" + media.TenantPrefix(tenantID) + "*"},
		{Effect: "Allow", Action: "kms:Decrypt", Resource: "*"},
	}})
	return string(b), err
}

// SessionName is the tenant's role session name: sessionNamePrefix and the
// tenant id, its characters outside STS's [\w+=,.@-] (a tenant id's ":")
// as "-", cut to STS's 64 characters. It only labels the session in
// CloudTrail; the session policy is what scopes it.
func SessionName(tenantID string) string {
	name := sessionNamePrefix + strings.Map(func(c rune) rune {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("_+=,.@-", c) {
			return c
		}
		return '-'
	}, tenantID)
	return name[:min(len(name), maxSessionName)]
}

// getInput is the GetObject a presigned URL makes of key, naming filename.
func getInput(bucket, key string, ttl time.Duration, filename string) (*s3.GetObjectInput, error) {
	if _, ok := media.KeyTenant(key); !ok || ttl <= 0 {
		return nil, fmt.Errorf("presign %q: no tenant's key or no lifetime", key)
	}
	in := &s3.GetObjectInput{Bucket: &bucket, Key: &key}
	if d := ContentDisposition(filename); d != "" {
		in.ResponseContentDisposition = &d
	}
	return in, nil
}
