// Package config reads kapso-bridge's settings from the environment, where
// Lambda and the local stack both put them. Secrets come from the variable
// itself (local) or, when its ARN variable (see ARNVar) is set instead, from
// Secrets Manager once at cold start (deployed).
package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Env is a source of settings; os.Getenv in production, a map in tests.
type Env func(string) string

// OS reads the process environment.
func OS() Env { return os.Getenv }

// Get returns the setting or def when unset or blank.
func (e Env) Get(name, def string) string {
	if v := strings.TrimSpace(e(name)); v != "" {
		return v
	}
	return def
}

// Require returns every named setting, or one error naming all missing ones.
func (e Env) Require(names ...string) (map[string]string, error) {
	out := map[string]string{}
	var missing []string
	for _, n := range names {
		v := strings.TrimSpace(e(n))
		if v == "" {
			missing = append(missing, n)
			continue
		}
		out[n] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing settings: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// Duration reads a Go duration ("8s"), or def.
func (e Env) Duration(name string, def time.Duration) (time.Duration, error) {
	v := e.Get(name, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("setting %s=%q is not a positive duration", name, v)
	}
	return d, nil
}

// SecretGetter is the one Secrets Manager call used.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ARNVar names the variable carrying the Secrets Manager ARN of secret
// name: ARNVar(NAME), or NAME_ARN when the name already ends in _SECRET
// (KAPSO_PROJECT_WEBHOOK_SECRET_ARN, not ..._SECRET_SECRET_ARN).
func ARNVar(name string) string {
	if strings.HasSuffix(name, "_SECRET") {
		return name + "_ARN"
	}
	return name + "_SECRET_ARN"
}

// ErrSecretUnset: neither NAME nor its ARN variable is set.
var ErrSecretUnset = errors.New("secret not configured")

// ErrSecretEmpty: the Secrets Manager secret exists but has no value yet.
var ErrSecretEmpty = errors.New("secret is empty")

// Secret returns the value of NAME, or of the Secrets Manager secret whose
// ARN is in ARNVar(NAME). An empty secret (created but not yet filled) is an error
// that says what to do.
func (e Env) Secret(ctx context.Context, sm SecretGetter, name string) (string, error) {
	if v := e.Get(name, ""); v != "" {
		return v, nil
	}
	arn := e.Get(ARNVar(name), "")
	if arn == "" {
		return "", fmt.Errorf("%s: %w", name, ErrSecretUnset)
	}
	if sm == nil {
		return "", fmt.Errorf("%s: no Secrets Manager client to read %s", name, arn)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", name, err)
	}
	v := strings.TrimSpace(aws.ToString(out.SecretString))
	if v == "" {
		return "", fmt.Errorf("%s (%s): %w: fill it with aws secretsmanager put-secret-value", name, arn, ErrSecretEmpty)
	}
	return v, nil
}

// OptionalSecret is Secret where unset or empty means "" (e.g. the Meta app secret).
func (e Env) OptionalSecret(ctx context.Context, sm SecretGetter, name string) (string, error) {
	v, err := e.Secret(ctx, sm, name)
	if errors.Is(err, ErrSecretUnset) || errors.Is(err, ErrSecretEmpty) {
		return "", nil
	}
	return v, err
}

// Logger is a JSON slog logger on stdout (Lambda's JSON log format picks it
// up as is), at LOG_LEVEL (debug, info, warn, error; default info).
func (e Env) Logger(function string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(e.Get("LOG_LEVEL", "info"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})).With("function", function)
}

// AWS loads the SDK configuration the usual way. Locally, the standard
// AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS variables point the clients
// at the local servers.
func AWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	return cfg, nil
}
