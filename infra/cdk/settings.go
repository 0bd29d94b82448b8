package main

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/kapso-bridge/kapso-bridge/shared/config"
	"github.com/kapso-bridge/kapso-bridge/shared/s3media"
)

// Settings are the deployment's knobs: the settings of shared/config that
// have a CDK context key. Each comes from CDK context (`-c key=value` or
// cdk.json) and, failing that, from the setting's environment variable, so
// `make deploy APP_SUCCESS_URL=...` works as well as `-c`.
type Settings struct {
	StackName         string
	AssetDir          string
	KapsoAPIBaseURL   string
	AppSuccessURL     string
	AppFailureURL     string
	PublicBaseURL     string
	LogLevel          string
	LogRetentionDays  int
	ReconcileSchedule string
	APIThrottleRate   float64
	APIThrottleBurst  int
	// The webhook and redirect routes' own throttle.
	WebhookThrottleRate  float64
	WebhookThrottleBurst int
	// APIIAMAuth puts an IAM authorizer on the /v1 routes.
	APIIAMAuth         bool
	ReserveConcurrency bool
	// The reconciler's Kapso budget per run and pace per minute.
	ReconcileKapsoCalls     int
	ReconcileKapsoPerMinute int
	// The sender's Kapso Meta proxy and its pace per number, per second.
	KapsoMetaBaseURL  string
	SendRatePerNumber int
	// How long the reconciler looks for a send of unknown outcome in
	// Kapso's records before it fails it as unconfirmed.
	OutboundUnconfirmedAfter time.Duration
	// How long a media URL the API hands out works.
	MediaURLTTL time.Duration
	// How old a WABA's reading of its templates may be before the
	// reconciler reads them again.
	TemplateSyncInterval time.Duration
	// The SaaS's endpoint the eventwebhooks function POSTs every event to;
	// empty: the function and its queue's subscription are not built.
	EventsWebhookURL string
	// How many days the feed keeps each event.
	EventsRetentionDays int
	// How many days the media bucket keeps each object; 0: for ever.
	MediaRetentionDays int
	// How many days a tenant's messages, conversations and contacts are
	// kept; 0: for ever. The media bucket keeps no object longer.
	MessageRetentionDays int
}

// suppliedByStack are settings a deploy may leave out although the
// functions need them: the stack has a value of its own (the public base
// URL is the API's endpoint).
var suppliedByStack = []string{config.PublicBaseURL.Name}

