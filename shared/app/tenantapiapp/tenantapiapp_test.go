package tenantapiapp_test

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kapso-bridge/kapso-bridge/shared/app"
	"github.com/kapso-bridge/kapso-bridge/shared/app/tenantapiapp"
	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
)

type secrets struct{}

func (secrets) SecretValue(context.Context, string) (string, error) { return "value", nil }

// With a read role, a media URL may last 45 minutes at most: the role's
// sessions last an hour, and a URL dies with its session. Without one
// (the local stack) the function signs, and any lifetime goes.
func TestMediaURLTTLIsBoundByTheReadRole(t *testing.T) {
	for _, c := range []struct {
		role, ttl string
		reads     any
		ok        bool
	}{
		{"arn:aws:iam::123456789012:role/KapsoBridge-MediaReadRole", "45m", &s3media.TenantReads{}, true},
		{"arn:aws:iam::123456789012:role/KapsoBridge-MediaReadRole", "46m", nil, false},
		{"arn:aws:s3:::not-a-role", "15m", nil, false},
		{"", "2h", &s3media.OwnReads{}, true},
	} {
		env := config.Env(func(k string) string {
			switch k {
			case config.MediaReadRoleARN.Name:
				return c.role
			case config.MediaURLTTL.Name:
				return c.ttl
			case config.LogLevel.Name, config.MessageRetentionDays.Name:
				return ""
			}
			return "https://example.com/" + strings.ToLower(k)
		})
		b := app.Base{Env: env, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AWS: aws.Config{Region: "us-east-1"}}
		clients := tenantapiapp.NewClients(b.AWS)
		clients.Secrets = secrets{}
		api, err := tenantapiapp.New(context.Background(), b, clients)
		if (err == nil) != c.ok {
			t.Errorf("role %q, ttl %s: %v, want ok %v", c.role, c.ttl, err, c.ok)
			continue
		}
		// What signs the URLs, read as the CDK's access check reads it.
		if err == nil {
			if got := reflect.ValueOf(api.Objects).Elem().FieldByName("reads").Elem().Type(); got != reflect.TypeOf(c.reads) {
				t.Errorf("role %q: URLs signed by %s, want %T", c.role, got, c.reads)
			}
		}
	}
}
