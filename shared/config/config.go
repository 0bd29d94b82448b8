// Package config names kapso-bridge's settings (settings.go) and reads them
// from the environment, where Lambda and the local stack both put them.
// Secrets come from the variable itself (local) or, when its ARN variable
// (see ARNVar) is set instead, from Secrets Manager once at cold start
// (deployed).
package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Env is a source of settings; os.Getenv in production, a map in tests.
type Env func(string) string

// OS reads the process environment.
func OS() Env { return os.Getenv }

// Value returns the setting, or its default when unset or blank.
func (e Env) Value(s Setting) string {
	if v := strings.TrimSpace(e(s.Name)); v != "" {
		return v
	}
	return s.Default
}

// Duration reads the setting as a Go duration ("7s"); unset and without a
// default, it is 0.
func (e Env) Duration(s Setting) (time.Duration, error) {
	v := e.Value(s)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("setting %s=%q is not a positive duration", s.Name, v)
	}
	return d, nil
}

// SecretSource reads the value of the secret an ARN names: Secrets Manager
// when deployed (see package awssecrets).
type SecretSource interface {
	SecretValue(ctx context.Context, arn string) (string, error)
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

// secretTimeout bounds one Secrets Manager read at cold start.
const secretTimeout = 5 * time.Second

// Secret returns the value of secret setting s, or of the Secrets Manager
// secret whose ARN is in s.ARNVar(). An empty secret (created but not yet
// filled) is an error that says what to do.
func (e Env) Secret(ctx context.Context, src SecretSource, s Setting) (string, error) {
	if v := e.Value(s); v != "" {
		return v, nil
	}
	arn := strings.TrimSpace(e(s.ARNVar()))
	if arn == "" {
		return "", fmt.Errorf("%s: %w", s.Name, ErrSecretUnset)
	}
	if src == nil {
		return "", fmt.Errorf("%s: no Secrets Manager client to read %s", s.Name, arn)
	}
	ctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	v, err := src.SecretValue(ctx, arn)
	if err != nil {
		return "", fmt.Errorf("read secret %s: %w", s.Name, err)
	}
	if v = strings.TrimSpace(v); v == "" {
		return "", fmt.Errorf("%s (%s): %w: fill it with aws secretsmanager put-secret-value", s.Name, arn, ErrSecretEmpty)
	}
	return v, nil
}

// Reader reads one function's settings at its start. It keeps every
// problem, so one failed start names all missing settings at once, and it
// refuses a setting the registry does not list for the function, so the
// stacks, which give each function the settings listed for it, cannot
// forget one the code reads.
type Reader struct {
	fn       Function
	env      Env
	secrets  SecretSource
	missing  []string
	problems []error
}

// NewReader reads fn's settings from env, its secrets through secrets (nil
// when no setting is read from Secrets Manager).
func NewReader(fn Function, env Env, secrets SecretSource) *Reader {
	return &Reader{fn: fn, env: env, secrets: secrets}
}

func (r *Reader) listed(s Setting) bool {
	if s.ReadBy(r.fn) {
		return true
	}
	r.problems = append(r.problems, fmt.Errorf("%s is not a setting of the %s function (shared/config)", s.Name, r.fn))
	return false
}

// String returns the setting or its default; a required one that is unset
// is noted as missing.
func (r *Reader) String(s Setting) string {
	if !r.listed(s) {
		return ""
	}
	v := r.env.Value(s)
	if v == "" && s.Required() {
		r.missing = append(r.missing, s.Name)
	}
	return v
}

// Duration reads a Go duration ("7s").
func (r *Reader) Duration(s Setting) time.Duration {
	if r.String(s) == "" {
		return 0
	}
	d, err := r.env.Duration(s)
	if err != nil {
		r.problems = append(r.problems, err)
	}
	return d
}

// Int reads a positive whole number.
func (r *Reader) Int(s Setting) int {
	v := r.String(s)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		r.problems = append(r.problems, fmt.Errorf("%s must be a positive whole number, got %q", s.Name, v))
		return 0
	}
	return n
}

// Secret reads a secret setting (see Env.Secret). An optional one that is
// unset or empty is "".
func (r *Reader) Secret(ctx context.Context, s Setting) string {
	if !r.listed(s) {
		return ""
	}
	v, err := r.env.Secret(ctx, r.secrets, s)
	switch {
	case err == nil:
		return v
	case s.Optional && (errors.Is(err, ErrSecretUnset) || errors.Is(err, ErrSecretEmpty)):
	case errors.Is(err, ErrSecretUnset):
		r.missing = append(r.missing, s.Name)
	default:
		r.problems = append(r.problems, err)
	}
	return ""
}

// Err is every problem met so far, or nil.
func (r *Reader) Err() error {
	var all []error
	if len(r.missing) > 0 {
		all = append(all, fmt.Errorf("missing settings: %s", strings.Join(r.missing, ", ")))
	}
	return errors.Join(append(all, r.problems...)...)
}

// Logger is a JSON slog logger on stdout (Lambda's JSON log format picks it
// up as is), at LOG_LEVEL (debug, info, warn, error; default info).
func (e Env) Logger(function string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(e.Value(LogLevel))); err != nil {
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