// optionalAtDeploy are settings without a default that a deploy may leave
// out. A SaaS may take its events from the topic or the feed alone, and
// then sends no webhooks: a function needing such a setting is built only
// with it (its OnlyWith). Without a media retention the bucket keeps every
// object; without a message retention nothing of the messaging expires.
var optionalAtDeploy = []string{config.EventsWebhookURL.Name, config.MediaRetentionDays.Name, config.MessageRetentionDays.Name}

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
	for _, st := range config.Settings {
		if st.Context == "" {
			continue
		}
		v, ok := lookup(st.Context)
		if !ok || v == "" {
			v = getenv(st.Name)
		}
		if v == "" {
			v = st.Default
		}
		if v == "" && st.Required() && !slices.Contains(suppliedByStack, st.Name) && !slices.Contains(optionalAtDeploy, st.Name) {
			problems = append(problems, fmt.Sprintf("%s is required: pass -c %s=... or set %s", st.Context, st.Context, st.Name))
		}
		raw[st.Context] = strings.TrimSpace(v)
	}
	s := Settings{
		StackName:         raw[config.StackName.Context],
		AssetDir:          raw[config.AssetDir.Context],
		KapsoAPIBaseURL:   strings.TrimSuffix(raw[config.KapsoAPIBaseURL.Context], "/"),
		KapsoMetaBaseURL:  strings.TrimSuffix(raw[config.KapsoMetaBaseURL.Context], "/"),
		AppSuccessURL:     raw[config.AppSuccessURL.Context],
		AppFailureURL:     raw[config.AppFailureURL.Context],
		PublicBaseURL:     strings.TrimSuffix(raw[config.PublicBaseURL.Context], "/"),
		LogLevel:          strings.ToUpper(raw[config.LogLevel.Context]),
		ReconcileSchedule: raw[config.ReconcileSchedule.Context],
		EventsWebhookURL:  raw[config.EventsWebhookURL.Context],
	}
	// Kapso and the public endpoint carry secrets and signatures: https only.
	// The app's own pages may be plain http while the SaaS is being developed.
	for _, u := range []struct {
		key     string
		schemes []string
	}{
		{config.KapsoAPIBaseURL.Context, []string{"https"}},
		{config.KapsoMetaBaseURL.Context, []string{"https"}},
		{config.PublicBaseURL.Context, []string{"https"}},
		{config.EventsWebhookURL.Context, []string{"https"}},
		{config.AppSuccessURL.Context, []string{"https", "http"}},
		{config.AppFailureURL.Context, []string{"https", "http"}},
	} {
		if v := raw[u.key]; v != "" && !isAbsoluteURL(v, u.schemes...) {
			problems = append(problems, fmt.Sprintf("%s must be an absolute %s URL, got %q", u.key, strings.Join(u.schemes, " or "), v))
		}
	}
	if !slices.Contains(logLevels, s.LogLevel) {
		problems = append(problems, fmt.Sprintf("%s must be one of %v, got %q", config.LogLevel.Context, logLevels, raw[config.LogLevel.Context]))
	}
	var err error
	if s.LogRetentionDays, err = strconv.Atoi(raw[config.LogRetentionDays.Context]); err != nil || retentionDays[s.LogRetentionDays] == "" {
		problems = append(problems, fmt.Sprintf("%s must be one of %v, got %q", config.LogRetentionDays.Context, slices.Sorted(maps.Keys(retentionDays)), raw[config.LogRetentionDays.Context]))
	}
	if !strings.HasPrefix(s.ReconcileSchedule, "rate(") && !strings.HasPrefix(s.ReconcileSchedule, "cron(") {
		problems = append(problems, fmt.Sprintf("%s must be a rate(...) or cron(...) expression, got %q",
			config.ReconcileSchedule.Context, s.ReconcileSchedule))
	}
	if s.APIThrottleRate, err = strconv.ParseFloat(raw[config.APIThrottleRate.Context], 64); err != nil || s.APIThrottleRate <= 0 {
		problems = append(problems, fmt.Sprintf("%s must be a positive number, got %q", config.APIThrottleRate.Context, raw[config.APIThrottleRate.Context]))
	}
	if s.APIThrottleBurst, err = strconv.Atoi(raw[config.APIThrottleBurst.Context]); err != nil || s.APIThrottleBurst <= 0 {
		problems = append(problems, fmt.Sprintf("%s must be a positive integer, got %q", config.APIThrottleBurst.Context, raw[config.APIThrottleBurst.Context]))
	}
	if s.WebhookThrottleRate, err = strconv.ParseFloat(raw[config.WebhookThrottleRate.Context], 64); err != nil || s.WebhookThrottleRate <= 0 {
		problems = append(problems, fmt.Sprintf("%s must be a positive number, got %q", config.WebhookThrottleRate.Context, raw[config.WebhookThrottleRate.Context]))
	}
	if s.WebhookThrottleBurst, err = strconv.Atoi(raw[config.WebhookThrottleBurst.Context]); err != nil || s.WebhookThrottleBurst <= 0 {
		problems = append(problems, fmt.Sprintf("%s must be a positive integer, got %q", config.WebhookThrottleBurst.Context, raw[config.WebhookThrottleBurst.Context]))
	}
	if s.APIIAMAuth, err = strconv.ParseBool(raw[config.APIIAMAuth.Context]); err != nil {
		problems = append(problems, fmt.Sprintf("%s must be true or false, got %q", config.APIIAMAuth.Context, raw[config.APIIAMAuth.Context]))
	}
	if s.ReserveConcurrency, err = strconv.ParseBool(raw[config.ReserveConcurrency.Context]); err != nil {
		problems = append(problems, fmt.Sprintf("%s must be true or false, got %q", config.ReserveConcurrency.Context, raw[config.ReserveConcurrency.Context]))
	}
	for _, n := range []struct {
		setting config.Setting
		to      *int
	}{{config.ReconcileKapsoCalls, &s.ReconcileKapsoCalls}, {config.ReconcileKapsoPerMinute, &s.ReconcileKapsoPerMinute},
		{config.SendRatePerNumber, &s.SendRatePerNumber}, {config.EventsRetentionDays, &s.EventsRetentionDays}} {
		if *n.to, err = strconv.Atoi(raw[n.setting.Context]); err != nil || *n.to <= 0 {
			problems = append(problems, fmt.Sprintf("%s must be a positive integer, got %q", n.setting.Context, raw[n.setting.Context]))
		}
	}
	// Unset keeps every object (every message); S3 expires objects after
	// whole days, DynamoDB's TTL is counted in whole days here too.
	for _, n := range []struct {
		setting config.Setting
		to      *int
		what    string
	}{{config.MediaRetentionDays, &s.MediaRetentionDays, "object"}, {config.MessageRetentionDays, &s.MessageRetentionDays, "message"}} {
		if v := raw[n.setting.Context]; v != "" {
			if *n.to, err = strconv.Atoi(v); err != nil || *n.to <= 0 {
				problems = append(problems, fmt.Sprintf("%s must be a positive integer, or unset to keep every %s, got %q",
					n.setting.Context, n.what, v))
			}
		}
	}
	// The reconciler parses it as a Go duration and refuses any but a positive one.
	if s.OutboundUnconfirmedAfter, err = time.ParseDuration(raw[config.OutboundUnconfirmedAfter.Context]); err != nil ||
		s.OutboundUnconfirmedAfter <= 0 {
		problems = append(problems, fmt.Sprintf("%s must be a positive Go duration (90m, 2h), got %q",
			config.OutboundUnconfirmedAfter.Context, raw[config.OutboundUnconfirmedAfter.Context]))
	}
	// Read again at most once a run; shorter than a minute would only ask
	// Kapso more often than any run can.
	if s.TemplateSyncInterval, err = time.ParseDuration(raw[config.TemplateSyncInterval.Context]); err != nil ||
		s.TemplateSyncInterval < time.Minute {
		problems = append(problems, fmt.Sprintf("%s must be a Go duration of a minute or more (30m, 1h), got %q",
			config.TemplateSyncInterval.Context, raw[config.TemplateSyncInterval.Context]))
	}
	// A presigned URL also dies with the function's temporary credentials,
	// which last hours, so a longer TTL would promise what S3 does not keep.
	if s.MediaURLTTL, err = time.ParseDuration(raw[config.MediaURLTTL.Context]); err != nil ||
		s.MediaURLTTL <= 0 || s.MediaURLTTL > s3media.MaxReadRoleURLTTL {
		// A URL is signed with a session of the media read role, which
		// lasts an hour at most (role chaining) and must outlast it.
		problems = append(problems, fmt.Sprintf("%s must be a Go duration from 1s to 45m (15m, 30m), got %q",
			config.MediaURLTTL.Context, raw[config.MediaURLTTL.Context]))
	}
	if len(problems) > 0 {
		return Settings{}, fmt.Errorf("invalid kapso-bridge settings:\n  %s", strings.Join(problems, "\n  "))
	}
	return s, nil
}

