package main

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// Settings are the deployment's knobs. Each comes from CDK context (`-c key=value`
// or cdk.json) and, failing that, from the environment variable named in its
// setting entry, so `make deploy APP_SUCCESS_URL=...` works as well as `-c`.
type Settings struct {
	StackName          string
	AssetDir           string
	KapsoAPIBaseURL    string
	AppSuccessURL      string
	AppFailureURL      string
	PublicBaseURL      string
	LogLevel           string
	LogRetentionDays   int
	ReconcileSchedule  string
	APIThrottleRate    float64
	APIThrottleBurst   int
	ReserveConcurrency bool
}

// setting describes one context key: its environment fallback and default.
type setting struct {
	Key, Env, Default string
	Required          bool
}

// settingTable lists every setting once; docs/deploy.md documents the same list.
var settingTable = []setting{
	{Key: "stackName", Env: "STACK_NAME", Default: "KapsoBridge"},
	{Key: "assetDir", Env: "ASSET_DIR", Default: "build/lambda"},
	{Key: "kapsoApiBaseUrl", Env: "KAPSO_API_BASE_URL", Default: "https://api.kapso.ai/platform/v1"},
	{Key: "appSuccessUrl", Env: "APP_SUCCESS_URL", Required: true},
	{Key: "appFailureUrl", Env: "APP_FAILURE_URL", Required: true},
	{Key: "publicBaseUrl", Env: "PUBLIC_BASE_URL"},
	{Key: "logLevel", Env: "LOG_LEVEL", Default: "INFO"},
	{Key: "logRetentionDays", Env: "LOG_RETENTION_DAYS", Default: "30"},
	{Key: "reconcileSchedule", Env: "RECONCILE_SCHEDULE", Default: "rate(15 minutes)"},
	{Key: "apiThrottleRate", Env: "API_THROTTLE_RATE", Default: "50"},
	{Key: "apiThrottleBurst", Env: "API_THROTTLE_BURST", Default: "100"},
	{Key: "reserveConcurrency", Env: "RESERVE_CONCURRENCY", Default: "true"},
}

// Lambda's accepted application log levels.
var logLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// retentionDays maps the retention periods CloudWatch Logs accepts to the CDK's names.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// LoadSettings reads every setting through lookup (CDK context) and getenv,
// applies defaults and reports all problems at once, so one failed synth tells
// the operator everything that is missing.
func LoadSettings(lookup func(key string) (string, bool), getenv func(string) string) (Settings, error) {
	raw := map[string]string{}
	var problems []string
	for _, s := range settingTable {
		v, ok := lookup(s.Key)
		if !ok || v == "" {
			v = getenv(s.Env)
		}
		if v == "" {
			v = s.Default
		}
		if v == "" && s.Required {
			problems = append(problems, fmt.Sprintf("%s is required: pass -c %s=... or set %s", s.Key, s.Key, s.Env))
		}
		raw[s.Key] = strings.TrimSpace(v)
	}
	s := Settings{
		StackName:         raw["stackName"],
		AssetDir:          raw["assetDir"],
		KapsoAPIBaseURL:   strings.TrimSuffix(raw["kapsoApiBaseUrl"], "/"),
		AppSuccessURL:     raw["appSuccessUrl"],
		AppFailureURL:     raw["appFailureUrl"],
		PublicBaseURL:     strings.TrimSuffix(raw["publicBaseUrl"], "/"),
		LogLevel:          strings.ToUpper(raw["logLevel"]),
		ReconcileSchedule: raw["reconcileSchedule"],
	}
	// Kapso and the public endpoint carry secrets and signatures: https only.
	// The app's own pages may be plain http while the SaaS is being developed.
	for _, key := range []string{"kapsoApiBaseUrl", "publicBaseUrl", "appSuccessUrl", "appFailureUrl"} {
		schemes := []string{"https"}
		if strings.HasPrefix(key, "app") {
			schemes = append(schemes, "http")
		}
		if v := raw[key]; v != "" && !isAbsoluteURL(v, schemes...) {
			problems = append(problems, fmt.Sprintf("%s must be an absolute %s URL, got %q", key, strings.Join(schemes, " or "), v))
		}
	}
	if !slices.Contains(logLevels, s.LogLevel) {
		problems = append(problems, fmt.Sprintf("logLevel must be one of %v, got %q", logLevels, raw["logLevel"]))
	}
	var err error
	if s.LogRetentionDays, err = strconv.Atoi(raw["logRetentionDays"]); err != nil || retentionDays[s.LogRetentionDays] == "" {
		problems = append(problems, fmt.Sprintf("logRetentionDays must be one of %v, got %q", slices.Sorted(maps.Keys(retentionDays)), raw["logRetentionDays"]))
	}
	if !strings.HasPrefix(s.ReconcileSchedule, "rate(") && !strings.HasPrefix(s.ReconcileSchedule, "cron(") {
		problems = append(problems, fmt.Sprintf("reconcileSchedule must be a rate(...) or cron(...) expression, got %q", s.ReconcileSchedule))
	}
	if s.APIThrottleRate, err = strconv.ParseFloat(raw["apiThrottleRate"], 64); err != nil || s.APIThrottleRate <= 0 {
		problems = append(problems, fmt.Sprintf("apiThrottleRate must be a positive number, got %q", raw["apiThrottleRate"]))
	}
	if s.APIThrottleBurst, err = strconv.Atoi(raw["apiThrottleBurst"]); err != nil || s.APIThrottleBurst <= 0 {
		problems = append(problems, fmt.Sprintf("apiThrottleBurst must be a positive integer, got %q", raw["apiThrottleBurst"]))
	}
	if s.ReserveConcurrency, err = strconv.ParseBool(raw["reserveConcurrency"]); err != nil {
		problems = append(problems, fmt.Sprintf("reserveConcurrency must be true or false, got %q", raw["reserveConcurrency"]))
	}
	if len(problems) > 0 {
		return Settings{}, fmt.Errorf("invalid kapso-bridge settings:\n  %s", strings.Join(problems, "\n  "))
	}
	return s, nil
}

// contextLookup adapts a construct node's context, which holds strings from
// `-c` but JSON numbers and booleans from cdk.json.
func contextLookup(get func(key string) any) func(string) (string, bool) {
	return func(key string) (string, bool) {
		switch v := get(key).(type) {
		case nil:
			return "", false
		case string:
			return v, true
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), true
		default:
			return fmt.Sprint(v), true
		}
	}
}

func isAbsoluteURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	return err == nil && slices.Contains(schemes, u.Scheme) && u.Host != ""
}