// addSettings gives the functions reading them the deploy settings' values.
// The public base URL is the API's endpoint unless publicBaseUrl is set.
func (b *bridge) addSettings() {
	b.values[config.PublicBaseURL.Name] = b.baseURL
	b.values[config.KapsoAPIBaseURL.Name] = jsii.String(b.settings.KapsoAPIBaseURL)
	b.values[config.AppSuccessURL.Name] = jsii.String(b.settings.AppSuccessURL)
	b.values[config.AppFailureURL.Name] = jsii.String(b.settings.AppFailureURL)
	b.values[config.LogLevel.Name] = jsii.String(b.settings.LogLevel)
	b.values[config.ReconcileKapsoCalls.Name] = jsii.String(strconv.Itoa(b.settings.ReconcileKapsoCalls))
	b.values[config.ReconcileKapsoPerMinute.Name] = jsii.String(strconv.Itoa(b.settings.ReconcileKapsoPerMinute))
	b.values[config.KapsoMetaBaseURL.Name] = jsii.String(b.settings.KapsoMetaBaseURL)
	b.values[config.SendRatePerNumber.Name] = jsii.String(strconv.Itoa(b.settings.SendRatePerNumber))
	b.values[config.OutboundUnconfirmedAfter.Name] = jsii.String(formatDuration(b.settings.OutboundUnconfirmedAfter))
	b.values[config.MediaURLTTL.Name] = jsii.String(formatDuration(b.settings.MediaURLTTL))
	b.values[config.TemplateSyncInterval.Name] = jsii.String(formatDuration(b.settings.TemplateSyncInterval))
	b.values[config.EventsWebhookURL.Name] = jsii.String(b.settings.EventsWebhookURL)
	b.values[config.EventsRetentionDays.Name] = jsii.String(strconv.Itoa(b.settings.EventsRetentionDays))
	// Blank is unset: the functions keep everything.
	retention := ""
	if b.settings.MessageRetentionDays > 0 {
		retention = strconv.Itoa(b.settings.MessageRetentionDays)
	}
	b.values[config.MessageRetentionDays.Name] = jsii.String(retention)
}

// formatDuration writes d as a Go duration without its zero tail: 1h, not 1h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
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
